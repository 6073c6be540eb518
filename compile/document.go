package compile

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/switchboardhq/switchboard"
	artifactv1 "github.com/switchboardhq/switchboard/gen/switchboard/artifact/v1"
	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
)

// KindOf maps an instance kind to its artifact kind (KIND_UNSPECIFIED for
// anything unknown).
func KindOf(k switchboardv1.InstanceKind) artifactv1.Kind {
	switch k {
	case switchboardv1.InstanceKind_INSTANCE_KIND_BREAKER:
		return artifactv1.Kind_KIND_BREAKER
	case switchboardv1.InstanceKind_INSTANCE_KIND_REALTIME:
		return artifactv1.Kind_KIND_REALTIME
	}
	return artifactv1.Kind_KIND_UNSPECIFIED
}

// rootField is the field path prefix of a kind's document.
func rootField(kind artifactv1.Kind) (string, bool) {
	switch kind {
	case artifactv1.Kind_KIND_BREAKER:
		return "breaker", true
	case artifactv1.Kind_KIND_REALTIME:
		return "realtime", true
	}
	return "", false
}

// DecodeJSON decodes a config document of the given kind — the JSON form of
// a BreakerConfig (*switchboardv1.BreakerConfig) or a RealtimeConfig
// (*switchboardv1.RealtimeConfig) — as sbctl reads it from a file. Unknown
// fields, wrong types and documents over MaxJSONBytes or MaxDocumentBytes
// are EINVALID errors with the field path "breaker" or "realtime". The
// result is not validated; pass it to Validate.
func DecodeJSON(kind artifactv1.Kind, data []byte) (proto.Message, error) {
	root, ok := rootField(kind)
	if !ok {
		return nil, switchboard.Invalid("kind", "must be KIND_BREAKER or KIND_REALTIME")
	}
	if len(data) > MaxJSONBytes {
		return nil, switchboard.Invalid(root, fmt.Sprintf("must be at most %d bytes of JSON", MaxJSONBytes))
	}
	var m proto.Message = &switchboardv1.RealtimeConfig{}
	if kind == artifactv1.Kind_KIND_BREAKER {
		m = &switchboardv1.BreakerConfig{}
	}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(data, m); err != nil {
		return nil, switchboard.Invalid(root, jsonRule(err))
	}
	if err := documentSize(root, m); err != nil {
		return nil, err
	}
	return m, nil
}

// jsonRule turns a protojson error into a rule. protojson's messages start
// with "proto:" followed by a deliberately unstable space, so never compare
// them; they do name the offending field (`unknown field "foo"`).
func jsonRule(err error) string {
	s := strings.TrimPrefix(err.Error(), "proto:")
	s = strings.TrimLeft(s, " \u00a0")
	return "invalid JSON: " + s
}

// Validate checks a spec of the given kind and returns it with defaults
// filled in: ValidateBreaker or ValidateRealtime, chosen by kind. A spec
// whose type does not match kind is an EINVALID error.
func Validate(kind artifactv1.Kind, spec proto.Message, opts Options) (proto.Message, error) {
	return validate(kind, spec, opts.policy())
}

func validate(kind artifactv1.Kind, spec proto.Message, p policy) (proto.Message, error) {
	switch s := spec.(type) {
	case *switchboardv1.BreakerConfig:
		if kind != artifactv1.Kind_KIND_BREAKER {
			break
		}
		out, err := validateBreaker(s, p)
		if err != nil {
			return nil, err
		}
		return out, nil
	case *switchboardv1.RealtimeConfig:
		if kind != artifactv1.Kind_KIND_REALTIME {
			break
		}
		out, err := validateRealtime(s, p)
		if err != nil {
			return nil, err
		}
		return out, nil
	}
	if root, ok := rootField(kind); ok {
		return nil, switchboard.Invalid(root, "is required")
	}
	return nil, switchboard.Invalid("kind", "must be KIND_BREAKER or KIND_REALTIME")
}
