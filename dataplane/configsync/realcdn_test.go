package configsync_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/blob/blobtest"
	"github.com/switchboardhq/switchboard/cdn"
	"github.com/switchboardhq/switchboard/dataplane/configsync"
)

// TestRealCDN runs the agent against the real cdn package over a real
// versitygw and real HTTP: token registry, ETags, long-poll and change feed.
func TestRealCDN(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := blobtest.NewStore(t)
	srv := cdn.New(cdn.Params{Store: store})
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	feedCtx, stopFeed := context.WithCancel(ctx)
	feedDone := make(chan struct{})
	go func() { defer close(feedDone); _ = srv.Run(feedCtx) }()
	t.Cleanup(func() { stopFeed(); <-feedDone })

	id := switchboard.NewID(switchboard.PrefixInstance, time.Now())
	tokenID := switchboard.NewID(switchboard.PrefixDataPlaneToken, time.Now())
	token := switchboard.NewToken(switchboard.TokenDataPlane, tokenID)
	sum := switchboard.HashToken(token)
	entry, err := json.Marshal(switchboard.TokenRegistryEntry{TokenID: tokenID, InstanceID: id, SHA256: hex.EncodeToString(sum[:])})
	require.NoError(t, err)
	_, err = store.Put(ctx, switchboard.TokenRegistryKey(tokenID), entry, "application/json")
	require.NoError(t, err)

	var seq int64
	publish := func(version int64, body []byte) {
		t.Helper()
		_, err := store.Put(ctx, switchboard.ArtifactKey(id, version), body, switchboard.ArtifactContentType)
		require.NoError(t, err)
		_, err = store.Put(ctx, switchboard.LatestArtifactKey(id), body, switchboard.ArtifactContentType)
		require.NoError(t, err)
		seq++
		_, err = store.Put(ctx, switchboard.ChangeKey(seq), []byte(id), "text/plain")
		require.NoError(t, err)
	}

	k := newKeyring(t)
	publish(1, sign(t, k, id, 1))
	cfg := baseConfig(t, k, id, hs.URL)
	cfg.Token = token
	cfg.LongPoll = 25 * time.Second
	b := start(t, cfg)
	b.waitApplied(t, 1)

	// A new version reaches the long-polling agent through the change feed.
	published := time.Now()
	publish(2, sign(t, k, id, 2))
	b.waitApplied(t, 2)
	require.Less(t, time.Since(published), 3*time.Second)

	// An artifact signed by someone else is refused; version 2 stays.
	publish(3, sign(t, newKeyring(t), id, 3))
	eventually(t, func() bool { return b.rejections(t, configsync.ReasonUnknownKey) == 1 }, "untrusted artifact refused")
	require.Equal(t, int64(2), b.agent.Status().AppliedVersion)

	publish(4, sign(t, k, id, 4))
	b.waitApplied(t, 4)

	// A wrong token is a sync error, never a config change.
	b.stop()
	cfg.Token = switchboard.NewToken(switchboard.TokenDataPlane, tokenID)
	b2 := start(t, cfg)
	b2.waitApplied(t, 4) // from the cache
	eventually(t, func() bool {
		return b2.metric(t, "switchboard_config_sync_errors_total", "reason", "http_status") > 0
	}, "401 counted")
	require.Contains(t, b2.agent.Status().LastError, "401")
}
