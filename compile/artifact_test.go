package compile_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/switchboardhq/switchboard/compile"
	artifactv1 "github.com/switchboardhq/switchboard/gen/switchboard/artifact/v1"
	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

var issued = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// testKey returns a fixed key, so signatures in tests are reproducible.
func testKey(b byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, ed25519.SeedSize))
}

func testKeyring(t testing.TB, keys ...ed25519.PrivateKey) *compile.Keyring {
	t.Helper()
	k, err := compile.NewKeyring(keys[0], keys[1:]...)
	require.NoError(t, err)
	return k
}

// signed compiles and signs validBreaker as version 7 of ins_test.
func signed(t testing.TB, k *compile.Keyring) []byte {
	t.Helper()
	payload, err := compile.Compile("ins_test", artifactv1.Kind_KIND_BREAKER, 7, issued, validBreaker())
	require.NoError(t, err)
	b, err := proto.Marshal(k.Sign(payload))
	require.NoError(t, err)
	return b
}

func TestCompileGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		kind artifactv1.Kind
		spec proto.Message
	}{
		{"breaker", artifactv1.Kind_KIND_BREAKER, validBreaker()},
		{"realtime", artifactv1.Kind_KIND_REALTIME, validRealtime()},
		{"breaker_empty", artifactv1.Kind_KIND_BREAKER, &switchboardv1.BreakerConfig{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			payload, err := compile.Compile("ins_golden", tc.kind, 3, issued, tc.spec)
			require.NoError(t, err)
			again, err := compile.Compile("ins_golden", tc.kind, 3, issued, proto.Clone(tc.spec))
			require.NoError(t, err)
			require.Equal(t, payload, again, "compilation must be deterministic")

			var p artifactv1.Payload
			require.NoError(t, proto.Unmarshal(payload, &p))
			// protojson's spacing is deliberately unstable; re-indent it.
			js, err := protojson.Marshal(&p)
			require.NoError(t, err)
			var text bytes.Buffer
			require.NoError(t, json.Indent(&text, js, "", "  "))
			text.WriteString("\n\n")
			h := hex.EncodeToString(payload)
			for len(h) > 64 {
				text.WriteString(h[:64] + "\n")
				h = h[64:]
			}
			text.WriteString(h + "\n")

			path := filepath.Join("testdata", tc.name+".golden")
			if *update {
				require.NoError(t, os.WriteFile(path, text.Bytes(), 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run go test ./compile -update to create it")
			require.Equal(t, string(want), text.String())
		})
	}
}

func TestCompileRejects(t *testing.T) {
	t.Parallel()
	_, err := compile.Compile("", artifactv1.Kind_KIND_BREAKER, 0, time.Time{}, validBreaker())
	require.Equal(t, []string{"instance_id", "version", "issue_time"}, fields(violations(t, err)))
	_, err = compile.Compile("ins_x", artifactv1.Kind_KIND_REALTIME, 1, issued, validBreaker())
	require.Equal(t, []string{"realtime"}, fields(violations(t, err)))
	bad := validBreaker()
	bad.Services[0].TimeoutMs = 0x7fffffff
	_, err = compile.Compile("ins_x", artifactv1.Kind_KIND_BREAKER, 1, issued, bad)
	require.Equal(t, []string{"breaker.services[0].timeout_ms"}, fields(violations(t, err)))
	// Compile allows private targets, as Verify does.
	priv := &switchboardv1.BreakerConfig{Services: []*switchboardv1.BreakerService{{Name: "a", UpstreamUrl: "http://10.0.0.1"}}}
	_, err = compile.Compile("ins_x", artifactv1.Kind_KIND_BREAKER, 1, issued, priv)
	require.NoError(t, err)
}

func TestSignVerify(t *testing.T) {
	t.Parallel()
	k := testKeyring(t, testKey(1))
	env := signed(t, k)
	p, err := compile.Verify(env, k.TrustedKeys(), 0)
	require.NoError(t, err)
	require.Equal(t, "ins_test", p.InstanceId)
	require.Equal(t, artifactv1.Kind_KIND_BREAKER, p.Kind)
	require.Equal(t, int64(7), p.Version)
	require.True(t, issued.Equal(p.IssueTime.AsTime()))
	want, err := compile.ValidateBreaker(validBreaker(), compile.Options{})
	require.NoError(t, err)
	require.True(t, proto.Equal(want, p.GetBreaker()))
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	k := testKeyring(t, testKey(1))
	trusted := k.TrustedKeys()
	env := signed(t, k)

	t.Run("tampered payload", func(t *testing.T) {
		t.Parallel()
		var e artifactv1.Envelope
		require.NoError(t, proto.Unmarshal(env, &e))
		i := bytes.Index(e.Payload, []byte("ins_test"))
		require.GreaterOrEqual(t, i, 0)
		e.Payload[i] = 'X'
		b, err := proto.Marshal(&e)
		require.NoError(t, err)
		_, err = compile.Verify(b, trusted, 0)
		require.ErrorIs(t, err, compile.ErrBadSignature)
	})
	t.Run("tampered signature", func(t *testing.T) {
		t.Parallel()
		b := bytes.Clone(env)
		b[len(b)-1] ^= 1
		_, err := compile.Verify(b, trusted, 0)
		require.ErrorIs(t, err, compile.ErrBadSignature)
	})
	t.Run("unknown key", func(t *testing.T) {
		t.Parallel()
		other := testKeyring(t, testKey(2))
		_, err := compile.Verify(signed(t, other), trusted, 0)
		require.ErrorIs(t, err, compile.ErrUnknownKey)
		require.NotErrorIs(t, err, compile.ErrBadSignature)
	})
	t.Run("key id of a trusted key, other key's signature", func(t *testing.T) {
		t.Parallel()
		var e artifactv1.Envelope
		require.NoError(t, proto.Unmarshal(signed(t, testKeyring(t, testKey(2))), &e))
		e.KeyId = k.KeyID()
		b, err := proto.Marshal(&e)
		require.NoError(t, err)
		_, err = compile.Verify(b, trusted, 0)
		require.ErrorIs(t, err, compile.ErrBadSignature)
	})
	t.Run("truncated", func(t *testing.T) {
		t.Parallel()
		for _, n := range []int{0, 1, 10, len(env) / 2, len(env) - 10, len(env) - 1} {
			_, err := compile.Verify(env[:n], trusted, 0)
			require.ErrorIs(t, err, compile.ErrMalformed, "truncated to %d", n)
		}
	})
	t.Run("garbage", func(t *testing.T) {
		t.Parallel()
		_, err := compile.Verify([]byte("\xff\xff\xff\xff"), trusted, 0)
		require.ErrorIs(t, err, compile.ErrMalformed)
	})
	t.Run("oversize", func(t *testing.T) {
		t.Parallel()
		_, err := compile.Verify(env, trusted, len(env)-1)
		require.ErrorIs(t, err, compile.ErrTooLarge)
		_, err = compile.Verify(make([]byte, compile.MaxArtifactBytes+1), trusted, 0)
		require.ErrorIs(t, err, compile.ErrTooLarge)
		_, err = compile.Verify(env, trusted, len(env))
		require.NoError(t, err)
	})
	t.Run("signed but invalid spec", func(t *testing.T) {
		t.Parallel()
		cfg := validBreaker()
		cfg.Services[0].TimeoutMs = 999999
		_, err := compile.Verify(signPayload(t, k, &artifactv1.Payload{
			InstanceId: "ins_x", Kind: artifactv1.Kind_KIND_BREAKER, Version: 1, IssueTime: timestamppb.New(issued),
			Spec: &artifactv1.Payload_Breaker{Breaker: cfg},
		}), trusted, 0)
		require.ErrorIs(t, err, compile.ErrInvalidSpec)
		require.Contains(t, err.Error(), "breaker.services[0].timeout_ms")
	})
	t.Run("kind does not match spec", func(t *testing.T) {
		t.Parallel()
		_, err := compile.Verify(signPayload(t, k, &artifactv1.Payload{
			InstanceId: "ins_x", Kind: artifactv1.Kind_KIND_REALTIME, Version: 1, IssueTime: timestamppb.New(issued),
			Spec: &artifactv1.Payload_Breaker{Breaker: validBreaker()},
		}), trusted, 0)
		require.ErrorIs(t, err, compile.ErrInvalidSpec)
	})
	t.Run("no spec", func(t *testing.T) {
		t.Parallel()
		_, err := compile.Verify(signPayload(t, k, &artifactv1.Payload{
			InstanceId: "ins_x", Kind: artifactv1.Kind_KIND_BREAKER, Version: 1, IssueTime: timestamppb.New(issued),
		}), trusted, 0)
		require.ErrorIs(t, err, compile.ErrInvalidSpec)
	})
	t.Run("no version", func(t *testing.T) {
		t.Parallel()
		_, err := compile.Verify(signPayload(t, k, &artifactv1.Payload{
			InstanceId: "ins_x", Kind: artifactv1.Kind_KIND_BREAKER, IssueTime: timestamppb.New(issued),
			Spec: &artifactv1.Payload_Breaker{Breaker: validBreaker()},
		}), trusted, 0)
		require.ErrorIs(t, err, compile.ErrMalformed)
	})
	t.Run("signed garbage payload", func(t *testing.T) {
		t.Parallel()
		b, err := proto.Marshal(k.Sign([]byte("\xff\xff")))
		require.NoError(t, err)
		_, err = compile.Verify(b, trusted, 0)
		require.ErrorIs(t, err, compile.ErrMalformed)
	})
}

func signPayload(t *testing.T, k *compile.Keyring, p *artifactv1.Payload) []byte {
	t.Helper()
	payload, err := proto.Marshal(p)
	require.NoError(t, err)
	b, err := proto.Marshal(k.Sign(payload))
	require.NoError(t, err)
	return b
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	oldKey, newKey := testKey(1), testKey(2)
	before := testKeyring(t, oldKey)
	oldEnvelope := signed(t, before)

	// Step 1: data planes trust both keys. Step 2: sign with the new one.
	after := testKeyring(t, newKey, oldKey)
	trusted := after.TrustedKeys()
	require.Len(t, trusted, 2)
	require.Equal(t, compile.KeyID(newKey.Public().(ed25519.PublicKey)), after.KeyID())

	_, err := compile.Verify(oldEnvelope, trusted, 0)
	require.NoError(t, err, "previous key still verifies while trusted")
	newEnvelope := signed(t, after)
	_, err = compile.Verify(newEnvelope, trusted, 0)
	require.NoError(t, err)

	// Step 3: drop the old key; its artifacts stop verifying.
	onlyNew := compile.NewTrustedKeys(newKey.Public().(ed25519.PublicKey))
	_, err = compile.Verify(oldEnvelope, onlyNew, 0)
	require.ErrorIs(t, err, compile.ErrUnknownKey)
	_, err = compile.Verify(newEnvelope, onlyNew, 0)
	require.NoError(t, err)
}

func TestKeyringText(t *testing.T) {
	t.Parallel()
	k := testKeyring(t, testKey(1), testKey(2))
	text := k.Encode()
	require.Len(t, strings.Split(strings.TrimSpace(text), "\n"), 2)
	require.True(t, strings.HasPrefix(text, k.KeyID()+":"))

	parsed, err := compile.ParseKeyring(text)
	require.NoError(t, err)
	require.Equal(t, k.KeyID(), parsed.KeyID())
	require.Equal(t, k.TrustedKeys(), parsed.TrustedKeys())

	// One line with commas, comments and blank lines are fine.
	oneLine := strings.ReplaceAll(strings.TrimSpace(text), "\n", ",")
	parsed, err = compile.ParseKeyring("# signing keys\n\n" + oneLine + "\n")
	require.NoError(t, err)
	require.Equal(t, k.TrustedKeys(), parsed.TrustedKeys())

	require.NotContains(t, k.String(), strings.Split(strings.Split(text, "\n")[0], ":")[1], "String leaks the key")

	for _, bad := range []string{
		"",
		"# only a comment",
		"nocolon",
		k.KeyID() + ":not-base64!",
		k.KeyID() + ":AAAA",
		"0000000000000000:" + strings.Split(strings.TrimSpace(text), ":")[1][:44], // wrong id
		strings.Split(text, "\n")[0] + "," + strings.Split(text, "\n")[0],         // twice
	} {
		_, err := compile.ParseKeyring(bad)
		require.Error(t, err, "%q", bad)
	}

	gen, err := compile.GenerateKey()
	require.NoError(t, err)
	g := testKeyring(t, gen)
	require.Regexp(t, `^[0-9a-f]{16}$`, g.KeyID())
	_, err = compile.NewKeyring(ed25519.PrivateKey{1, 2, 3})
	require.Error(t, err)
}

func TestTrustedKeysText(t *testing.T) {
	t.Parallel()
	k := testKeyring(t, testKey(1), testKey(2))
	trusted := k.TrustedKeys()
	text := trusted.String()
	require.Regexp(t, `^[0-9a-f]{16}:[A-Za-z0-9+/]{43}=,[0-9a-f]{16}:[A-Za-z0-9+/]{43}=$`, text)
	parsed, err := compile.ParseTrustedKeys(text)
	require.NoError(t, err)
	require.Equal(t, trusted, parsed)
	parsed, err = compile.ParseTrustedKeys(" " + strings.ReplaceAll(text, ",", "\n") + "\n")
	require.NoError(t, err)
	require.Equal(t, trusted, parsed)

	_, err = compile.Verify(signed(t, k), parsed, 0)
	require.NoError(t, err)

	id, pub, _ := strings.Cut(strings.Split(text, ",")[0], ":")
	for _, bad := range []string{"", "x", id + ":", id + ":AAAA", "0123456789abcdef:" + pub} {
		_, err := compile.ParseTrustedKeys(bad)
		require.Error(t, err, "%q", bad)
	}
}
