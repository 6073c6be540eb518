package localfly

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
	fly "github.com/superfly/fly-go"
)

func TestLeases(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	const app = "lease-app"
	b.createApp(t, app)
	m, err := b.flaps.Launch(ctx, app, fly.LaunchMachineInput{SkipLaunch: true, Config: echoConfig(nil)})
	require.NoError(t, err)

	ttl := 30
	lease, err := b.flaps.AcquireLease(ctx, app, m.ID, &ttl)
	require.NoError(t, err)
	nonce := lease.Data.Nonce
	require.Len(t, nonce, 32)

	found, err := b.flaps.FindLease(ctx, app, m.ID)
	require.NoError(t, err)
	require.Equal(t, nonce, found.Data.Nonce)

	// fly-go's AcquireLease retries a 409 for a minute, so ask directly.
	resp, body := b.do(t, http.MethodPost, "/v1/apps/"+app+"/machines/"+m.ID+"/lease?ttl=10", b.token, "")
	require.Equal(t, http.StatusConflict, resp.StatusCode)
	require.Contains(t, body["error"], "lease currently held")

	_, err = b.flaps.Start(ctx, app, m.ID, "")
	require.Equal(t, http.StatusConflict, flapsStatus(err))
	_, err = b.flaps.Start(ctx, app, m.ID, "wrong")
	require.Equal(t, http.StatusConflict, flapsStatus(err))
	_, err = b.flaps.Start(ctx, app, m.ID, nonce)
	require.NoError(t, err)
	waitState(t, b, app, m.ID, "started")

	refreshed, err := b.flaps.RefreshLease(ctx, app, m.ID, &ttl, nonce)
	require.NoError(t, err)
	require.Equal(t, nonce, refreshed.Data.Nonce)

	require.Equal(t, http.StatusConflict, flapsStatus(b.flaps.ReleaseLease(ctx, app, m.ID, "wrong")))
	require.NoError(t, b.flaps.ReleaseLease(ctx, app, m.ID, nonce))
	_, err = b.flaps.FindLease(ctx, app, m.ID)
	require.Equal(t, http.StatusNotFound, flapsStatus(err))
	// A stale nonce is refused rather than silently ignored.
	require.Equal(t, http.StatusConflict, flapsStatus(b.flaps.Stop(ctx, app, fly.StopMachineInput{ID: m.ID}, nonce)))
	require.NoError(t, b.flaps.Stop(ctx, app, fly.StopMachineInput{ID: m.ID}, ""))

	// A lease taken at create comes back as the machine's nonce.
	leased, err := b.flaps.Launch(ctx, app, fly.LaunchMachineInput{SkipLaunch: true, LeaseTTL: 30, Config: echoConfig(nil)})
	require.NoError(t, err)
	require.NotEmpty(t, leased.LeaseNonce)
	err = b.flaps.Destroy(ctx, app, fly.RemoveMachineInput{ID: leased.ID}, "")
	require.Equal(t, http.StatusConflict, flapsStatus(err))
	require.NoError(t, b.flaps.Destroy(ctx, app, fly.RemoveMachineInput{ID: leased.ID}, leased.LeaseNonce))
}
