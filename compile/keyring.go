package compile

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	artifactv1 "github.com/switchboardhq/switchboard/gen/switchboard/artifact/v1"
)

// Key ids name Ed25519 keys in envelopes, keyrings and trusted-key lists.
// A key id is the first 16 hex characters (64 bits) of the SHA-256 of the
// 32-byte public key: short enough to read in a log line, derived from the
// key so it cannot be mislabelled, and checked whenever a key is parsed.
// It only selects a key; the signature is what proves anything.

// KeyID returns the id of an Ed25519 public key.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// GenerateKey returns a new random Ed25519 signing key.
func GenerateKey() (ed25519.PrivateKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate ed25519 key: %w", err)
	}
	return priv, nil
}

// Keyring holds the control plane's signing keys: the current key, which
// signs, and previous keys, kept so their public halves stay in
// TrustedKeys while data planes move over. A rotation is: add the new key's
// public half to what data planes trust, make it current here, later drop
// the old one. A Keyring is immutable and safe for concurrent use.
type Keyring struct {
	keys []signingKey // keys[0] is current
}

type signingKey struct {
	id   string
	priv ed25519.PrivateKey
}

// NewKeyring returns a keyring that signs with current and also lists
// previous keys. Keys must be distinct.
func NewKeyring(current ed25519.PrivateKey, previous ...ed25519.PrivateKey) (*Keyring, error) {
	k := &Keyring{}
	for i, priv := range append([]ed25519.PrivateKey{current}, previous...) {
		if len(priv) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("keyring key %d: want a %d-byte ed25519 private key, got %d bytes", i, ed25519.PrivateKeySize, len(priv))
		}
		id := KeyID(priv.Public().(ed25519.PublicKey))
		if slices.ContainsFunc(k.keys, func(s signingKey) bool { return s.id == id }) {
			return nil, fmt.Errorf("keyring key %d: key %s is listed twice", i, id)
		}
		k.keys = append(k.keys, signingKey{id: id, priv: slices.Clone(priv)})
	}
	return k, nil
}

// KeyID returns the id of the current key.
func (k *Keyring) KeyID() string { return k.keys[0].id }

// Sign signs payload (a serialized artifactv1.Payload, from Compile) with the
// current key.
func (k *Keyring) Sign(payload []byte) *artifactv1.Envelope {
	cur := k.keys[0]
	return &artifactv1.Envelope{
		Payload:   payload,
		KeyId:     cur.id,
		Signature: ed25519.Sign(cur.priv, payload),
	}
}

// TrustedKeys returns the public keys of every key in the keyring, what a
// data plane should trust.
func (k *Keyring) TrustedKeys() TrustedKeys {
	t := make(TrustedKeys, len(k.keys))
	for _, s := range k.keys {
		t[s.id] = s.priv.Public().(ed25519.PublicKey)
	}
	return t
}

// String names the keys without revealing them.
func (k *Keyring) String() string {
	ids := make([]string, len(k.keys))
	for i, s := range k.keys {
		ids[i] = s.id
	}
	return "Keyring(" + strings.Join(ids, ",") + ")"
}

// GoString keeps %#v from printing private keys.
func (k *Keyring) GoString() string { return k.String() }

// Encode returns the keyring's text form, for a file or an environment
// variable: one `keyid:base64(seed)` line per key, current key first, where
// seed is the 32-byte Ed25519 private key seed in standard base64. It is a
// secret. (Keyring deliberately does not implement encoding.TextMarshaler,
// so it never ends up in JSON or logs by accident.)
func (k *Keyring) Encode() string {
	var b strings.Builder
	for _, s := range k.keys {
		b.WriteString(s.id)
		b.WriteByte(':')
		b.WriteString(base64.StdEncoding.EncodeToString(s.priv.Seed()))
		b.WriteByte('\n')
	}
	return b.String()
}

// ParseKeyring parses the text form written by Encode. Entries may be
// separated by newlines or commas (handy in an environment variable);
// blank lines and lines starting with '#' are ignored. The first entry is
// the current key. Each key id must match its key.
func ParseKeyring(s string) (*Keyring, error) {
	var keys []ed25519.PrivateKey
	for i, entry := range entries(s) {
		id, enc, ok := strings.Cut(entry, ":")
		if !ok {
			return nil, fmt.Errorf("keyring entry %d: want keyid:base64seed", i+1)
		}
		seed, err := decodeBase64(enc)
		if err != nil || len(seed) != ed25519.SeedSize {
			return nil, fmt.Errorf("keyring entry %d (%s): want a base64 %d-byte ed25519 seed", i+1, id, ed25519.SeedSize)
		}
		priv := ed25519.NewKeyFromSeed(seed)
		if want := KeyID(priv.Public().(ed25519.PublicKey)); id != want {
			return nil, fmt.Errorf("keyring entry %d: key id %q does not match its key (%s)", i+1, id, want)
		}
		keys = append(keys, priv)
	}
	if len(keys) == 0 {
		return nil, errors.New("keyring has no keys")
	}
	return NewKeyring(keys[0], keys[1:]...)
}

// TrustedKeys are the Ed25519 public keys a data plane accepts artifacts
// from, by key id.
type TrustedKeys map[string]ed25519.PublicKey

// NewTrustedKeys returns TrustedKeys holding pubs.
func NewTrustedKeys(pubs ...ed25519.PublicKey) TrustedKeys {
	t := make(TrustedKeys, len(pubs))
	for _, p := range pubs {
		t[KeyID(p)] = slices.Clone(p)
	}
	return t
}

// String returns the text form ParseTrustedKeys reads:
// `keyid:base64(public key),keyid:base64(public key)`, sorted by key id. It
// is public, so it can go anywhere, for example SWITCHBOARD_TRUSTED_KEYS.
func (t TrustedKeys) String() string {
	ids := make([]string, 0, len(t))
	for id := range t {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for i, id := range ids {
		ids[i] = id + ":" + base64.StdEncoding.EncodeToString(t[id])
	}
	return strings.Join(ids, ",")
}

// ParseTrustedKeys parses the form String writes. Entries may be separated
// by commas or newlines; each key id must match its key.
func ParseTrustedKeys(s string) (TrustedKeys, error) {
	t := TrustedKeys{}
	for i, entry := range entries(s) {
		id, enc, ok := strings.Cut(entry, ":")
		if !ok {
			return nil, fmt.Errorf("trusted key %d: want keyid:base64key", i+1)
		}
		pub, err := decodeBase64(enc)
		if err != nil || len(pub) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("trusted key %d (%s): want a base64 %d-byte ed25519 public key", i+1, id, ed25519.PublicKeySize)
		}
		if want := KeyID(pub); id != want {
			return nil, fmt.Errorf("trusted key %d: key id %q does not match its key (%s)", i+1, id, want)
		}
		t[id] = pub
	}
	if len(t) == 0 {
		return nil, errors.New("no trusted keys")
	}
	return t, nil
}

// entries splits a keyring or trusted-keys text into trimmed entries.
func entries(s string) []string {
	var out []string
	for line := range strings.Lines(s) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		for e := range strings.SplitSeq(line, ",") {
			if e = strings.TrimSpace(e); e != "" {
				out = append(out, e)
			}
		}
	}
	return out
}

// decodeBase64 accepts standard base64 with or without padding.
func decodeBase64(s string) ([]byte, error) {
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(s)
}
