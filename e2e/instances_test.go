package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/apitest"
	"github.com/switchboardhq/switchboard/compile"
	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
	"github.com/switchboardhq/switchboard/postgres/pgtest"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds switchboard, localfly and the stand-in data-plane image
// once per test binary.
func binaries(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "e2e-bin")
		if buildErr != nil {
			return
		}
		for pkg, name := range map[string]string{
			"../cmd/switchboard": "switchboard", "../cmd/localfly": "localfly",
			"../infra/localfly/testdata/echoserver": "standin",
			"../cmd/breaker":                        "breaker", "../cmd/realtime": "realtime", "../cmd/sbctl": "sbctl",
		} {
			out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, name), pkg).CombinedOutput()
			if err != nil {
				buildErr = fmt.Errorf("build %s: %v\n%s", pkg, err, out)
				return
			}
		}
	})
	require.NoError(t, buildErr)
	return binDir
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// proc is a running program whose output is kept for failures.
type proc struct {
	cmd    *exec.Cmd
	logs   *syncBuffer
	exited chan struct{} // closed when the process has exited
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func start(t *testing.T, name string, env []string, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), logs: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	// If the test binary dies (a timeout panic skips cleanups), so do its
	// servers; SIGTERM lets localfly take its machines down with it.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	require.NoError(t, p.cmd.Start())
	go func() {
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("%s output:\n%s", name, p.logs.String())
		}
	})
	return p
}

// stop asks the process to shut down and kills it if it has not within 10 s.
func (p *proc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// kill9 kills the process with SIGKILL: no shutdown, no cleanup.
func (p *proc) kill9(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Kill())
	<-p.exited
}

func waitHTTP(t *testing.T, url string) {
	t.Helper()
	require.Eventually(t, func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode < 500
	}, 60*time.Second, 50*time.Millisecond, "%s never answered", url)
}

// stack is localfly, an API process and (restartable) worker processes on
// one fresh database.
type stack struct {
	bin, dbURL, flyURL, apiURL string
	// env is what both switchboard processes share: database, signing keys,
	// and an S3 endpoint that refuses connections (publishing is not under
	// test here; its jobs just retry).
	env   []string
	pool  *pgxpool.Pool
	api   apitest.Clients
	owner *apitest.User
}

const flyToken = "e2e-fly-token"

func newStack(t *testing.T) *stack {
	t.Helper()
	s := &stack{bin: binaries(t), dbURL: pgtest.NewDatabase(t)}
	key, err := compile.GenerateKey()
	require.NoError(t, err)
	kr, err := compile.NewKeyring(key)
	require.NoError(t, err)
	s.env = []string{"DATABASE_URL=" + s.dbURL, "SWITCHBOARD_SIGNING_KEYS=" + kr.Encode(), "S3_ENDPOINT=http://127.0.0.1:1"}
	spec, err := filepath.Abs("../../shared/specs/fly-machines-api.swagger.json")
	require.NoError(t, err)
	standin := filepath.Join(s.bin, "standin")
	flyAddr := freeAddr(t)
	start(t, "localfly", nil, filepath.Join(s.bin, "localfly"), "--addr", flyAddr, "--token", flyToken, "--spec", spec,
		"--image", "switchboard/breaker="+standin, "--image", "switchboard/realtime="+standin)
	s.flyURL = "http://" + flyAddr
	waitHTTP(t, s.flyURL+"/v1/apps")

	apiAddr := freeAddr(t)
	start(t, "api", s.env, filepath.Join(s.bin, "switchboard"), "serve", "--roles=api", "--addr", apiAddr)
	s.apiURL = "http://" + apiAddr
	waitHTTP(t, s.apiURL+"/healthz")
	s.api = apitest.NewClients(http.DefaultClient, s.apiURL)

	s.pool, err = pgxpool.New(context.Background(), s.dbURL)
	require.NoError(t, err)
	t.Cleanup(s.pool.Close)

	email := fmt.Sprintf("e2e-%d@example.com", time.Now().UnixNano())
	res, err := s.api.Auth.SignUp(context.Background(), &switchboardv1.SignUpRequest{Email: email, Password: "correct horse battery", Name: "E2E"})
	require.NoError(t, err)
	s.owner = &apitest.User{ID: res.User.Id, Email: email, Token: res.SessionToken, OrgID: res.Organization.Id}
	_, err = s.pool.Exec(context.Background(), `UPDATE organizations SET instance_quota = 100 WHERE id = $1`, s.owner.OrgID)
	require.NoError(t, err)
	return s
}

// worker starts `switchboard serve --roles=worker`; hangAfter holds
// provisioning after that step so the test can kill it there.
func (s *stack) worker(t *testing.T, hangAfter string) *proc {
	t.Helper()
	env := append(slices.Clone(s.env), "FLY_API_TOKEN="+flyToken, "FLY_FLAPS_BASE_URL="+s.flyURL, "LOCALFLY=1",
		"SWITCHBOARD_JOB_TIMEOUT=5s", "SWITCHBOARD_RESCUE_AFTER=6s", "SWITCHBOARD_RECONCILE_INTERVAL=2s",
		"SWITCHBOARD_HANG_AFTER_STEP="+hangAfter)
	p := start(t, "worker", env, filepath.Join(s.bin, "switchboard"), "serve", "--roles=worker", "--addr", "127.0.0.1:0")
	return p
}

