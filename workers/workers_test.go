package workers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/apitest"
	"github.com/switchboardhq/switchboard/fly"
	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
	"github.com/switchboardhq/switchboard/infra/localfly"
	"github.com/switchboardhq/switchboard/workers"
)

const specPath = "../../shared/specs/fly-machines-api.swagger.json"

// standin is the machine image until the data planes exist: localfly's test
// echo server, which serves /healthz and /env.
var standin string

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "workers-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	standin = filepath.Join(dir, "standin")
	build := exec.Command("go", "build", "-o", standin, "../infra/localfly/testdata/echoserver")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build stand-in image:", err)
		return 1
	}
	return m.Run()
}

type bundle struct {
	env      *apitest.Env
	owner    *apitest.User
	fly      *localfly.Server
	flyURL   string
	machines *fly.Provider
	params   workers.Params
}

const flyToken = "test-fly-token"

// envMu serializes FLY_FLAPS_BASE_URL: fly-go reads it only while building
// a client, so parallel tests can each point one at their own localfly.
var envMu sync.Mutex

func newProvider(t *testing.T, url string) *fly.Provider {
	t.Helper()
	envMu.Lock()
	defer envMu.Unlock()
	old, had := os.LookupEnv("FLY_FLAPS_BASE_URL")
	require.NoError(t, os.Setenv("FLY_FLAPS_BASE_URL", url))
	defer func() {
		if had {
			_ = os.Setenv("FLY_FLAPS_BASE_URL", old)
		} else {
			_ = os.Unsetenv("FLY_FLAPS_BASE_URL")
		}
	}()
	p, err := fly.New(context.Background(), fly.Params{Token: flyToken, Org: "personal", LocalBaseURL: url})
	require.NoError(t, err)
	return p
}

type option func(*localfly.Params, *workers.Params)

// setup runs the API on a fresh database, a localfly, and River workers.
func setup(t *testing.T, opts ...option) *bundle {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	lp := localfly.Params{
		Logger: logger, Token: flyToken, SpecPath: specPath, StopTimeout: 2 * time.Second,
		Images: map[string]string{"switchboard/breaker": standin, "switchboard/realtime": standin},
	}
	env := apitest.New(t)
	b := &bundle{env: env, owner: env.SignUp(t, "Owner")}
	wp := workers.Params{Store: env.Services.InstanceStore, Logger: logger,
		Config: switchboard.WorkerConfig{CDNURL: "http://cdn.test", APIURL: env.URL, HealthTimeout: 10 * time.Second}}
	for _, o := range opts {
		o(&lp, &wp)
	}
	srv, err := localfly.New(lp)
	require.NoError(t, err)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.Close()
		_ = srv.Close()
	})
	b.fly, b.flyURL = srv, hs.URL
	b.machines = newProvider(t, hs.URL)
	wp.Machines = b.machines
	b.params = wp

	w := river.NewWorkers()
	workers.Register(w, wp)
	client, err := river.NewClient(riverpgxv5.New(env.DB.Pool), &river.Config{
		Logger:            logger,
		Workers:           w,
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 30}},
		FetchCooldown:     20 * time.Millisecond,
		FetchPollInterval: 50 * time.Millisecond,
		RetryPolicy:       workers.RetryPolicy{Base: 50 * time.Millisecond, Max: 500 * time.Millisecond},
		MaxAttempts:       50,
	})
	require.NoError(t, err)
	require.NoError(t, client.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.Stop(ctx)
	})
	_, err = env.DB.Pool.Exec(context.Background(), `UPDATE organizations SET instance_quota = 100 WHERE id = $1`, b.owner.OrgID)
	require.NoError(t, err)
	return b
}

func (b *bundle) create(t *testing.T, name string, mod ...func(*switchboardv1.CreateInstanceRequest)) *switchboardv1.Instance {
	t.Helper()
	req := &switchboardv1.CreateInstanceRequest{OrganizationId: b.owner.OrgID, Name: name, Kind: switchboardv1.InstanceKind_INSTANCE_KIND_BREAKER}
	for _, m := range mod {
		m(req)
	}
	res, err := b.env.Instances.CreateInstance(b.owner.Ctx(), req)
	require.NoError(t, err)
	return res.Instance
}

