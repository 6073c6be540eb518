package compile_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard"
	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
)

// validBreaker is a small valid breaker config each case breaks one way.
func validBreaker() *switchboardv1.BreakerConfig {
	return &switchboardv1.BreakerConfig{Services: []*switchboardv1.BreakerService{
		{Name: "users", UpstreamUrl: "https://users.example.com/api"},
		{Name: "billing", UpstreamUrl: "http://203.0.113.10:8080", TimeoutMs: 2000},
	}}
}

// validRealtime is a small valid realtime config.
func validRealtime() *switchboardv1.RealtimeConfig {
	return &switchboardv1.RealtimeConfig{
		JwtSecret:      "0123456789abcdef0123456789abcdef",
		AllowedOrigins: []string{"https://app.example.com", "*.example.org"},
	}
}

// violations returns the EINVALID error's violations.
func violations(t *testing.T, err error) []switchboard.FieldViolation {
	t.Helper()
	require.Error(t, err)
	var e *switchboard.Error
	require.True(t, errors.As(err, &e), "want *switchboard.Error, got %T: %v", err, err)
	require.Equal(t, switchboard.EINVALID, e.Code)
	require.NotEmpty(t, e.Violations)
	return e.Violations
}

func fields(vs []switchboard.FieldViolation) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.Field
	}
	return out
}
