// Package password hashes passwords with argon2id (RFC 9106) in the PHC
// string format, so parameters can change without breaking old hashes.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Hasher implements switchboard.PasswordHasher.
type Hasher struct {
	// Memory in KiB, Time iterations, Threads lanes.
	Memory  uint32
	Time    uint32
	Threads uint8
}

// Default follows RFC 9106's second recommended option (64 MiB, 3 passes).
var Default = Hasher{Memory: 64 * 1024, Time: 3, Threads: 2}

// Fast is for tests only: same algorithm, small cost.
var Fast = Hasher{Memory: 1024, Time: 1, Threads: 1}

const keyLen = 32

// Hash returns a PHC-formatted argon2id hash with a random salt.
func (h Hasher) Hash(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, h.Time, h.Memory, h.Threads, keyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, h.Memory, h.Time, h.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

var errFormat = errors.New("password hash: unrecognised format")

// Verify checks password against an encoded hash in constant time, using the
// parameters stored in the hash.
func (Hasher) Verify(password, encoded string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errFormat
	}
	var version int
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errFormat
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false, errFormat
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false, errFormat
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil {
		return false, errFormat
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