func (s *stack) create(t *testing.T, name string) string {
	t.Helper()
	res, err := s.api.Instances.CreateInstance(s.owner.Ctx(), &switchboardv1.CreateInstanceRequest{
		OrganizationId: s.owner.OrgID, Name: name, Kind: switchboardv1.InstanceKind_INSTANCE_KIND_BREAKER,
	})
	require.NoError(t, err)
	return res.Instance.Id
}

func (s *stack) waitState(t *testing.T, id string, state switchboardv1.InstanceState, within time.Duration) *switchboardv1.Instance {
	t.Helper()
	var last *switchboardv1.Instance
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		res, err := s.api.Instances.GetInstance(s.owner.Ctx(), &switchboardv1.GetInstanceRequest{Id: id})
		require.NoError(t, err)
		last = res.Instance
		if last.State == state {
			return last
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("instance %s never reached %s; last %s %q %q", id, state, last.State, last.StateDetail, last.FailureReason)
	return nil
}

// flyGet reads localfly's Machines API directly.
func (s *stack) flyGet(t *testing.T, path string, out any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.flyURL+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+flyToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, path)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(out))
}

// inventory maps every app in localfly to its machines that are not destroyed.
func (s *stack) inventory(t *testing.T) map[string][]string {
	t.Helper()
	var apps struct {
		Apps []struct{ Name string } `json:"apps"`
	}
	s.flyGet(t, "/v1/apps?org_slug=personal", &apps)
	out := map[string][]string{}
	for _, a := range apps.Apps {
		var ms []struct{ ID, State string }
		s.flyGet(t, "/v1/apps/"+a.Name+"/machines", &ms)
		out[a.Name] = []string{}
		for _, m := range ms {
			if m.State != "destroyed" {
				out[a.Name] = append(out[a.Name], m.ID)
			}
		}
	}
	return out
}

// TestWorkerCrashAtEachStep kills -9 the worker process right after each
// provisioning checkpoint; a restarted worker must finish with exactly one
// app and one machine, and no orphans.
func TestWorkerCrashAtEachStep(t *testing.T) {
	t.Parallel()
	for _, step := range []string{"app", "secret", "machine", "started"} {
		t.Run(step, func(t *testing.T) {
			t.Parallel()
			s := newStack(t)
			w := s.worker(t, step)
			ids := []string{s.create(t, "crash-a"), s.create(t, "crash-b")}
			require.Eventually(t, func() bool { return strings.Contains(w.logs.String(), "hanging after step") },
				60*time.Second, 20*time.Millisecond, "the worker never reached step %s", step)
			w.kill9(t)

			s.worker(t, "")
			for _, id := range ids {
				s.waitState(t, id, switchboardv1.InstanceState_INSTANCE_STATE_RUNNING, 120*time.Second)
			}
			inv := s.inventory(t)
			require.Len(t, inv, len(ids), "one app per instance, no orphans: %v", inv)
			for _, id := range ids {
				require.Len(t, inv[switchboard.AppName(id)], 1, "one machine for %s: %v", id, inv)
				var live int
				require.NoError(t, s.pool.QueryRow(context.Background(),
					`SELECT count(*) FROM data_plane_tokens WHERE instance_id = $1 AND revoked_at IS NULL`, id).Scan(&live))
				require.Equal(t, 1, live)
			}
		})
	}
}

// TestTwentyInstancesUpAndDown creates 20 instances over real processes,
// waits for all to run, deletes them all and expects nothing left.
func TestTwentyInstancesUpAndDown(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.worker(t, "")
	var ids []string
	for i := range 20 {
		ids = append(ids, s.create(t, fmt.Sprintf("fleet-%d", i)))
	}
	for _, id := range ids {
		s.waitState(t, id, switchboardv1.InstanceState_INSTANCE_STATE_RUNNING, 120*time.Second)
	}
	inv := s.inventory(t)
	require.Len(t, inv, 20)
	for _, id := range ids {
		require.Len(t, inv[switchboard.AppName(id)], 1)
	}
	for _, id := range ids {
		_, err := s.api.Instances.DeleteInstance(s.owner.Ctx(), &switchboardv1.DeleteInstanceRequest{Id: id})
		require.NoError(t, err)
	}
	for _, id := range ids {
		s.waitState(t, id, switchboardv1.InstanceState_INSTANCE_STATE_DELETED, 120*time.Second)
	}
	require.Empty(t, s.inventory(t))
	var active int
	require.NoError(t, s.pool.QueryRow(context.Background(), `SELECT count(*) FROM instances WHERE state <> 'deleted'`).Scan(&active))
	require.Zero(t, active)
}
