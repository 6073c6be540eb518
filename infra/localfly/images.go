package localfly

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	fly "github.com/superfly/fly-go"
)

// resolvedImage is an image name turned into something runnable.
type resolvedImage struct {
	binary string
	ref    fly.MachineImageRef
}

// resolveImage finds the binary for image: by the full name first, then
// without its tag or digest. Unknown images are a 422, which, like Fly's
// failed manifest lookup, retrying will not fix.
func (s *Server) resolveImage(image string) (resolvedImage, error) {
	if image == "" {
		return resolvedImage{}, errorf(http.StatusBadRequest, "invalid config.image: an image is required")
	}
	ref := parseImageRef(image)
	bin, ok := s.images[image]
	if !ok {
		bin, ok = s.images[ref.nameOnly()]
	}
	if !ok {
		return resolvedImage{}, errorf(http.StatusUnprocessableEntity,
			"failed to get manifest for image %q: image not found (localfly has no binary for it; see --image)", image)
	}
	digest, err := fileDigest(bin)
	if err != nil {
		return resolvedImage{}, errorf(http.StatusUnprocessableEntity, "image %q: %v", image, err)
	}
	ref.Digest = digest
	return resolvedImage{binary: bin, ref: ref.MachineImageRef}, nil
}

type imageRef struct{ fly.MachineImageRef }

func (r imageRef) nameOnly() string {
	if r.Registry == "" {
		return r.Repository
	}
	return r.Registry + "/" + r.Repository
}

// parseImageRef splits "registry/repository:tag@digest" the way Docker does:
// the first segment is a registry only if it looks like a host.
func parseImageRef(image string) imageRef {
	var ref fly.MachineImageRef
	rest := image
	if i := strings.Index(rest, "@"); i >= 0 {
		ref.Digest, rest = rest[i+1:], rest[:i]
	}
	if i := strings.LastIndex(rest, ":"); i > strings.LastIndex(rest, "/") {
		ref.Tag, rest = rest[i+1:], rest[:i]
	}
	if first, after, ok := strings.Cut(rest, "/"); ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		ref.Registry, rest = first, after
	}
	ref.Repository = rest
	if ref.Tag == "" && ref.Digest == "" {
		ref.Tag = "latest"
	}
	return imageRef{ref}
}

// fileDigest stands in for the image digest: it changes when the binary is
// rebuilt, as a digest changes when an image is pushed.
func fileDigest(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("open binary: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read binary: %w", err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}
