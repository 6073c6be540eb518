package localfly

import (
	"encoding/json"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	fly "github.com/superfly/fly-go"
	"github.com/superfly/fly-go/flaps"
)

func echoConfig(meta map[string]string) *fly.MachineConfig {
	return &fly.MachineConfig{
		Image:    testImage + ":v1",
		Env:      map[string]string{"SWITCHBOARD_INSTANCE_ID": "ins_1"},
		Metadata: meta,
		Guest:    &fly.MachineGuest{CPUKind: "shared", CPUs: 1, MemoryMB: 256},
		Services: []fly.MachineService{{Protocol: "tcp", InternalPort: 8080}},
	}
}

func waitState(t *testing.T, b *bundle, app, id, state string) {
	t.Helper()
	require.NoError(t, b.flaps.Wait(t.Context(), app, id, flaps.WithWaitStates(state), flaps.WithWaitTimeout(10*time.Second)))
}

func TestMachineLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	const app = "lifecycle"
	b.createApp(t, app)
	_, err := b.flaps.SetAppSecret(ctx, app, "SWITCHBOARD_DP_TOKEN", "sb_dp_123")
	require.NoError(t, err)

	m, err := b.flaps.Launch(ctx, app, fly.LaunchMachineInput{
		Region: "fra",
		Config: echoConfig(map[string]string{"switchboard_instance_id": "ins_1", "switchboard_generation": "1"}),
	})
	require.NoError(t, err)
	require.Len(t, m.ID, 14)
	require.Equal(t, "created", m.State)
	require.Equal(t, "fra", m.Region)
	require.NotEmpty(t, m.InstanceID)
	require.NotEmpty(t, m.PrivateIP)
	require.Equal(t, "echo", m.ImageRef.Repository)
	waitState(t, b, app, m.ID, "started")

	addr := b.address(t, m.ID)
	require.Equal(t, 8080, addr.InternalPort)
	require.Equal(t, "ok", get(t, addr.URL+"/healthz"))
	var env map[string]string
	require.NoError(t, json.Unmarshal([]byte(get(t, addr.URL+"/env")), &env))
	require.Equal(t, "sb_dp_123", env["SWITCHBOARD_DP_TOKEN"])
	require.Equal(t, "ins_1", env["SWITCHBOARD_INSTANCE_ID"])
	require.Equal(t, m.ID, env["FLY_MACHINE_ID"])
	require.Equal(t, app, env["FLY_APP_NAME"])
	require.Equal(t, "fra", env["FLY_REGION"])
	require.Equal(t, addr.URL, "http://127.0.0.1:"+env["PORT"])

	// A second machine with other metadata, never started.
	other, err := b.flaps.Launch(ctx, app, fly.LaunchMachineInput{
		SkipLaunch: true,
		Config:     echoConfig(map[string]string{"switchboard_instance_id": "ins_2"}),
	})
	require.NoError(t, err)
	list, err := b.flaps.List(ctx, app, "metadata.switchboard_instance_id=ins_1")
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, m.ID, list[0].ID)
	all, err := b.flaps.List(ctx, app, "")
	require.NoError(t, err)
	require.Len(t, all, 2)

	require.NoError(t, b.flaps.Stop(ctx, app, fly.StopMachineInput{ID: m.ID}, ""))
	waitState(t, b, app, m.ID, "stopped")
	_, err = b.flaps.Start(ctx, app, m.ID, "")
	require.NoError(t, err)
	waitState(t, b, app, m.ID, "started")
	_, err = b.flaps.Start(ctx, app, m.ID, "")
	require.Equal(t, http.StatusPreconditionFailed, flapsStatus(err))

	pid := b.address(t, m.ID).PID
	require.NoError(t, b.flaps.Restart(ctx, app, fly.RestartMachineInput{ID: m.ID}, ""))
	waitState(t, b, app, m.ID, "started")
	require.NotEqual(t, pid, b.address(t, m.ID).PID)
	require.Equal(t, "ok", get(t, addr.URL+"/healthz"))

	// Update: new instance, new env, same URL.
	cfg := echoConfig(map[string]string{"switchboard_instance_id": "ins_1", "switchboard_generation": "2"})
	cfg.Env["SWITCHBOARD_INSTANCE_ID"] = "ins_1b"
	updated, err := b.flaps.Update(ctx, app, fly.LaunchMachineInput{ID: m.ID, Config: cfg}, "")
	require.NoError(t, err)
	require.NotEqual(t, m.InstanceID, updated.InstanceID)
	require.NoError(t, b.flaps.Wait(ctx, app, m.ID, flaps.WithWaitStates("started"), flaps.WithWaitVersion(updated.InstanceID)))
	require.NoError(t, json.Unmarshal([]byte(get(t, addr.URL+"/env")), &env))
	require.Equal(t, "ins_1b", env["SWITCHBOARD_INSTANCE_ID"])

	require.NoError(t, b.flaps.SetMetadata(ctx, app, m.ID, "extra", "yes"))
	meta, err := b.flaps.GetMetadata(ctx, app, m.ID)
	require.NoError(t, err)
	require.Equal(t, "yes", meta["extra"])
	require.NoError(t, b.flaps.DeleteMetadata(ctx, app, m.ID, "extra"))

	// A running machine is destroyed only with force/kill.
	err = b.flaps.Destroy(ctx, app, fly.RemoveMachineInput{ID: m.ID}, "")
	require.Equal(t, http.StatusPreconditionFailed, flapsStatus(err))
	require.NoError(t, b.flaps.Destroy(ctx, app, fly.RemoveMachineInput{ID: m.ID, Kill: true}, ""))
	waitState(t, b, app, m.ID, "destroyed")
	require.NoError(t, b.flaps.Destroy(ctx, app, fly.RemoveMachineInput{ID: other.ID}, ""))

	all, err = b.flaps.List(ctx, app, "")
	require.NoError(t, err)
	require.Empty(t, all)
	all, err = b.flaps.List(ctx, app, "include_deleted=true")
	require.NoError(t, err)
	require.Len(t, all, 2)

	destroyed, err := b.flaps.Get(ctx, app, m.ID)
	require.NoError(t, err)
	require.Equal(t, "destroyed", destroyed.State)
	require.NotNil(t, destroyed.GetLatestEventOfType("destroy"))
	resp, _ := b.do(t, http.MethodGet, "/v1/apps/"+app+"/machines/"+m.ID+"/events", b.token, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)

	_, err = b.flaps.Get(ctx, app, "00000000000000")
	require.Equal(t, http.StatusNotFound, flapsStatus(err))
	require.ErrorContains(t, err, "machine not found")
}

