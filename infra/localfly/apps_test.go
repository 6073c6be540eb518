package localfly

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/superfly/fly-go/flaps"
)

func TestApps(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()

	created, err := b.flaps.CreateApp(ctx, flaps.CreateAppRequest{Name: "sb-ins-1", Org: "acme"})
	require.NoError(t, err)
	require.Equal(t, "sb-ins-1", created.Name)
	require.Equal(t, "acme", created.Organization.Slug)

	got, err := b.flaps.GetApp(ctx, "sb-ins-1")
	require.NoError(t, err)
	require.Equal(t, created.ID, got.ID)

	_, err = b.flaps.CreateApp(ctx, flaps.CreateAppRequest{Name: "sb-ins-1", Org: "acme"})
	require.Equal(t, http.StatusUnprocessableEntity, flapsStatus(err))

	b.createApp(t, "other-org-app")
	apps, err := b.flaps.ListApps(ctx, flaps.ListAppsRequest{OrgSlug: "acme"})
	require.NoError(t, err)
	require.Len(t, apps, 1)
	require.Equal(t, "sb-ins-1", apps[0].Name)

	require.NoError(t, b.flaps.DeleteApp(ctx, "sb-ins-1"))
	_, err = b.flaps.GetApp(ctx, "sb-ins-1")
	require.Equal(t, http.StatusNotFound, flapsStatus(err))
	require.EqualError(t, err, "app not found")

	_, err = b.flaps.CreateApp(ctx, flaps.CreateAppRequest{Name: "Bad_Name", Org: "acme"})
	require.Equal(t, http.StatusBadRequest, flapsStatus(err))
}

func TestSecrets(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	b.createApp(t, "secrets-app")

	set, err := b.flaps.SetAppSecret(ctx, "secrets-app", "TOKEN", "s3cret")
	require.NoError(t, err)
	require.Equal(t, "TOKEN", set.Name)
	require.Nil(t, set.Value)

	v := "x"
	upd, err := b.flaps.UpdateAppSecrets(ctx, "secrets-app", map[string]*string{"OTHER": &v, "TOKEN": nil})
	require.NoError(t, err)
	require.Greater(t, upd.Version, set.Version)

	list, err := b.flaps.ListAppSecrets(ctx, "secrets-app", nil, true)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, "OTHER", list[0].Name)
	require.Equal(t, "x", *list[0].Value)

	_, err = b.flaps.DeleteAppSecret(ctx, "secrets-app", "OTHER")
	require.NoError(t, err)
	_, err = b.flaps.GetAppSecrets(ctx, "secrets-app", "OTHER", nil, false)
	require.Equal(t, http.StatusNotFound, flapsStatus(err))

	// Not in the spec, so fly-go's request type is the schema.
	resp, _ := b.do(t, http.MethodPost, "/v1/apps/secrets-app/secrets/A", b.token, `{"value": 1}`)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

func TestUnauthorized(t *testing.T) {
	t.Parallel()
	b := setup(t)

	for _, token := range []string{"", "wrong"} {
		resp, body := b.do(t, http.MethodGet, "/v1/apps?org_slug=personal", token, "")
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		require.Equal(t, "unauthorized", body["error"])
		resp, _ = b.do(t, http.MethodGet, "/localfly/faults", token, "")
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	}
	resp, _ := b.do(t, http.MethodGet, "/v1/apps?org_slug=personal", b.token, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
}
