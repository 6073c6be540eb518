package localfly

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	fly "github.com/superfly/fly-go"
)

// Fly machine states.
const (
	stateCreated    = "created"
	stateStarting   = "starting"
	stateStarted    = "started"
	stateStopping   = "stopping"
	stateStopped    = "stopped"
	stateReplacing  = "replacing"
	stateDestroying = "destroying"
	stateDestroyed  = "destroyed"
	stateFailed     = "failed"
)

// intent records why a running process is being stopped, so its exit moves
// the machine to the right state.
type intent int

const (
	intentNone     intent = iota // an exit is a crash or a clean finish
	intentStop                   // → stopped
	intentRestart                // → started again
	intentReplace                // → started again with the new config
	intentDestroy                // → destroyed
	intentShutdown               // localfly is closing → stopped
)

// Fly's default restart policy is on-failure with up to 10 retries.
const defaultMaxRetries = 10

func (s *Server) setStateLocked(m *machine, state string) {
	m.state = state
	m.updatedAt = s.now()
	m.gen++
	close(m.changed)
	m.changed = make(chan struct{})
}

// boot starts a freshly created machine unless something else happened to
// it first (a stop, a destroy, an update that started it).
func (s *Server) boot(ctx context.Context, m *machine, gen uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m.gen == gen && m.state == stateCreated && m.proc == nil {
		s.startLocked(ctx, m)
	}
}

// startLocked runs the machine's process. A process that cannot even be
// started leaves the machine "failed", as a machine whose image cannot boot.
func (s *Server) startLocked(ctx context.Context, m *machine) {
	if s.closed {
		return
	}
	m.intent = intentNone
	s.setStateLocked(m, stateStarting)
	p, err := startProcess(processSpec{
		binary: m.image.binary,
		args:   m.config.Init.Cmd,
		dir:    s.machineDir(m),
		env:    s.envLocked(m),
		log:    s.log.With("app", m.app.name, "machine", m.id),
	})
	if err != nil {
		s.log.ErrorContext(ctx, "localfly: machine failed to start", "machine", m.id, "err", err)
		s.recordLocked(m, "start", stateFailed, "flyd", nil)
		s.setStateLocked(m, stateFailed)
		return
	}
	m.proc = p
	s.procs.Add(1)
	s.recordLocked(m, "start", stateStarted, "flyd", nil)
	s.setStateLocked(m, stateStarted)
	s.log.InfoContext(ctx, "localfly: machine started", "machine", m.id, "pid", p.pid, "url", machineURL(m))
	go func() {
		<-p.done
		s.exited(m, p)
	}()
}

// machineDir is the machine's own directory (see Params.DataDir).
func (s *Server) machineDir(m *machine) string { return filepath.Join(s.dataDir, m.id) }

// envLocked is the process environment described in the package doc. Later
// entries win (os/exec keeps the last of duplicate keys).
func (s *Server) envLocked(m *machine) []string {
	env := slices.Clone(s.baseEnv)
	if !m.skipSecrets {
		for _, name := range slices.Sorted(maps.Keys(m.app.secrets)) {
			env = append(env, name+"="+m.app.secrets[name].value)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(m.config.Env)) {
		env = append(env, k+"="+m.config.Env[k])
	}
	return append(env,
		"PORT="+strconv.Itoa(m.port),
		"FLY_MACHINE_ID="+m.id,
		"FLY_APP_NAME="+m.app.name,
		"FLY_REGION="+m.region,
		"FLY_IMAGE_REF="+m.config.Image,
		"FLY_PRIVATE_IP="+m.privateIP,
		"FLY_ALLOC_ID="+m.instanceID,
	)
}

// exited moves the machine on once its process p is gone.
func (s *Server) exited(m *machine, p *process) {
	defer s.procs.Done()
	s.mu.Lock()
	defer s.mu.Unlock()
	if m.proc != p {
		return
	}
	m.proc = nil
	requested := m.intent != intentNone
	exit := &fly.MachineExitEvent{
		ExitCode:      p.exit.code,
		Signal:        p.exit.signal,
		RequestedStop: requested,
		Restarting:    m.intent == intentRestart || m.intent == intentReplace,
		ExitedAt:      p.exit.at.UTC(),
	}
	s.recordLocked(m, "exit", stateStopped, "flyd", &fly.MachineRequest{ExitEvent: exit})
	s.log.Info("localfly: machine process exited", "machine", m.id, "code", exit.ExitCode, "signal", exit.Signal, "requested", requested)

	ctx := context.Background()
	switch m.intent {
	case intentRestart, intentReplace:
		s.startLocked(ctx, m)
	case intentDestroy:
		s.finishDestroyLocked(m)
	case intentStop, intentShutdown:
		m.intent = intentNone
		s.setStateLocked(m, stateStopped)
	default:
		s.crashedLocked(ctx, m, exit.ExitCode)
	}
}

// crashedLocked applies config.restart to an exit nobody asked for.
func (s *Server) crashedLocked(ctx context.Context, m *machine, code int) {
	policy, maxRetries := fly.MachineRestartPolicyOnFailure, defaultMaxRetries
	if rp := m.config.Restart; rp != nil {
		if rp.Policy != "" {
			policy = rp.Policy
		}
		if rp.MaxRetries > 0 {
			maxRetries = rp.MaxRetries
		}
	}
	restart := policy == fly.MachineRestartPolicyAlways ||
		(policy == fly.MachineRestartPolicyOnFailure && code != 0 && m.retries < maxRetries)
	if !restart || s.closed {
		m.retries = 0
		if m.config.AutoDestroy {
			s.setStateLocked(m, stateDestroying)
			s.finishDestroyLocked(m)
			return
		}
		s.setStateLocked(m, stateStopped)
		return
	}
	m.retries++
	s.setStateLocked(m, stateStarting)
	gen := m.gen
	// Back off so a binary that dies at once does not spin.
	delay := min(time.Duration(m.retries)*200*time.Millisecond, 5*time.Second)
	time.AfterFunc(delay, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if m.gen == gen && m.proc == nil {
			s.recordLocked(m, "restart", stateStarting, "flyd", &fly.MachineRequest{RestartCount: m.retries})
			s.startLocked(ctx, m)
		}
	})
}