func TestWaitTimeout(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createApp(t, "wait-app")
	m, err := b.flaps.Launch(t.Context(), "wait-app", fly.LaunchMachineInput{SkipLaunch: true, Config: echoConfig(nil)})
	require.NoError(t, err)

	start := time.Now()
	err = b.flaps.Wait(t.Context(), "wait-app", m.ID, flaps.WithWaitStates("started"), flaps.WithWaitTimeout(time.Second))
	require.Equal(t, http.StatusRequestTimeout, flapsStatus(err))
	require.ErrorContains(t, err, "deadline_exceeded")
	require.Less(t, time.Since(start), 5*time.Second)
}

func TestCrashFollowsRestartPolicy(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createApp(t, "crash-app")
	cfg := echoConfig(nil)
	cfg.Restart = &fly.MachineRestart{Policy: fly.MachineRestartPolicyNo}
	m, err := b.flaps.Launch(t.Context(), "crash-app", fly.LaunchMachineInput{Config: cfg})
	require.NoError(t, err)
	waitState(t, b, "crash-app", m.ID, "started")

	url := b.address(t, m.ID).URL
	get(t, url+"/healthz")
	resp, err := http.Post(url+"/exit?code=3", "text/plain", nil)
	require.NoError(t, err)
	resp.Body.Close()
	waitState(t, b, "crash-app", m.ID, "stopped")

	got, err := b.flaps.Get(t.Context(), "crash-app", m.ID)
	require.NoError(t, err)
	exit := got.GetLatestEventOfType("exit")
	require.NotNil(t, exit)
	code, err := exit.Request.GetExitCode()
	require.NoError(t, err)
	require.Equal(t, 3, code)
}