// waitState polls GetInstance until the instance is in state.
func (b *bundle) waitState(t *testing.T, id string, state switchboardv1.InstanceState, within time.Duration) *switchboardv1.Instance {
	t.Helper()
	deadline := time.Now().Add(within)
	var last *switchboardv1.Instance
	for time.Now().Before(deadline) {
		res, err := b.env.Instances.GetInstance(b.owner.Ctx(), &switchboardv1.GetInstanceRequest{Id: id})
		require.NoError(t, err)
		last = res.Instance
		if last.State == state {
			return last
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("instance %s: want %s, last %s (%q, %q)", id, state, last.State, last.StateDetail, last.FailureReason)
	return nil
}

func (b *bundle) record(t *testing.T, id string) *switchboard.InstanceRecord {
	t.Helper()
	rec, err := b.env.Services.InstanceStore.LoadInstance(context.Background(), id)
	require.NoError(t, err)
	return rec
}

// ours lists every machine in localfly carrying an instance id, by app.
func (b *bundle) ours(t *testing.T) map[string][]*switchboard.Machine {
	t.Helper()
	ctx := context.Background()
	apps, err := b.machines.ListApps(ctx)
	require.NoError(t, err)
	out := map[string][]*switchboard.Machine{}
	for _, a := range apps {
		ms, err := b.machines.ListMachines(ctx, a.Name, nil)
		require.NoError(t, err)
		out[a.Name] = ms
	}
	return out
}

func (b *bundle) setFaults(t *testing.T, f localfly.Faults) {
	t.Helper()
	body, err := json.Marshal(f)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPut, b.flyURL+"/localfly/faults", strings.NewReader(string(body)))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+flyToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

func getJSON(t *testing.T, url string, out any) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(out))
}

