package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/apitest"
)

var sbctlBin string

// TestMain builds sbctl once; the tests run it as a subprocess, as a user
// would.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sbctl-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sbctlBin = filepath.Join(dir, "sbctl")
	if out, err := exec.Command("go", "build", "-o", sbctlBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build sbctl: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cli is one user's sbctl: its own home and config directory.
type cli struct {
	t      *testing.T
	config string
	env    []string
}

func newCLI(t *testing.T, extraEnv ...string) *cli {
	home := t.TempDir()
	c := &cli{t: t, config: filepath.Join(home, ".config")}
	c.env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "XDG_CONFIG_HOME=" + c.config}, extraEnv...)
	return c
}

type result struct {
	stdout, stderr string
	code           int
}

func (c *cli) runStdin(stdin string, args ...string) result {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, sbctlBin, args...)
	cmd.Env = c.env
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(c.t, err)
	}
	return result{stdout.String(), stderr.String(), code}
}

func (c *cli) run(args ...string) result {
	c.t.Helper()
	return c.runStdin("", args...)
}

// ok runs a command that must succeed and returns its stdout.
func (c *cli) ok(args ...string) string {
	c.t.Helper()
	r := c.run(args...)
	require.Equal(c.t, 0, r.code, "sbctl %s\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.stdout, r.stderr)
	return r.stdout
}

// fails runs a command that must fail with code, and checks the error is
// one line plus a hint, with no Go stack or usage dump.
func (c *cli) fails(code int, args ...string) result {
	c.t.Helper()
	r := c.run(args...)
	require.Equal(c.t, code, r.code, "sbctl %s\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.stdout, r.stderr)
	requireErrorShape(c.t, r.stderr)
	return r
}

func requireErrorShape(t *testing.T, stderr string) {
	t.Helper()
	// Progress (instance --wait) may come first; the error ends the output.
	i := strings.LastIndex("\n"+stderr, "\nerror: ")
	require.GreaterOrEqual(t, i, 0, "stderr: %s", stderr)
	lines := strings.Split(strings.TrimRight(stderr[i:], "\n"), "\n")
	require.True(t, strings.HasPrefix(lines[len(lines)-1], "hint: "), "stderr: %s", stderr)
	for _, l := range lines[1 : len(lines)-1] {
		require.True(t, strings.HasPrefix(l, "  "), "only indented detail lines between error and hint: %s", stderr)
	}
	require.NotContains(t, stderr, "goroutine")
	require.NotContains(t, stderr, "Usage:")
}

func decode[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal([]byte(s), &v), s)
	return v
}

type idName struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	State string `json:"state"`
}

