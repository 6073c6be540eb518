package localfly

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
	fly "github.com/superfly/fly-go"
	"github.com/superfly/fly-go/flaps"
)

func TestFaults(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	b.createApp(t, "faulty")

	resp, _ := b.do(t, http.MethodPut, "/localfly/faults", b.token, `{"error_rate": 1}`)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	_, err := b.flaps.GetApp(ctx, "faulty")
	require.Equal(t, http.StatusInternalServerError, flapsStatus(err))
	// Admin endpoints are never faulted, so a test can always undo.
	resp, _ = b.do(t, http.MethodDelete, "/localfly/faults", b.token, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	_, err = b.flaps.GetApp(ctx, "faulty")
	require.NoError(t, err)

	resp, _ = b.do(t, http.MethodPut, "/localfly/faults", b.token, `{"burst_429": 2, "retry_after_seconds": 7}`)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	for range 2 {
		resp, _ := b.do(t, http.MethodGet, "/v1/apps/faulty", b.token, "")
		require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
		require.Equal(t, "7", resp.Header.Get("Retry-After"))
	}
	_, err = b.flaps.GetApp(ctx, "faulty")
	require.NoError(t, err)

	resp, _ = b.do(t, http.MethodPut, "/localfly/faults", b.token, `{"no_capacity_regions": ["fra"]}`)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	_, err = b.flaps.Launch(ctx, "faulty", fly.LaunchMachineInput{Region: "fra", SkipLaunch: true, Config: echoConfig(nil)})
	require.Equal(t, http.StatusPreconditionFailed, flapsStatus(err))
	code := flaps.GetErrorStatusCode(err)
	require.NotNil(t, code)
	require.Equal(t, flaps.StatusCode("insufficient_capacity"), *code)
	_, err = b.flaps.Launch(ctx, "faulty", fly.LaunchMachineInput{Region: "ams", SkipLaunch: true, Config: echoConfig(nil)})
	require.NoError(t, err)

	resp, _ = b.do(t, http.MethodPut, "/localfly/faults", b.token, `{"error_rate": 2}`)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

func TestFaultsFromParams(t *testing.T) {
	t.Parallel()
	b := setup(t, func(p *Params) {
		p.Faults = Faults{ErrorRate: 0.5, ErrorStatus: http.StatusGatewayTimeout}
		p.Rand = func() float64 { return 0.25 } // below the rate: every request fails
	})
	resp, body := b.do(t, http.MethodGet, "/v1/apps?org_slug=x", b.token, "")
	require.Equal(t, http.StatusGatewayTimeout, resp.StatusCode)
	require.Equal(t, "localfly: injected fault", body["error"])

	b = setup(t, func(p *Params) {
		p.Faults = Faults{ErrorRate: 0.5}
		p.Rand = func() float64 { return 0.75 } // above the rate: none fails
	})
	resp, _ = b.do(t, http.MethodGet, "/v1/apps?org_slug=x", b.token, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
}
