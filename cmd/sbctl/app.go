package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchboardhq/switchboard/client"
	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
)

// defaultAPIURL is where `switchboard dev` listens.
const defaultAPIURL = "http://127.0.0.1:8080"

// app is what every command shares: streams, environment, global flags.
type app struct {
	in           io.Reader
	out, errOut  io.Writer
	getenv       func(string) string
	stdinTTY     bool
	stderrTTY    bool
	readPassword func() ([]byte, error)

	// Global flags.
	apiURL string
	output string
	org    string
}

// endpoint resolves the API URL and the credential to send: --api-url, then
// SWITCHBOARD_API_URL, then the stored login, then the local default; the
// token from SWITCHBOARD_TOKEN, else the stored one — but only for the URL it
// was issued by, so a token never goes to another server.
func (a *app) endpoint() (url, token string, err error) {
	creds, err := loadCredentials(a.getenv)
	if err != nil {
		return "", "", err
	}
	url = firstNonEmpty(a.apiURL, a.getenv("SWITCHBOARD_API_URL"))
	if creds != nil && (url == "" || sameURL(url, creds.APIURL)) {
		url, token = creds.APIURL, creds.Token
	}
	if url == "" {
		url = defaultAPIURL
	}
	if t := a.getenv("SWITCHBOARD_TOKEN"); t != "" {
		token = t
	}
	return strings.TrimRight(url, "/"), token, nil
}

// client returns an API client with the resolved credential; without one it
// fails with a hint to log in.
func (a *app) client() (*client.Client, string, error) {
	url, token, err := a.endpoint()
	if err != nil {
		return nil, "", err
	}
	if token == "" {
		creds, _ := loadCredentials(a.getenv)
		hint := "run `sbctl login --api-url " + url + "`, or set SWITCHBOARD_TOKEN"
		if creds != nil {
			hint = fmt.Sprintf("you are logged in to %s, not %s: run `sbctl login --api-url %s`", creds.APIURL, url, url)
		}
		return nil, url, &hintError{msg: "not logged in to " + url, hint: hint}
	}
	return a.newClient(url, token), url, nil
}

func (a *app) newClient(url, token string) *client.Client {
	hc := &http.Client{Timeout: 0} // streams (instance --wait) run long; contexts bound calls
	return client.New(url, client.WithAPIKey(token), client.WithHTTPClient(hc), client.WithUserAgent("sbctl"))
}

// orgID resolves the organization a command acts on: --org (an id or a
// slug), SWITCHBOARD_ORG, or the caller's only organization.
func (a *app) orgID(ctx context.Context, c *client.Client) (string, error) {
	want := firstNonEmpty(a.org, a.getenv("SWITCHBOARD_ORG"))
	if strings.HasPrefix(want, "org_") {
		return want, nil
	}
	orgs, err := listAll(ctx, func(tok string) ([]*switchboardv1.Organization, string, error) {
		res, err := c.Organizations.ListOrganizations(ctx, &switchboardv1.ListOrganizationsRequest{PageSize: 100, PageToken: tok})
		return res.GetOrganizations(), res.GetNextPageToken(), err
	})
	if err != nil {
		return "", err
	}
	if want != "" {
		for _, o := range orgs {
			if o.Slug == want {
				return o.Id, nil
			}
		}
		return "", &hintError{msg: fmt.Sprintf("no organization with slug %q", want), hint: "list yours with `sbctl org list`"}
	}
	switch len(orgs) {
	case 1:
		return orgs[0].Id, nil
	case 0:
		return "", &hintError{msg: "you belong to no organization", hint: "create one with `sbctl org create NAME`"}
	}
	return "", &hintError{
		msg:  fmt.Sprintf("you belong to %d organizations; which one?", len(orgs)),
		hint: "pass --org ID_OR_SLUG or set SWITCHBOARD_ORG (see `sbctl org list`)",
	}
}

// listAll follows next_page_token to the end.
func listAll[T any](ctx context.Context, page func(token string) ([]T, string, error)) ([]T, error) {
	var all []T
	token := ""
	for {
		items, next, err := page(token)
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
		if next == "" || ctx.Err() != nil {
			return all, ctx.Err()
		}
		token = next
	}
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func sameURL(a, b string) bool {
	return strings.TrimRight(a, "/") == strings.TrimRight(b, "/")
}

// withTimeout bounds one command's API calls.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

var errNotTTY = errors.New("no terminal")

// withClient is a command body that needs the API: it gets a client for the
// current credentials and a context bounded by the per-call timeout.
func (a *app) withClient(run func(ctx context.Context, cmd *cobra.Command, c *client.Client, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		c, _, err := a.client()
		if err != nil {
			return err
		}
		ctx, cancel := callContext(cmd)
		defer cancel()
		return run(ctx, cmd, c, args)
	}
}