// stopLocked stops a running machine; a machine that is not running is left
// as it is.
func (s *Server) stopLocked(m *machine, signal string, timeout time.Duration) {
	m.retries = 0
	switch {
	case m.proc != nil:
		if m.intent != intentNone {
			return // already on its way down
		}
		m.intent = intentStop
		s.recordLocked(m, "stop", stateStopping, "user", nil)
		s.setStateLocked(m, stateStopping)
		m.proc.stop(stopSignal(m, signal), s.stopTimeoutFor(m, timeout))
	case m.state == stateStarting:
		// Waiting to restart after a crash: cancel that.
		s.recordLocked(m, "stop", stateStopped, "user", nil)
		s.setStateLocked(m, stateStopped)
	}
}

// destroyLocked destroys m, killing its process if it has one.
func (s *Server) destroyLocked(ctx context.Context, m *machine, kill bool) {
	s.recordLocked(m, "destroy", stateDestroying, "user", nil)
	s.setStateLocked(m, stateDestroying)
	s.log.InfoContext(ctx, "localfly: machine destroying", "machine", m.id)
	if m.proc == nil {
		s.finishDestroyLocked(m)
		return
	}
	m.intent = intentDestroy
	sig := stopSignal(m, "")
	if kill {
		sig = syscall.SIGKILL
	}
	m.proc.stop(sig, s.stopTimeoutFor(m, 0))
}

func (s *Server) finishDestroyLocked(m *machine) {
	_ = os.RemoveAll(s.machineDir(m))
	m.intent = intentNone
	m.lease = nil
	s.recordLocked(m, "destroy", stateDestroyed, "flyd", nil)
	s.setStateLocked(m, stateDestroyed)
}

// stopSignal is the request's signal, else config.stop_config.signal, else
// SIGTERM.
func stopSignal(m *machine, requested string) syscall.Signal {
	name := requested
	if name == "" && m.config.StopConfig != nil && m.config.StopConfig.Signal != nil {
		name = *m.config.StopConfig.Signal
	}
	if sig, ok := parseSignal(name); ok {
		return sig
	}
	return syscall.SIGTERM
}

// parseSignal accepts the signal names Fly's API does.
func parseSignal(name string) (syscall.Signal, bool) {
	switch name {
	case "SIGABRT":
		return syscall.SIGABRT, true
	case "SIGALRM":
		return syscall.SIGALRM, true
	case "SIGHUP":
		return syscall.SIGHUP, true
	case "SIGINT":
		return syscall.SIGINT, true
	case "SIGKILL":
		return syscall.SIGKILL, true
	case "SIGQUIT":
		return syscall.SIGQUIT, true
	case "SIGTERM":
		return syscall.SIGTERM, true
	case "SIGUSR1":
		return syscall.SIGUSR1, true
	case "SIGUSR2":
		return syscall.SIGUSR2, true
	}
	return 0, false
}

// stopTimeoutFor is the request's timeout, else config.stop_config.timeout,
// else the server's default.
func (s *Server) stopTimeoutFor(m *machine, requested time.Duration) time.Duration {
	if requested > 0 {
		return requested
	}
	if sc := m.config.StopConfig; sc != nil && sc.Timeout != nil && sc.Timeout.Duration > 0 {
		return sc.Timeout.Duration
	}
	return s.stopTimeout
}

func machineURL(m *machine) string { return fmt.Sprintf("http://127.0.0.1:%d", m.port) }
