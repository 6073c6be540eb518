package switchboard

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"strings"
)

// Secret token kinds. A token is `sb_<kind>_<id body>_<secret>`: the id finds
// the stored hash in one lookup, the secret (256 random bits) is compared
// with it in constant time. Only the SHA-256 of the whole token is stored.
const (
	TokenSession   = "sess"
	TokenAPIKey    = "key"
	TokenDataPlane = "dp"
)

var tokenIDPrefix = map[string]string{
	TokenSession:   PrefixSession,
	TokenAPIKey:    PrefixAPIKey,
	TokenDataPlane: PrefixDataPlaneToken,
}

// NewToken returns a fresh secret token for the record id (e.g. `key_…`).
func NewToken(kind, id string) string {
	var secret [32]byte
	_, _ = rand.Read(secret[:])
	_, body, _ := strings.Cut(id, "_")
	return "sb_" + kind + "_" + body + "_" + idEncoding.EncodeToString(secret[:])
}

// ParsedToken is a token split into its parts.
type ParsedToken struct {
	Kind string
	// ID is the record's typed id, e.g. `key_…`.
	ID   string
	Hash [32]byte
}

// ParseToken splits a token. ok is false for anything malformed.
func ParseToken(token string) (p ParsedToken, ok bool) {
	rest, found := strings.CutPrefix(token, "sb_")
	if !found || len(token) > 200 {
		return p, false
	}
	kind, rest, found := strings.Cut(rest, "_")
	if !found {
		return p, false
	}
	idPrefix, known := tokenIDPrefix[kind]
	if !known {
		return p, false
	}
	body, secret, found := strings.Cut(rest, "_")
	if !found || len(secret) != 52 {
		return p, false
	}
	if _, err := idEncoding.DecodeString(secret); err != nil {
		return p, false
	}
	id := idPrefix + "_" + body
	if !ValidID(idPrefix, id) {
		return p, false
	}
	return ParsedToken{Kind: kind, ID: id, Hash: HashToken(token)}, true
}

// HashToken is what is stored for a token.
func HashToken(token string) [32]byte { return sha256.Sum256([]byte(token)) }

// TokenMatches compares a presented token's hash with the stored one in
// constant time.
func TokenMatches(presented [32]byte, stored []byte) bool {
	return len(stored) == 32 && subtle.ConstantTimeCompare(presented[:], stored) == 1
}

// TokenPrefix is the part of a token safe to show in listings.
func TokenPrefix(token string) string {
	if len(token) < 16 {
		return token
	}
	return token[:16]
}
