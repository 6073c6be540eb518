package compile

import (
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
)

// SecretMask starts every masked secret. GetConfig and ValidateConfig return
// secrets as SecretMask plus the secret's last four characters, so a person
// can tell which secret is set without seeing it; sending the mask back
// unchanged keeps the stored secret (MergeSecrets).
const SecretMask = "••••"

// MaskSecret returns the masked form of a secret: "" stays "", anything else
// becomes SecretMask plus its last four characters (none for short values,
// which would give too much away).
func MaskSecret(s string) string {
	if s == "" {
		return ""
	}
	if utf8.RuneCountInString(s) < 16 {
		return SecretMask
	}
	r := []rune(s)
	return SecretMask + string(r[len(r)-4:])
}

// MaskRealtime returns a copy of cfg with its secrets masked.
func MaskRealtime(cfg *switchboardv1.RealtimeConfig) *switchboardv1.RealtimeConfig {
	if cfg == nil {
		return nil
	}
	out := proto.CloneOf(cfg)
	out.JwtSecret = MaskSecret(out.JwtSecret)
	out.StreamsSecret = MaskSecret(out.StreamsSecret)
	out.BroadcastKey = MaskSecret(out.BroadcastKey)
	return out
}

// MergeSecrets returns a copy of incoming in which each secret equal to the
// mask of the stored secret is replaced by the stored secret, so a config
// read with GetConfig and sent back keeps its secrets. Any other value,
// including "", replaces the stored one; a mask that matches nothing is left
// for validation to refuse. stored may be nil.
func MergeSecrets(incoming, stored *switchboardv1.RealtimeConfig) *switchboardv1.RealtimeConfig {
	if incoming == nil {
		return nil
	}
	out := proto.CloneOf(incoming)
	if stored == nil {
		return out
	}
	keep := func(in *string, stored string) {
		if stored != "" && *in == MaskSecret(stored) {
			*in = stored
		}
	}
	keep(&out.JwtSecret, stored.JwtSecret)
	keep(&out.StreamsSecret, stored.StreamsSecret)
	keep(&out.BroadcastKey, stored.BroadcastKey)
	return out
}
