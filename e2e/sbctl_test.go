package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSbctlJourney drives the user journey through sbctl as a subprocess
// against the whole product: login → org → key → instance create --wait (a
// real machine) → config apply → traffic through the instance → token create
// → instance delete --wait. cmd/sbctl's own tests cover the failure paths.
func TestSbctlJourney(t *testing.T) {
	t.Parallel()
	p := newProduct(t)
	upstream := newUpstream(t, "api")
	home := t.TempDir()
	sbctl := func(env []string, stdin string, args ...string) (string, string, int) {
		t.Helper()
		cmd := exec.Command(filepath.Join(p.bin, "sbctl"), args...)
		cmd.Env = append(os.Environ(), append([]string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config")}, env...)...)
		cmd.Stdin = strings.NewReader(stdin)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else {
			require.NoError(t, err)
		}
		return out.String(), errb.String(), code
	}
	ok := func(env []string, args ...string) string {
		t.Helper()
		out, errb, code := sbctl(env, "", args...)
		require.Equal(t, 0, code, "sbctl %v\nstdout: %s\nstderr: %s", args, out, errb)
		return out
	}

	_, errb, code := sbctl(nil, "correct horse battery", "login", "--api-url", p.apiURL, "--email", p.owner.Email, "--password-stdin")
	require.Equal(t, 0, code, errb)
	require.Contains(t, ok(nil, "org", "list"), p.owner.OrgID)

	var key struct {
		Secret string `json:"secret"`
	}
	require.NoError(t, json.Unmarshal([]byte(ok(nil, "key", "create", "deploy", "--role", "member", "-o", "json")), &key))
	bot := []string{"SWITCHBOARD_API_URL=" + p.apiURL, "SWITCHBOARD_TOKEN=" + key.Secret}

	out, errb, code := sbctl(bot, "", "instance", "create", "edge", "--kind", "breaker", "--wait", "-o", "json")
	require.Equal(t, 0, code, "stdout: %s\nstderr: %s", out, errb)
	require.Contains(t, errb, "running")
	var inst struct {
		ID          string `json:"id"`
		State       string `json:"state"`
		EndpointURL string `json:"endpoint_url"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &inst))
	require.Equal(t, "INSTANCE_STATE_RUNNING", inst.State)

	file := filepath.Join(t.TempDir(), "edge.yaml")
	require.NoError(t, os.WriteFile(file, []byte("breaker:\n  services:\n    - name: api\n      upstream_url: "+upstream.URL+"\n"), 0o600))
	require.Contains(t, ok(bot, "config", "apply", "-f", file, inst.ID), "Applied version 1")
	waitApplied(t, inst.EndpointURL, 1, 20*time.Second)
	code2, body := get(t, inst.EndpointURL+"/api/hello")
	require.Equal(t, 200, code2)
	require.Equal(t, "api:/hello", body)

	var tok struct {
		Secret string `json:"secret"`
		CDNURL string `json:"cdn_url"`
	}
	require.NoError(t, json.Unmarshal([]byte(ok(bot, "token", "create", inst.ID, "--name", "on-prem", "-o", "json")), &tok))
	require.True(t, strings.HasPrefix(tok.Secret, "sb_dp_"))
	require.Equal(t, p.cdnURL, tok.CDNURL)

	ok(bot, "instance", "delete", inst.ID, "--wait")
	require.Contains(t, ok(bot, "instance", "get", inst.ID), "deleted")

	// The key revoked: the next command fails with one line and a hint.
	ok(nil, "key", "revoke", keyID(t, ok(nil, "key", "list", "-o", "json")))
	_, errb, code = sbctl(bot, "", "instance", "list")
	require.Equal(t, 1, code)
	require.Contains(t, errb, "error: ")
	require.Contains(t, errb, "hint: ")
}

// keyID is the newest key's id in `key list -o json`.
func keyID(t *testing.T, list string) string {
	t.Helper()
	var keys []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(list), &keys); err != nil {
		var wrapped struct {
			APIKeys []struct {
				ID string `json:"id"`
			} `json:"api_keys"`
		}
		require.NoError(t, json.Unmarshal([]byte(list), &wrapped), list)
		for _, k := range wrapped.APIKeys {
			keys = append(keys, struct {
				ID string `json:"id"`
			}{k.ID})
		}
	}
	require.NotEmpty(t, keys, list)
	return keys[0].ID
}
