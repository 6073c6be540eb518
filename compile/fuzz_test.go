package compile_test

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/switchboardhq/switchboard/compile"
	artifactv1 "github.com/switchboardhq/switchboard/gen/switchboard/artifact/v1"
	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
)

func FuzzValidateBreakerJSON(f *testing.F) {
	for _, seed := range []string{
		`{}`,
		`{"services":[{"name":"users","upstream_url":"https://users.example.com"}]}`,
		`{"services":[{"name":"a","upstream_url":"http://0x7f.1/","timeout_ms":60001,"window_type":"WINDOW_TYPE_TIME","window_size":3600}]}`,
		`{"services":[{"name":"a","upstreamUrl":"http://[::ffff:10.0.0.1]:8080","failure_outcomes":["FAILURE_OUTCOME_HTTP_429",3],"forced_state":2}]}`,
		`{"services":[{"name":"a","upstream_url":"https://a.example.com","fallback":{"status":429,"body":"x","headers":{"Retry-After":"1","Connection":"x"}}}]}`,
		`{"services":[{"name":"a","upstream_url":"https://a.example.com"},{"name":"a","upstream_url":"https://b.example.com"}]}`,
		`{"services":[{"name":"a","upstream_url":"https://a.example.com","bogus":1}]}`,
		`{"services":null}`,
		`[]`,
	} {
		f.Add([]byte(seed), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, allowPrivate bool) {
		m, err := compile.DecodeJSON(artifactv1.Kind_KIND_BREAKER, data)
		if err != nil {
			return
		}
		opts := compile.Options{AllowPrivateTargets: allowPrivate}
		out, err := compile.ValidateBreaker(m.(*switchboardv1.BreakerConfig), opts)
		if err != nil {
			return
		}
		again, err := compile.ValidateBreaker(out, opts)
		if err != nil {
			t.Fatalf("valid output failed validation: %v\n%v", err, out)
		}
		if !proto.Equal(out, again) {
			t.Fatalf("validation not idempotent:\n%v\n%v", out, again)
		}
		if _, err := compile.Compile("ins_fuzz", artifactv1.Kind_KIND_BREAKER, 1, issued, out); err != nil {
			t.Fatalf("valid config failed to compile: %v", err)
		}
	})
}

func FuzzVerify(f *testing.F) {
	k := testKeyring(f, testKey(1), testKey(2))
	trusted := k.TrustedKeys()
	f.Add(signed(f, k))
	f.Add(signed(f, testKeyring(f, testKey(2))))
	f.Add(signed(f, testKeyring(f, testKey(3))))
	f.Add([]byte{})
	f.Add([]byte("\x0a\x00\x12\x00\x1a\x00"))
	payload, err := compile.Compile("ins_fuzz", artifactv1.Kind_KIND_REALTIME, 2, issued, validRealtime())
	if err != nil {
		f.Fatal(err)
	}
	env, err := proto.Marshal(k.Sign(payload))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(env)
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := compile.Verify(data, trusted, 0)
		if err == nil && (p == nil || p.InstanceId == "" || p.GetSpec() == nil) {
			t.Fatalf("verified payload is incomplete: %v", p)
		}
	})
}
