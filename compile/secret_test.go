package compile_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/switchboardhq/switchboard/compile"
	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
)

func TestMaskAndMergeSecrets(t *testing.T) {
	t.Parallel()
	stored := &switchboardv1.RealtimeConfig{
		JwtSecret:     "jwt-secret-0123456789-0123456789-WXYZ",
		StreamsSecret: "streams-secret-0123456789-01234567-abcd",
		BroadcastKey:  "",
		HistoryLimit:  100,
	}
	masked := compile.MaskRealtime(stored)
	require.Equal(t, compile.SecretMask+"WXYZ", masked.JwtSecret)
	require.Equal(t, compile.SecretMask+"abcd", masked.StreamsSecret)
	require.Empty(t, masked.BroadcastKey)
	require.Equal(t, int32(100), masked.HistoryLimit)
	require.Equal(t, "jwt-secret-0123456789-0123456789-WXYZ", stored.JwtSecret, "stored must not change")
	require.Equal(t, compile.SecretMask, compile.MaskSecret("short"))
	require.Empty(t, compile.MaskSecret(""))
	require.Nil(t, compile.MaskRealtime(nil))

	// Sending the masked config back keeps both secrets.
	merged := compile.MergeSecrets(masked, stored)
	require.True(t, proto.Equal(stored, merged), "got %v", merged)
	_, err := compile.ValidateRealtime(merged, compile.Options{})
	require.NoError(t, err)

	// A new value replaces, "" clears, and a stale mask is refused by validation.
	incoming := proto.CloneOf(masked)
	incoming.JwtSecret = "a-brand-new-jwt-secret-0123456789-0000"
	incoming.StreamsSecret = ""
	incoming.BroadcastKey = compile.SecretMask + "abcd"
	merged = compile.MergeSecrets(incoming, stored)
	require.Equal(t, "a-brand-new-jwt-secret-0123456789-0000", merged.JwtSecret)
	require.Empty(t, merged.StreamsSecret)
	require.Equal(t, compile.SecretMask+"abcd", merged.BroadcastKey)
	_, err = compile.ValidateRealtime(merged, compile.Options{})
	require.Equal(t, []string{"realtime.broadcast_key"}, fields(violations(t, err)))

	require.True(t, proto.Equal(masked, compile.MergeSecrets(masked, nil)))
	require.Nil(t, compile.MergeSecrets(nil, stored))
}