func TestProvisionRunsAndDeleteRemovesEverything(t *testing.T) {
	t.Parallel()
	b := setup(t)
	inst := b.create(t, "first")
	running := b.waitState(t, inst.Id, switchboardv1.InstanceState_INSTANCE_STATE_RUNNING, 30*time.Second)
	require.Equal(t, "running", running.StateDetail)
	require.NotEmpty(t, running.EndpointUrl)

	// The machine got its identity, control-plane URLs and data-plane token.
	var env map[string]string
	getJSON(t, running.EndpointUrl+"/env", &env)
	require.Equal(t, inst.Id, env["SWITCHBOARD_INSTANCE_ID"])
	require.Equal(t, "http://cdn.test", env["SWITCHBOARD_CDN_URL"])
	require.Equal(t, b.env.URL, env["SWITCHBOARD_API_URL"])
	token := env[workers.SecretDataPlaneToken]
	parsed, ok := switchboard.ParseToken(token)
	require.True(t, ok, "token %q", token)
	rec := b.record(t, inst.Id)
	require.Equal(t, rec.DataPlaneTokenID, parsed.ID)
	var hash []byte
	require.NoError(t, b.env.DB.Pool.QueryRow(context.Background(),
		`SELECT secret_hash FROM data_plane_tokens WHERE id = $1 AND revoked_at IS NULL`, parsed.ID).Scan(&hash))
	require.True(t, switchboard.TokenMatches(parsed.Hash, hash))

	all := b.ours(t)
	require.Len(t, all, 1)
	ms := all[switchboard.AppName(inst.Id)]
	require.Len(t, ms, 1)
	require.Equal(t, rec.FlyMachineID, ms[0].ID)
	require.Equal(t, "1", ms[0].Metadata[switchboard.MetadataGeneration])

	// Restart keeps the machine.
	_, err := b.env.Instances.RestartInstance(b.owner.Ctx(), &switchboardv1.RestartInstanceRequest{Id: inst.Id})
	require.NoError(t, err)
	b.waitState(t, inst.Id, switchboardv1.InstanceState_INSTANCE_STATE_RUNNING, 30*time.Second)
	require.Equal(t, rec.FlyMachineID, b.record(t, inst.Id).FlyMachineID)

	_, err = b.env.Instances.DeleteInstance(b.owner.Ctx(), &switchboardv1.DeleteInstanceRequest{Id: inst.Id})
	require.NoError(t, err)
	b.waitState(t, inst.Id, switchboardv1.InstanceState_INSTANCE_STATE_DELETED, 30*time.Second)
	require.Empty(t, b.ours(t))
	var live int
	require.NoError(t, b.env.DB.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM data_plane_tokens WHERE instance_id = $1 AND revoked_at IS NULL`, inst.Id).Scan(&live))
	require.Zero(t, live)
}

func TestProvisionUnderFaultsMakesNoDuplicates(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.setFaults(t, localfly.Faults{ErrorRate: 0.2, Burst429: 10, RetryAfterSeconds: 1, LatencyMS: 20})
	const n = 20
	ids := make([]string, n)
	for i := range n {
		ids[i] = b.create(t, fmt.Sprintf("faulty-%d", i)).Id
	}
	for _, id := range ids {
		b.waitState(t, id, switchboardv1.InstanceState_INSTANCE_STATE_RUNNING, 120*time.Second)
	}
	b.setFaults(t, localfly.Faults{})
	all := b.ours(t)
	require.Len(t, all, n, "exactly one app per instance")
	for _, id := range ids {
		ms := all[switchboard.AppName(id)]
		require.Len(t, ms, 1, "instance %s", id)
		require.Equal(t, b.record(t, id).FlyMachineID, ms[0].ID)
		var live int
		require.NoError(t, b.env.DB.Pool.QueryRow(context.Background(),
			`SELECT count(*) FROM data_plane_tokens WHERE instance_id = $1 AND revoked_at IS NULL`, id).Scan(&live))
		require.Equal(t, 1, live, "one live token for %s", id)
	}
}

func TestPermanentErrorFailsWithReason(t *testing.T) {
	t.Parallel()
	b := setup(t, func(lp *localfly.Params, _ *workers.Params) {
		lp.Images = map[string]string{"switchboard/breaker": standin} // no realtime image
	})
	inst := b.create(t, "no-image", func(r *switchboardv1.CreateInstanceRequest) {
		r.Kind = switchboardv1.InstanceKind_INSTANCE_KIND_REALTIME
	})
	failed := b.waitState(t, inst.Id, switchboardv1.InstanceState_INSTANCE_STATE_FAILED, 30*time.Second)
	require.Contains(t, failed.FailureReason, "creating the machine failed")
	require.Contains(t, failed.FailureReason, "switchboard/realtime")
	require.Eventually(t, func() bool {
		var state string
		require.NoError(t, b.env.DB.Pool.QueryRow(context.Background(),
			`SELECT state FROM river_job WHERE kind = 'provision_instance' AND args->>'instance_id' = $1`, inst.Id).Scan(&state))
		return state == "cancelled"
	}, 5*time.Second, 20*time.Millisecond, "the job is cancelled, not retried")
}

func TestCapacityFallsBackToAnotherRegion(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.setFaults(t, localfly.Faults{NoCapacityRegions: []string{"iad"}})
	inst := b.create(t, "elsewhere", func(r *switchboardv1.CreateInstanceRequest) { r.AllowRegionFallback = true })
	running := b.waitState(t, inst.Id, switchboardv1.InstanceState_INSTANCE_STATE_RUNNING, 30*time.Second)
	require.Equal(t, "ord", running.Region)

	// Without fallback it keeps retrying the region it was given.
	stuck := b.create(t, "stubborn")
	time.Sleep(time.Second)
	rec := b.record(t, stuck.Id)
	require.Equal(t, switchboard.StateProvisioning, rec.State)
	require.Equal(t, "creating machine", rec.StateDetail)
	b.setFaults(t, localfly.Faults{})
	running = b.waitState(t, stuck.Id, switchboardv1.InstanceState_INSTANCE_STATE_RUNNING, 30*time.Second)
	require.Equal(t, "iad", running.Region)
}

func TestReconcileRecreatesLostMachinesAndDestroysOrphans(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	inst := b.create(t, "kept")
	b.waitState(t, inst.Id, switchboardv1.InstanceState_INSTANCE_STATE_RUNNING, 30*time.Second)
	rec := b.record(t, inst.Id)
	app := switchboard.AppName(inst.Id)

	// A machine destroyed behind our back is replaced, one generation on.
	require.NoError(t, b.machines.DestroyMachine(ctx, app, rec.FlyMachineID))
	// Orphans: an instance app with no instance, and a machine carrying the
	// metadata of an instance that does not exist in an app we keep.
	ghost := switchboard.NewID(switchboard.PrefixInstance, time.Now())
	_, err := b.machines.CreateApp(ctx, switchboard.AppName(ghost))
	require.NoError(t, err)
	spec := switchboard.MachineSpec{Image: "switchboard/breaker", Region: "iad", CPUKind: "shared", CPUs: 1, MemoryMB: 256,
		InternalPort: 8080, Metadata: map[string]string{switchboard.MetadataInstanceID: ghost, switchboard.MetadataGeneration: "1"}}
	_, err = b.machines.CreateMachine(ctx, switchboard.AppName(ghost), spec)
	require.NoError(t, err)
	_, err = b.machines.CreateApp(ctx, "customer-app")
	require.NoError(t, err)
	_, err = b.machines.CreateMachine(ctx, "customer-app", spec)
	require.NoError(t, err)
	bystander := spec
	bystander.Metadata = map[string]string{"other": "x"}
	kept, err := b.machines.CreateMachine(ctx, "customer-app", bystander)
	require.NoError(t, err)

	rep, err := workers.Reconcile(ctx, b.params)
	require.NoError(t, err)
	require.Equal(t, 1, rep.Recreated)
	require.Equal(t, 1, rep.DeletedApps)
	require.Equal(t, 1, rep.DestroyedMachines)

	running := b.waitState(t, inst.Id, switchboardv1.InstanceState_INSTANCE_STATE_RUNNING, 30*time.Second)
	after := b.record(t, inst.Id)
	require.EqualValues(t, 2, after.Generation)
	require.NotEqual(t, rec.FlyMachineID, after.FlyMachineID)
	var health map[string]string
	getJSON(t, running.EndpointUrl+"/env", &health)
	require.Equal(t, inst.Id, health["SWITCHBOARD_INSTANCE_ID"])

	all := b.ours(t)
	require.Len(t, all, 2)
	require.Len(t, all[app], 1)
	require.Equal(t, "2", all[app][0].Metadata[switchboard.MetadataGeneration])
	require.Len(t, all["customer-app"], 1)
	require.Equal(t, kept.ID, all["customer-app"][0].ID)

	// A second pass finds nothing to do.
	rep, err = workers.Reconcile(ctx, b.params)
	require.NoError(t, err)
	require.Equal(t, workers.ReconcileReport{}, rep)
}