func TestAuthOrgsAndKeys(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	u := env.SignUp(t, "Ada")
	me := newCLI(t)

	// No login yet.
	r := me.fails(1, "org", "list", "--api-url", env.URL)
	require.Contains(t, r.stderr, "not logged in")

	// Wrong password, then the right one.
	r = me.runStdin("wrong password!!", "login", "--api-url", env.URL, "--email", u.Email, "--password-stdin")
	require.Equal(t, 1, r.code, r.stderr)
	requireErrorShape(t, r.stderr)
	r = me.runStdin("correct horse battery\n", "login", "--api-url", env.URL, "--email", u.Email, "--password-stdin")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "Logged in to "+env.URL)

	// The credentials file is private.
	path := filepath.Join(me.config, "switchboard", "credentials.json")
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	di, err := os.Stat(filepath.Dir(path))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), di.Mode().Perm())
	creds := decode[credentials](t, mustRead(t, path))
	require.Equal(t, env.URL, creds.APIURL)
	require.True(t, strings.HasPrefix(creds.Token, "sb_sess_"))

	require.Contains(t, me.ok("whoami"), u.Email)
	require.Contains(t, me.ok("org", "list"), u.OrgID)
	orgs := decode[[]idName](t, me.ok("org", "list", "-o", "json"))
	require.Len(t, orgs, 1)
	require.Equal(t, u.OrgID, orgs[0].ID)
	require.Contains(t, me.ok("org", "get", u.OrgID, "-o", "yaml"), "id: "+u.OrgID)

	// A second organization: commands then need --org.
	org2 := decode[idName](t, me.ok("org", "create", "Acme Inc", "--slug", "acme-"+strings.ToLower(u.ID[len(u.ID)-6:]), "-o", "json"))
	r = me.fails(1, "key", "list")
	require.Contains(t, r.stderr, "2 organizations")
	require.Contains(t, me.ok("key", "list", "--org", org2.ID), "ID")

	// Keys.
	created := decode[struct {
		APIKey idName `json:"api_key"`
		Secret string `json:"secret"`
	}](t, me.ok("key", "create", "ci", "--role", "admin", "--org", u.OrgID, "-o", "json"))
	require.True(t, strings.HasPrefix(created.Secret, "sb_key_"))
	keys := decode[[]idName](t, me.ok("key", "list", "--org", u.OrgID, "-o", "json"))
	require.Contains(t, keys, idName{ID: created.APIKey.ID, Name: "ci"})
	table := me.ok("key", "list", "--org", u.OrgID)
	require.Contains(t, table, created.APIKey.ID)
	require.Contains(t, table, "active")
	require.Contains(t, me.ok("audit", "--org", u.OrgID), "api_key.create")

	// The key works from another machine: login --api-key, and the env var.
	bot := newCLI(t)
	require.Contains(t, bot.ok("login", "--api-url", env.URL, "--api-key", created.Secret), "API key")
	require.Contains(t, bot.ok("org", "list"), u.OrgID)
	ci := newCLI(t, "SWITCHBOARD_API_URL="+env.URL, "SWITCHBOARD_TOKEN="+created.Secret)
	require.Contains(t, ci.ok("key", "list"), created.APIKey.ID)

	// Revoked: every use fails with one line and a hint.
	require.Contains(t, me.ok("key", "revoke", created.APIKey.ID), "Revoked")
	r = bot.fails(1, "org", "list")
	require.Contains(t, r.stderr, "credentials")
	require.Equal(t, 2, strings.Count(r.stderr, "\n"), r.stderr)
	ci.fails(1, "key", "list")
	require.Contains(t, me.ok("key", "list", "--org", u.OrgID), "revoked")

	// Other tenants' things are not found.
	other := env.SignUp(t, "Eve")
	r = me.fails(1, "org", "get", other.OrgID)
	require.Contains(t, r.stderr, "not found")

	// Log out: the session ends and the file goes.
	require.Contains(t, me.ok("logout"), "Logged out")
	_, err = os.Stat(path)
	require.ErrorIs(t, err, os.ErrNotExist)
	me.fails(1, "org", "list", "--api-url", env.URL)
	require.Contains(t, me.ok("logout"), "Not logged in")
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	c := newCLI(t, "SWITCHBOARD_API_URL=http://127.0.0.1:1", "SWITCHBOARD_TOKEN=sb_key_x")
	for _, args := range [][]string{
		{"bogus"},
		{"org", "bogus"},
		{"key", "list", "--nope"},
		{"org", "get"},
		{"org", "get", "a", "b"},
		{"instance", "create", "edge"},
		{"instance", "create", "edge", "--kind", "teapot"},
		{"key", "create", "ci", "--role", "king"},
		{"org", "list", "-o", "xml"},
		{"config", "apply", "ins_1"},
		{"login", "--api-key", "k", "--email", "a@b.c"},
	} {
		r := c.fails(2, args...)
		require.Contains(t, r.stderr, "--help", "%v", args)
	}
	// Unreachable server: exit 1 with a hint about the URL.
	r := c.fails(1, "org", "list")
	require.Contains(t, r.stderr, "cannot reach")
	// No terminal and no --password-stdin: a usage error, not a hang.
	c.fails(2, "login", "--email", "a@example.com")
}

func TestHelpHasExamples(t *testing.T) {
	t.Parallel()
	root := newRoot(&app{})
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		require.NotEmpty(t, c.Example, "%s has no example", c.CommandPath())
		require.NotEmpty(t, c.Short, "%s has no short help", c.CommandPath())
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)

	out := newCLI(t).ok("instance", "create", "--help")
	require.Contains(t, out, "Examples:")
	require.Contains(t, newCLI(t).ok("completion", "bash"), "bash completion")
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}
