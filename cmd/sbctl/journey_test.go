package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/apitest"
)

// provision plays the provisioning worker (apitest runs none): once the
// instance called name exists, it moves it through steps, one per poll of
// WatchInstance, ending in final.
func provision(t *testing.T, env *apitest.Env, orgID, name, final, reason string) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		ctx := context.Background()
		var id string
		for range 200 {
			if env.DB.Pool.QueryRow(ctx, `SELECT id FROM instances WHERE organization_id = $1 AND name = $2`, orgID, name).Scan(&id) == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		steps := [][3]string{{"provisioning", "creating app", ""}, {"provisioning", "creating machine", ""}, {final, "", reason}}
		for _, s := range steps {
			time.Sleep(400 * time.Millisecond)
			endpoint := ""
			if s[0] == "running" {
				endpoint = "https://" + name + ".example.net"
			}
			_, err := env.DB.Pool.Exec(ctx, `UPDATE instances SET state = $2, state_detail = $3, failure_reason = $4, endpoint_url = $5, updated_at = now() WHERE id = $1`,
				id, s[0], s[1], s[2], endpoint)
			if err != nil {
				t.Errorf("set state: %v", err)
				return
			}
		}
	}()
	return done
}

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	return p
}

// TestJourney: login → org → key → instance create --wait → config apply →
// token create → instance delete, with the failure paths on the way.
func TestJourney(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	u := env.SignUp(t, "Ada")
	_, err := env.DB.Pool.Exec(context.Background(), `UPDATE organizations SET instance_quota = 10 WHERE id = $1`, u.OrgID)
	require.NoError(t, err)

	me := newCLI(t)
	r := me.runStdin("correct horse battery", "login", "--api-url", env.URL, "--email", u.Email, "--password-stdin")
	require.Equal(t, 0, r.code, r.stderr)
	key := decode[struct {
		Secret string `json:"secret"`
	}](t, me.ok("key", "create", "deploy", "--role", "member", "-o", "json"))
	// From here on, automation: the API key in the environment.
	bot := newCLI(t, "SWITCHBOARD_API_URL="+env.URL, "SWITCHBOARD_TOKEN="+key.Secret)

	// instance create --wait shows progress and ends RUNNING.
	done := provision(t, env, u.OrgID, "edge", "running", "")
	r = bot.run("instance", "create", "edge", "--kind", "breaker", "--wait", "-o", "json")
	<-done
	require.Equal(t, 0, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
	require.Contains(t, r.stderr, "pending")
	require.Contains(t, r.stderr, "provisioning: creating machine")
	inst := decode[struct {
		idName
		EndpointURL string `json:"endpoint_url"`
	}](t, r.stdout)
	require.Equal(t, "INSTANCE_STATE_RUNNING", inst.State)
	require.Equal(t, "https://edge.example.net", inst.EndpointURL)
	require.Contains(t, bot.ok("instance", "list"), inst.ID)
	require.Contains(t, bot.ok("instance", "get", inst.ID), "running")

	// A FAILED instance: exit 1 with the reason.
	done = provision(t, env, u.OrgID, "doomed", "failed", "region iad has no capacity for shared-cpu-1x")
	r = bot.fails(1, "instance", "create", "doomed", "--kind", "breaker", "--wait")
	<-done
	require.Contains(t, r.stderr, "no capacity")

	// Config files: missing, malformed, unknown field, invalid values.
	dir := t.TempDir()
	r = bot.fails(1, "config", "apply", "-f", filepath.Join(dir, "missing.yaml"), inst.ID)
	require.Contains(t, r.stderr, "missing.yaml")
	r = bot.fails(1, "config", "apply", "-f", writeFile(t, dir, "bad.yaml", "breaker: [unclosed"), inst.ID)
	require.Contains(t, r.stderr, "bad.yaml")
	r = bot.fails(1, "config", "apply", "-f", writeFile(t, dir, "typo.yaml", "breaker:\n  servics: []\n"), inst.ID)
	require.Contains(t, r.stderr, "servics")
	r = bot.fails(1, "config", "apply", "-f", writeFile(t, dir, "invalid.yaml", `breaker:
  services:
    - name: payments
      upstream_url: http://127.0.0.1:9
      timeout_ms: 999999
`), inst.ID)
	require.Contains(t, r.stderr, "services[0].timeout_ms")
	require.Contains(t, bot.ok("config", "history", inst.ID, "-o", "json"), "[]", "a refused config stores nothing")

	// A good one: the diff, then version 1; again: no changes.
	good := writeFile(t, dir, "edge.yaml", `breaker:
  services:
    - name: payments
      upstream_url: https://payments.example.com
      timeout_ms: 2000
`)
	require.Contains(t, bot.ok("config", "diff", "-f", good, inst.ID), "+       timeout_ms: 2000")
	r = bot.run("config", "apply", "-f", good, inst.ID)
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stderr, "+     - name: payments")
	require.Contains(t, r.stdout, "Applied version 1")
	r = bot.run("config", "apply", "-f", good, inst.ID)
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stderr, "No changes.")

	// Round trip: get -o yaml, edit, apply (based on the file's version).
	got := bot.ok("config", "get", inst.ID, "-o", "yaml")
	require.Contains(t, got, "version: \"1\"")
	edited := writeFile(t, dir, "edited.yaml", strings.Replace(got, "timeout_ms: 2000", "timeout_ms: 3000", 1))
	r = bot.run("config", "apply", "-f", edited, inst.ID, "--dry-run")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stderr, "-       timeout_ms: 2000")
	require.Contains(t, r.stderr, "+       timeout_ms: 3000")
	require.Contains(t, bot.ok("config", "apply", "-f", edited, inst.ID), "Applied version 2")
	// The same file again is based on version 1, which is stale now.
	r = bot.fails(1, "config", "apply", "-f", writeFile(t, dir, "stale.yaml", strings.Replace(got, "timeout_ms: 2000", "timeout_ms: 4000", 1)), inst.ID)
	require.Contains(t, r.stderr, "hint:")
	require.Contains(t, bot.ok("config", "rollback", inst.ID, "--to-version", "1"), "as version 3")
	history := bot.ok("config", "history", inst.ID)
	require.Len(t, strings.Split(strings.TrimSpace(history), "\n"), 4, history)
	require.Contains(t, bot.ok("config", "get", inst.ID), "timeout_ms: 2000")

	// Data-plane tokens.
	out := bot.ok("token", "create", inst.ID, "--name", "on-prem")
	require.Contains(t, out, "SWITCHBOARD_TOKEN=sb_dp_")
	require.Contains(t, out, "SWITCHBOARD_CDN_URL=")
	tokens := decode[[]idName](t, bot.ok("token", "list", inst.ID, "-o", "json"))
	require.Len(t, tokens, 1)
	require.Contains(t, bot.ok("token", "revoke", tokens[0].ID), "Revoked")
	require.Contains(t, bot.ok("token", "list", inst.ID), "revoked")

	// Delete.
	require.Contains(t, bot.ok("instance", "delete", inst.ID), "deleting")
	r = bot.fails(1, "instance", "get", "ins_06h2axpxg3hhn2fabwqbtdk8tc")
	require.Contains(t, r.stderr, "not found")
}
