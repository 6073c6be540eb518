package switchboard

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"strings"
	"time"
)

// Id prefixes: a person can tell ids apart at a glance.
const (
	PrefixUser           = "usr"
	PrefixOrganization   = "org"
	PrefixAPIKey         = "key"
	PrefixSession        = "ses"
	PrefixInstance       = "ins"
	PrefixDataPlaneToken = "dpt"
	PrefixAuditEvent     = "aud"
)

// idEncoding is lower-case Crockford-style base32 without padding; its
// alphabet sorts in byte order, so ids sort by creation time.
var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

const idBodyLen = 26 // 16 bytes in base32

// NewID returns prefix_ followed by 48 bits of milliseconds and 80 random bits,
// so ids are unique, unguessable enough to be harmless and sortable by time.
func NewID(prefix string, now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	_, _ = rand.Read(b[6:])
	return prefix + "_" + idEncoding.EncodeToString(b[:])
}

// ValidID reports whether id is a well-formed id with the prefix.
func ValidID(prefix, id string) bool {
	body, ok := strings.CutPrefix(id, prefix+"_")
	if !ok || len(body) != idBodyLen {
		return false
	}
	_, err := idEncoding.DecodeString(body)
	return err == nil
}

// CheckID adds a violation for field unless id is a valid id with prefix.
func (v *Violations) CheckID(field, prefix, id string) {
	switch {
	case id == "":
		v.Add(field, "is required")
	case !ValidID(prefix, id):
		v.Addf(field, "must be a %s_… id", prefix)
	}
}
