package configsync

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// cache is the on-disk state of one instance: the last good artifact and,
// in a file of its own, the highest version ever applied. They are separate
// so that putting an older artifact file back cannot lower the version a
// new artifact must beat.
type cache struct {
	dir        string
	instanceID string
}

const (
	artifactFile = "artifact.pb"
	highestFile  = "highest_version"
)

func (c *cache) path(name string) string { return filepath.Join(c.dir, c.instanceID, name) }

func (c *cache) ensure() error {
	if err := os.MkdirAll(filepath.Join(c.dir, c.instanceID), 0o700); err != nil {
		return fmt.Errorf("create cache directory: %w", err)
	}
	return nil
}

// readArtifact returns the cached envelope bytes, reading at most limit+1
// bytes so a huge file cannot exhaust memory (Verify rejects it as too
// large). A missing file is an os.ErrNotExist error.
func (c *cache) readArtifact(limit int) ([]byte, error) {
	f, err := os.Open(c.path(artifactFile))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, int64(limit)+1))
}

func (c *cache) writeArtifact(b []byte) error { return writeAtomic(c.path(artifactFile), b) }

func (c *cache) discardArtifact() error {
	if err := os.Remove(c.path(artifactFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// readHighest returns the persisted highest applied version; a missing file
// is 0 with no error.
func (c *cache) readHighest() (int64, error) {
	b, err := os.ReadFile(c.path(highestFile))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%s holds %q, not a version", highestFile, b)
	}
	return v, nil
}

func (c *cache) writeHighest(v int64) error {
	return writeAtomic(c.path(highestFile), []byte(strconv.FormatInt(v, 10)+"\n"))
}

// writeAtomic replaces path with b so that a crash leaves either the old or
// the new content: write a temporary file in the same directory, fsync it,
// rename it over path, fsync the directory.
func writeAtomic(path string, b []byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(b); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("fsync %s: %w", tmp.Name(), err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp.Name(), err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename into %s: %w", path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer d.Close()
	if err = d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}
