package compile

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	artifactv1 "github.com/switchboardhq/switchboard/gen/switchboard/artifact/v1"
	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
)

// Reasons Verify rejects an artifact. Data planes count rejections by
// reason, so test with errors.Is; the wrapped message has the detail.
var (
	ErrTooLarge     = errors.New("artifact too large")
	ErrMalformed    = errors.New("artifact malformed")
	ErrUnknownKey   = errors.New("artifact signed by an untrusted key")
	ErrBadSignature = errors.New("artifact signature invalid")
	ErrInvalidSpec  = errors.New("artifact spec invalid")
)

// Compile builds the artifact payload for one config version: an
// artifactv1.Payload carrying the spec with every default filled in,
// serialized deterministically. Sign the result with Keyring.Sign.
//
// The spec is validated again, the way Verify will (private targets allowed,
// since the deployment's Options were applied when the config was stored),
// so Compile never emits an artifact data planes would reject. Errors are
// EINVALID *switchboard.Error values.
func Compile(instanceID string, kind artifactv1.Kind, version int64, issued time.Time, spec proto.Message) ([]byte, error) {
	var c checker
	if instanceID == "" {
		c.add("instance_id", "is required")
	}
	if version < 1 {
		c.add("version", "must be at least 1")
	}
	ts := timestamppb.New(issued)
	if issued.IsZero() || ts.CheckValid() != nil {
		c.add("issue_time", "must be a valid time")
	}
	if err := c.err("", "invalid artifact"); err != nil {
		return nil, err
	}
	valid, err := validate(kind, spec, artifactPolicy)
	if err != nil {
		return nil, err
	}
	p := &artifactv1.Payload{InstanceId: instanceID, Kind: kind, Version: version, IssueTime: ts}
	switch s := valid.(type) {
	case *switchboardv1.BreakerConfig:
		p.Spec = &artifactv1.Payload_Breaker{Breaker: s}
	case *switchboardv1.RealtimeConfig:
		p.Spec = &artifactv1.Payload_Realtime{Realtime: s}
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("marshal payload: %w", err)
	}
	return b, nil
}

// Verify checks a serialized artifactv1.Envelope and returns its payload.
// In order: the size (at most maxBytes; MaxArtifactBytes when maxBytes <=
// 0), the envelope's structure, the key id (must be in trusted), the
// Ed25519 signature over the exact payload bytes, the payload's structure,
// and finally the spec, which must match the payload's kind and validate
// (with private targets allowed: the data plane's dialer applies its own
// IsBlockedIP policy). The returned payload's spec has defaults filled in.
//
// Errors wrap ErrTooLarge, ErrMalformed, ErrUnknownKey, ErrBadSignature or
// ErrInvalidSpec. Verify does not check the instance id or that the version
// is newer than the last applied one; that is the caller's state.
func Verify(envelopeBytes []byte, trusted TrustedKeys, maxBytes int) (*artifactv1.Payload, error) {
	if maxBytes <= 0 {
		maxBytes = MaxArtifactBytes
	}
	if len(envelopeBytes) > maxBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(envelopeBytes), maxBytes)
	}
	var env artifactv1.Envelope
	if err := proto.Unmarshal(envelopeBytes, &env); err != nil {
		return nil, fmt.Errorf("%w: envelope: %v", ErrMalformed, err)
	}
	switch {
	case env.KeyId == "":
		return nil, fmt.Errorf("%w: envelope has no key id", ErrMalformed)
	case len(env.Signature) != ed25519.SignatureSize:
		return nil, fmt.Errorf("%w: signature is %d bytes, want %d", ErrMalformed, len(env.Signature), ed25519.SignatureSize)
	}
	pub, ok := trusted[env.KeyId]
	if !ok || len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: key id %q", ErrUnknownKey, env.KeyId)
	}
	if !ed25519.Verify(pub, env.Payload, env.Signature) {
		return nil, fmt.Errorf("%w: key id %q", ErrBadSignature, env.KeyId)
	}
	var p artifactv1.Payload
	if err := proto.Unmarshal(env.Payload, &p); err != nil {
		return nil, fmt.Errorf("%w: payload: %v", ErrMalformed, err)
	}
	switch {
	case p.InstanceId == "":
		return nil, fmt.Errorf("%w: payload has no instance id", ErrMalformed)
	case p.Version < 1:
		return nil, fmt.Errorf("%w: payload version %d", ErrMalformed, p.Version)
	case p.IssueTime.CheckValid() != nil:
		return nil, fmt.Errorf("%w: payload issue time: %v", ErrMalformed, p.IssueTime.CheckValid())
	}
	var spec proto.Message
	switch s := p.Spec.(type) {
	case *artifactv1.Payload_Breaker:
		if p.Kind != artifactv1.Kind_KIND_BREAKER {
			return nil, fmt.Errorf("%w: %s payload carries a breaker spec", ErrInvalidSpec, p.Kind)
		}
		spec = s.Breaker
	case *artifactv1.Payload_Realtime:
		if p.Kind != artifactv1.Kind_KIND_REALTIME {
			return nil, fmt.Errorf("%w: %s payload carries a realtime spec", ErrInvalidSpec, p.Kind)
		}
		spec = s.Realtime
	}
	if spec == nil || !spec.ProtoReflect().IsValid() {
		return nil, fmt.Errorf("%w: %s payload has no spec", ErrInvalidSpec, p.Kind)
	}
	valid, err := validate(p.Kind, spec, artifactPolicy)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidSpec, err)
	}
	switch s := valid.(type) {
	case *switchboardv1.BreakerConfig:
		p.Spec = &artifactv1.Payload_Breaker{Breaker: s}
	case *switchboardv1.RealtimeConfig:
		p.Spec = &artifactv1.Payload_Realtime{Realtime: s}
	}
	return &p, nil
}
