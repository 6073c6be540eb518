package localfly

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// process is a machine's main process, run in its own process group so that
// stopping it also stops whatever it started.
type process struct {
	cmd  *exec.Cmd
	pid  int
	done chan struct{} // closed once the process has exited and exit is set
	exit processExit
}

type processExit struct {
	code   int
	signal int
	at     time.Time
}

type processSpec struct {
	binary string
	args   []string
	dir    string // created if missing; the working directory, HOME and XDG_CACHE_HOME
	env    []string
	log    *slog.Logger
}

func startProcess(spec processSpec) (*process, error) {
	if err := os.MkdirAll(filepath.Join(spec.dir, ".cache"), 0o700); err != nil {
		return nil, fmt.Errorf("machine directory: %w", err)
	}
	cmd := exec.Command(spec.binary, spec.args...)
	cmd.Dir = spec.dir
	cmd.Env = append([]string{"HOME=" + spec.dir, "XDG_CACHE_HOME=" + filepath.Join(spec.dir, ".cache")}, spec.env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stdout = &lineLogger{log: spec.log, stream: "stdout"}
	cmd.Stderr = &lineLogger{log: spec.log, stream: "stderr"}
	// A grandchild that keeps stdout open must not keep Wait from returning.
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.binary, err)
	}
	p := &process{cmd: cmd, pid: cmd.Process.Pid, done: make(chan struct{})}
	go p.wait()
	return p, nil
}

func (p *process) wait() {
	err := p.cmd.Wait()
	exit := processExit{at: time.Now()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			exit.signal = int(ws.Signal())
			exit.code = 128 + exit.signal
		} else {
			exit.code = ee.ExitCode()
		}
	}
	// The main process is gone; take the rest of its group with it so
	// nothing outlives the machine.
	_ = syscall.Kill(-p.pid, syscall.SIGKILL)
	p.exit = exit
	close(p.done)
}

// stop sends sig to the process group now and SIGKILL after timeout if the
// process is still running. It does not wait.
func (p *process) stop(sig syscall.Signal, timeout time.Duration) {
	_ = syscall.Kill(-p.pid, sig)
	if sig == syscall.SIGKILL {
		return
	}
	go func() {
		t := time.NewTimer(timeout)
		defer t.Stop()
		select {
		case <-p.done:
		case <-t.C:
			_ = syscall.Kill(-p.pid, syscall.SIGKILL)
		}
	}()
}

// freePort returns a loopback port nothing listens on right now. The machine
// process binds it later; the gap is a race localfly accepts.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

const maxLogLine = 64 << 10

// lineLogger logs a process's output line by line.
type lineLogger struct {
	log    *slog.Logger
	stream string
	mu     sync.Mutex
	buf    bytes.Buffer
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	for {
		line, err := l.buf.ReadBytes('\n')
		if err != nil {
			// An incomplete line waits for the rest, within reason.
			if len(line) < maxLogLine {
				l.buf.Write(line)
			} else {
				l.log.Info(string(line), "stream", l.stream)
			}
			return len(p), nil
		}
		l.log.Info(string(bytes.TrimRight(line, "\r\n")), "stream", l.stream)
	}
}
