package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
)

const callTimeout = 30 * time.Second

func loginCmd(a *app) *cobra.Command {
	var email, apiKey string
	var passwordStdin bool
	c := &cobra.Command{
		Use:   "login",
		Short: "Log in with an email and password, or an API key",
		Long: `Log in and store the credential for later commands in
<user config dir>/switchboard/credentials.json (mode 0600).

With --email, the password is read from standard input (--password-stdin) or
prompted for without echo. With --api-key, the key is checked and stored.`,
		Example: `  sbctl login --email ada@example.com
  echo "$PASSWORD" | sbctl login --email ada@example.com --password-stdin
  sbctl login --api-key sb_key_… --api-url https://api.switchboard.example`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if apiKey != "" && (email != "" || passwordStdin) {
				return &usageError{err: errors.New("--api-key cannot be combined with --email or --password-stdin")}
			}
			url, _, err := a.endpoint()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), callTimeout)
			defer cancel()
			if apiKey != "" {
				me, err := a.newClient(url, apiKey).Auth.GetCurrentUser(ctx, &switchboardv1.GetCurrentUserRequest{})
				if err != nil {
					return err
				}
				return a.saveLogin(url, apiKey, "", fmt.Sprintf("with an API key created by %s", me.User.GetEmail()))
			}
			if email == "" {
				if !a.stdinTTY || passwordStdin {
					return &usageError{err: errors.New("--email or --api-key is required")}
				}
				fmt.Fprint(a.errOut, "Email: ")
				line, err := bufio.NewReader(a.in).ReadString('\n')
				if err != nil && !errors.Is(err, io.EOF) {
					return err
				}
				email = strings.TrimSpace(line)
			}
			password, err := a.password(passwordStdin)
			if err != nil {
				return err
			}
			res, err := a.newClient(url, "").Auth.LogIn(ctx, &switchboardv1.LogInRequest{Email: email, Password: password})
			if connect.CodeOf(err) == connect.CodeUnauthenticated {
				return &hintError{msg: "wrong email or password", hint: "sign up at your Switchboard console, or check for typos"}
			}
			if err != nil {
				return err
			}
			return a.saveLogin(url, res.SessionToken, res.User.GetEmail(), "as "+res.User.GetEmail())
		},
	}
	c.Flags().StringVar(&email, "email", "", "your account's email address")
	c.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from standard input")
	c.Flags().StringVar(&apiKey, "api-key", "", "log in with an API key (sb_key_…) instead")
	return c
}

// password reads the password from stdin, or prompts without echo.
func (a *app) password(fromStdin bool) (string, error) {
	if fromStdin {
		b, err := io.ReadAll(io.LimitReader(a.in, 4096))
		if err != nil {
			return "", err
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	if !a.stdinTTY {
		return "", &usageError{err: errors.New("no terminal to prompt for the password: pass --password-stdin and pipe it in")}
	}
	fmt.Fprint(a.errOut, "Password: ")
	b, err := a.readPassword()
	fmt.Fprintln(a.errOut)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	return string(b), nil
}

func (a *app) saveLogin(url, token, email, who string) error {
	path, err := saveCredentials(a.getenv, &credentials{APIURL: url, Token: token, Email: email})
	if err != nil {
		return err
	}
	fmt.Fprintf(a.out, "Logged in to %s %s.\nCredentials saved in %s.\n", url, who, path)
	return nil
}

func logoutCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "logout",
		Short:   "Forget the stored credential (and end the session)",
		Example: "  sbctl logout",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			creds, err := loadCredentials(a.getenv)
			if err != nil {
				return err
			}
			if creds == nil {
				fmt.Fprintln(a.out, "Not logged in.")
				return nil
			}
			if strings.HasPrefix(creds.Token, "sb_sess_") {
				ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
				defer cancel()
				// Best effort: the file goes either way.
				_, err := a.newClient(creds.APIURL, creds.Token).Auth.LogOut(ctx, &switchboardv1.LogOutRequest{})
				if err != nil && connect.CodeOf(err) != connect.CodeUnauthenticated {
					fmt.Fprintf(a.errOut, "warning: could not end the session at %s: %s\n", creds.APIURL, oneLine(err.Error()))
				}
			}
			if _, err := removeCredentials(a.getenv); err != nil {
				return err
			}
			fmt.Fprintf(a.out, "Logged out of %s.\n", creds.APIURL)
			return nil
		},
	}
}

func whoamiCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "whoami",
		Short:   "Show who the stored credential belongs to",
		Example: "  sbctl whoami\n  sbctl whoami -o json",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, url, err := a.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), callTimeout)
			defer cancel()
			res, err := c.Auth.GetCurrentUser(ctx, &switchboardv1.GetCurrentUserRequest{})
			if err != nil {
				return err
			}
			return a.show(res.User, func(w io.Writer) {
				fields(w, "API", url, "User", res.User.Id, "Email", res.User.Email, "Name", res.User.Name)
			})
		},
	}
}
