package localfly

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"time"
)

// newMachineID returns 14 lowercase hex characters, the shape of Fly machine
// ids (e.g. "e784079b449483").
func newMachineID() string { return randomHex(7) }

// newNonce returns a lease nonce; Fly's are 32 hex characters.
func newNonce() string { return randomHex(16) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}

// crockford is the ULID alphabet.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// newULID returns a 26-character ULID, the shape of Fly's instance_id and
// event ids: 48 bits of milliseconds then 80 random bits.
func newULID(now time.Time) string {
	var b [16]byte
	ms := uint64(now.UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	_, _ = rand.Read(b[6:])
	n := new(big.Int).SetBytes(b[:])
	out := make([]byte, 26)
	base := big.NewInt(32)
	mod := new(big.Int)
	for i := 25; i >= 0; i-- {
		n.DivMod(n, base, mod)
		out[i] = crockford[mod.Int64()]
	}
	return string(out)
}

// newPrivateIP returns a fake 6PN address; nothing listens on it.
func newPrivateIP() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return fmt.Sprintf("fdaa:0:%x:a7b:%x:%x:%x:2", uint16(b[0])<<8|uint16(b[1]), b[2], uint16(b[3])<<8|uint16(b[4]), b[5])
}

var nameAdjectives = []string{"young", "quiet", "bold", "calm", "eager", "fancy", "lively", "proud", "silent", "wild"}
var nameNouns = []string{"glitter", "river", "meadow", "forest", "sun", "thunder", "wave", "field", "cloud", "smoke"}

// newMachineName returns a generated name in Fly's "adjective-noun-1234"
// style, used when the create request has none.
func newMachineName() string {
	r := make([]byte, 4)
	_, _ = rand.Read(r)
	return fmt.Sprintf("%s-%s-%04d", nameAdjectives[int(r[0])%len(nameAdjectives)], nameNouns[int(r[1])%len(nameNouns)], (int(r[2])<<8|int(r[3]))%10000)
}