func TestStopEscalatesToSIGKILL(t *testing.T) {
	t.Parallel()
	b := setup(t, func(p *Params) { p.StopTimeout = 300 * time.Millisecond })
	b.createApp(t, "stubborn")
	cfg := echoConfig(nil)
	cfg.Env["IGNORE_SIGTERM"] = "1"
	m, err := b.flaps.Launch(t.Context(), "stubborn", fly.LaunchMachineInput{Config: cfg})
	require.NoError(t, err)
	waitState(t, b, "stubborn", m.ID, "started")
	get(t, b.address(t, m.ID).URL+"/healthz")

	require.NoError(t, b.flaps.Stop(t.Context(), "stubborn", fly.StopMachineInput{ID: m.ID}, ""))
	waitState(t, b, "stubborn", m.ID, "stopped")
}

func TestCloseKillsProcesses(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createApp(t, "closing")
	m, err := b.flaps.Launch(t.Context(), "closing", fly.LaunchMachineInput{Config: echoConfig(nil)})
	require.NoError(t, err)
	waitState(t, b, "closing", m.ID, "started")
	pid := b.address(t, m.ID).PID
	require.NotZero(t, pid)

	require.NoError(t, b.srv.Close())
	require.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH)
}

func TestCreateRejects(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	b.createApp(t, "rejects")

	_, err := b.flaps.Launch(ctx, "rejects", fly.LaunchMachineInput{Config: &fly.MachineConfig{Image: "nope/unknown:1"}})
	require.Equal(t, http.StatusUnprocessableEntity, flapsStatus(err))
	require.ErrorContains(t, err, "image not found")

	_, err = b.flaps.Launch(ctx, "rejects", fly.LaunchMachineInput{Region: "mars", Config: echoConfig(nil)})
	require.Equal(t, http.StatusBadRequest, flapsStatus(err))

	cfg := echoConfig(nil)
	cfg.Guest = &fly.MachineGuest{CPUKind: "shared", CPUs: 3}
	_, err = b.flaps.Launch(ctx, "rejects", fly.LaunchMachineInput{Config: cfg})
	require.Equal(t, http.StatusBadRequest, flapsStatus(err))

	_, err = b.flaps.Launch(ctx, "no-such-app", fly.LaunchMachineInput{Config: echoConfig(nil)})
	require.Equal(t, http.StatusNotFound, flapsStatus(err))
}

func TestSpecValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createApp(t, "spec-app")

	resp, body := b.do(t, http.MethodPost, "/v1/apps/spec-app/machines", b.token,
		`{"config": {"image": "`+testImage+`", "guest": {"cpus": "two"}}}`)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Contains(t, body["error"], "cpus")

	resp, _ = b.do(t, http.MethodPost, "/v1/apps/spec-app/machines", b.token, `{"region": 7}`)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)

	resp, _ = b.do(t, http.MethodGet, "/v1/apps/spec-app/machines/00000000000000/wait?timeout=soon", b.token, "")
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)

	// The same shapes fly-go sends pass (see specExceptions).
	resp, body = b.do(t, http.MethodPost, "/v1/apps/spec-app/machines", b.token,
		`{"skip_launch": true, "config": {"image": "`+testImage+`", "init": {}, "services": [{"internal_port": 8080, "autostop": "suspend", "force_instance_key": null}], "stop_config": {"timeout": "3s"}}}`)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
}

func TestStopAcceptsSpecDuration(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createApp(t, "stop-spec")
	m, err := b.flaps.Launch(t.Context(), "stop-spec", fly.LaunchMachineInput{Config: echoConfig(nil)})
	require.NoError(t, err)
	waitState(t, b, "stop-spec", m.ID, "started")

	resp, body := b.do(t, http.MethodPost, "/v1/apps/stop-spec/machines/"+m.ID+"/stop", b.token,
		`{"signal": "SIGINT", "timeout": {"time.Duration": 1000000000}}`)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	waitState(t, b, "stop-spec", m.ID, "stopped")
}
