package switchboard

import (
	"context"
	"io"
	"time"
)

// BlobStore is the object store artifacts and the token registry live in
// (S3 or any S3-compatible store; see blob/).
type BlobStore interface {
	// Put writes an object and returns its ETag.
	Put(ctx context.Context, key string, body []byte, contentType string) (etag string, err error)
	// Get reads an object. With ifNoneMatch set and unchanged, it returns
	// ErrNotModified. A missing object is an ENOTFOUND *Error.
	Get(ctx context.Context, key, ifNoneMatch string) (*Blob, error)
	// Delete removes an object; a missing one is not an error.
	Delete(ctx context.Context, key string) error
	// List returns up to limit keys under prefix that sort after startAfter.
	List(ctx context.Context, prefix, startAfter string, limit int) ([]string, error)
}

// Blob is an object read from a BlobStore.
type Blob struct {
	Body         []byte
	ETag         string
	LastModified time.Time
}

// ErrNotModified is returned by BlobStore.Get for a matching If-None-Match.
var ErrNotModified = &Error{Code: EPRECONDITION, Message: "not modified"}

// Object keys. Artifacts are immutable per version; latest.pb is replaced on
// each publish; changes/ is the feed CDN replicas poll with StartAfter.
func ArtifactKey(instanceID string, version int64) string {
	return ArtifactPrefix(instanceID) + padVersion(version) + ".pb"
}

// ArtifactPrefix is the prefix of every object of an instance's artifacts.
func ArtifactPrefix(instanceID string) string { return "artifacts/" + instanceID + "/" }

// LatestArtifactKey is the object a CDN serves for an instance.
func LatestArtifactKey(instanceID string) string { return ArtifactPrefix(instanceID) + "latest.pb" }

// TokenRegistryKey is the registry object for a data-plane token id.
func TokenRegistryKey(tokenID string) string { return "tokens/" + tokenID + ".json" }

// ChangeKey is the change-feed object for a publish sequence number; its body
// is the instance id.
func ChangeKey(sequence int64) string { return "changes/" + padVersion(sequence) }

// ChangePrefix is the prefix of the change feed.
const ChangePrefix = "changes/"

func padVersion(n int64) string {
	const width = 20
	s := []byte("00000000000000000000")
	for i := width - 1; i >= 0 && n > 0; i-- {
		s[i] = byte('0' + n%10)
		n /= 10
	}
	return string(s)
}

// TokenRegistryEntry is the JSON stored at TokenRegistryKey: hashes only.
type TokenRegistryEntry struct {
	TokenID    string `json:"token_id"`
	InstanceID string `json:"instance_id"`
	// SHA256 is the hex SHA-256 of the whole token.
	SHA256 string `json:"sha256"`
}

// ArtifactContentType is the media type of served artifacts.
const ArtifactContentType = "application/vnd.switchboard.artifact.v1+protobuf"

// ReadAllLimit reads at most limit bytes from r and reports whether r held more.
func ReadAllLimit(r io.Reader, limit int64) ([]byte, bool, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, false, err
	}
	if int64(len(b)) > limit {
		return b[:limit], true, nil
	}
	return b, false, nil
}
