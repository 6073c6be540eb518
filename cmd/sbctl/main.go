// Command sbctl is the Switchboard command-line interface: log in, manage
// organizations, API keys, instances, configs and data-plane tokens, and read
// the audit trail. `sbctl --help` lists the commands; every command's --help
// has examples.
//
// Exit codes: 0 success, 1 error (the API refused, a file is wrong, an
// instance FAILED), 2 usage (unknown command or flag, missing argument).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], &app{
		in: os.Stdin, out: os.Stdout, errOut: os.Stderr,
		getenv:    os.Getenv,
		stdinTTY:  term.IsTerminal(int(os.Stdin.Fd())),
		stderrTTY: term.IsTerminal(int(os.Stderr.Fd())),
		readPassword: func() ([]byte, error) {
			return term.ReadPassword(int(os.Stdin.Fd()))
		},
	})
	stop()
	os.Exit(code)
}
