// Package fly implements switchboard.MachineProvider over the Fly Machines
// API with github.com/superfly/fly-go/flaps. The same code talks to localfly:
// fly-go reads its base URL only from FLY_FLAPS_BASE_URL, when the client is
// built, so cmd/ sets that variable before calling New.
//
// fly-go's quirks, handled here: it does not retry 429 and drops Retry-After
// (a transport wrapper captures it, and 429/5xx are classified transient so
// River retries); it has no idempotency keys (callers look up before they
// create); AppNameAvailable panics on an existing app (GetApp is used instead).
package fly

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	fly "github.com/superfly/fly-go"
	"github.com/superfly/fly-go/flaps"
	"github.com/superfly/fly-go/tokens"

	"github.com/switchboardhq/switchboard"
)

// Params configure a Provider.
type Params struct {
	// Token is a Fly API token (or localfly's token).
	Token string
	// Org is the organization slug apps are created in.
	Org string
	// LocalBaseURL, when set, is a localfly server's URL: machine URLs come
	// from its /localfly/machines/{id} endpoint instead of <app>.fly.dev.
	LocalBaseURL string
	// HTTPClient is used for localfly's admin endpoint. Defaults to a client
	// with a 10s timeout.
	HTTPClient *http.Client
}

// Provider is a switchboard.MachineProvider over flaps.
type Provider struct {
	c      *flaps.Client
	p      Params
	client *http.Client
}

var _ switchboard.MachineProvider = (*Provider)(nil)

// New builds a flaps client against FLY_FLAPS_BASE_URL (Fly when unset).
func New(ctx context.Context, p Params) (*Provider, error) {
	if p.Token == "" {
		return nil, errors.New("fly: a token is required")
	}
	if p.Org == "" {
		p.Org = "personal"
	}
	c, err := flaps.NewWithOptions(ctx, flaps.NewClientOpts{
		Tokens:    tokens.Parse(p.Token),
		UserAgent: "switchboard",
		Transport: retryAfterTransport{http.DefaultTransport},
	})
	if err != nil {
		return nil, fmt.Errorf("fly: %w", err)
	}
	hc := p.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	return &Provider{c: c, p: p, client: hc}, nil
}

// retryAfterKey carries a *time.Duration the transport fills from a 429's
// Retry-After, which flaps.FlapsError does not keep.
type retryAfterKey struct{}

type retryAfterTransport struct{ next http.RoundTripper }

func (t retryAfterTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if err == nil && resp.StatusCode == http.StatusTooManyRequests {
		if d, ok := r.Context().Value(retryAfterKey{}).(*time.Duration); ok {
			if secs, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && secs >= 0 {
				*d = time.Duration(secs) * time.Second
			}
		}
	}
	return resp, err
}

// call runs one flaps operation and classifies its error.
func (p *Provider) call(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	var retryAfter time.Duration
	err := fn(context.WithValue(ctx, retryAfterKey{}, &retryAfter))
	if err == nil {
		return nil
	}
	return classify(op, err, retryAfter)
}

func classify(op string, err error, retryAfter time.Duration) error {
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %w", op, err)
	}
	var fe *flaps.FlapsError
	if !errors.As(err, &fe) {
		// Network errors and timeouts: the request may not have reached Fly.
		var ne net.Error
		if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) {
			return &switchboard.MachinesError{Op: op, Message: err.Error(), Class: switchboard.ErrMachinesTransient}
		}
		return &switchboard.MachinesError{Op: op, Message: err.Error(), Class: switchboard.ErrMachinesTransient}
	}
	me := &switchboard.MachinesError{Op: op, Status: fe.ResponseStatusCode, Message: fe.Error(), RetryAfter: retryAfter}
	code := flaps.GetErrorStatusCode(err)
	switch s := fe.ResponseStatusCode; {
	case code != nil && *code == "insufficient_capacity":
		me.Class = switchboard.ErrMachinesCapacity
	case s == http.StatusNotFound:
		me.Class = switchboard.ErrMachinesNotFound
	case s == http.StatusRequestTimeout || s == http.StatusTooManyRequests || s >= 500:
		me.Class = switchboard.ErrMachinesTransient
	case s == http.StatusConflict:
		// A lease held by another client: it will be released.
		me.Class = switchboard.ErrMachinesTransient
	case s == http.StatusUnprocessableEntity && strings.Contains(strings.ToLower(me.Message), "already been taken"):
		me.Class = switchboard.ErrMachinesConflict
	}
	return me
}

func (p *Provider) GetApp(ctx context.Context, name string) (*switchboard.MachineApp, error) {
	var app *flaps.App
	err := p.call(ctx, "get app "+name, func(ctx context.Context) (err error) {
		app, err = p.c.GetApp(ctx, name)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &switchboard.MachineApp{Name: app.Name, Org: app.Organization.Slug}, nil
}

func (p *Provider) CreateApp(ctx context.Context, name string) (*switchboard.MachineApp, error) {
	var app *flaps.App
	err := p.call(ctx, "create app "+name, func(ctx context.Context) (err error) {
		app, err = p.c.CreateApp(ctx, flaps.CreateAppRequest{Name: name, Org: p.p.Org})
		return err
	})
	if err != nil {
		return nil, err
	}
	return &switchboard.MachineApp{Name: app.Name, Org: p.p.Org}, nil
}

func (p *Provider) DeleteApp(ctx context.Context, name string) error {
	err := p.call(ctx, "delete app "+name, func(ctx context.Context) error { return p.c.DeleteApp(ctx, name) })
	if errors.Is(err, switchboard.ErrMachinesNotFound) {
		return nil
	}
	return err
}

func (p *Provider) ListApps(ctx context.Context) ([]*switchboard.MachineApp, error) {
	var apps []flaps.App
	err := p.call(ctx, "list apps", func(ctx context.Context) (err error) {
		apps, err = p.c.ListApps(ctx, flaps.ListAppsRequest{OrgSlug: p.p.Org})
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]*switchboard.MachineApp, len(apps))
	for i, a := range apps {
		out[i] = &switchboard.MachineApp{Name: a.Name, Org: a.Organization.Slug}
	}
	return out, nil
}

func (p *Provider) SetSecret(ctx context.Context, app, name, value string) error {
	return p.call(ctx, "set secret "+name+" on "+app, func(ctx context.Context) error {
		_, err := p.c.SetAppSecret(ctx, app, name, value)
		return err
	})
}

func (p *Provider) ListMachines(ctx context.Context, app string, metadata map[string]string) ([]*switchboard.Machine, error) {
	// flaps.List appends its "state" argument as the raw query string.
	q := url.Values{}
	for k, v := range metadata {
		q.Set("metadata."+k, v)
	}
	var ms []*fly.Machine
	err := p.call(ctx, "list machines of "+app, func(ctx context.Context) (err error) {
		ms, err = p.c.List(ctx, app, q.Encode())
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]*switchboard.Machine, 0, len(ms))
	for _, m := range ms {
		if m.State == switchboard.MachineDestroyed || m.State == "destroying" || !hasMetadata(m, metadata) {
			continue
		}
		out = append(out, toMachine(m))
	}
	return out, nil
}

// hasMetadata filters again client-side, in case an API ignores the query.
func hasMetadata(m *fly.Machine, want map[string]string) bool {
	for k, v := range want {
		if m.Config == nil || m.Config.Metadata[k] != v {
			return false
		}
	}
	return true
}

func toMachine(m *fly.Machine) *switchboard.Machine {
	out := &switchboard.Machine{ID: m.ID, Name: m.Name, State: m.State, Region: m.Region}
	if m.Config != nil {
		out.Image = m.Config.Image
		out.Metadata = m.Config.Metadata
	}
	return out
}

func (p *Provider) CreateMachine(ctx context.Context, app string, spec switchboard.MachineSpec) (*switchboard.Machine, error) {
	port := spec.InternalPort
	in := fly.LaunchMachineInput{
		Name:   spec.Name,
		Region: spec.Region,
		Config: &fly.MachineConfig{
			Image:    spec.Image,
			Env:      spec.Env,
			Metadata: spec.Metadata,
			Guest:    &fly.MachineGuest{CPUKind: spec.CPUKind, CPUs: spec.CPUs, MemoryMB: spec.MemoryMB},
			Restart:  &fly.MachineRestart{Policy: fly.MachineRestartPolicyAlways},
			Services: []fly.MachineService{{
				Protocol:     "tcp",
				InternalPort: port,
				Ports: []fly.MachinePort{
					{Port: fly.Pointer(80), Handlers: []string{"http"}, ForceHTTPS: true},
					{Port: fly.Pointer(443), Handlers: []string{"tls", "http"}},
				},
			}},
		},
	}
	var m *fly.Machine
	err := p.call(ctx, "create machine in "+app, func(ctx context.Context) (err error) {
		m, err = p.c.Launch(ctx, app, in)
		return err
	})
	if err != nil {
		return nil, err
	}
	return toMachine(m), nil
}

func (p *Provider) GetMachine(ctx context.Context, app, id string) (*switchboard.Machine, error) {
	var m *fly.Machine
	err := p.call(ctx, "get machine "+id, func(ctx context.Context) (err error) {
		m, err = p.c.Get(ctx, app, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return toMachine(m), nil
}

func (p *Provider) WaitMachine(ctx context.Context, app, id, state string, timeout time.Duration) error {
	return p.call(ctx, "wait for machine "+id+" to be "+state, func(ctx context.Context) error {
		return p.c.Wait(ctx, app, id, flaps.WithWaitStates(state), flaps.WithWaitTimeout(timeout))
	})
}

func (p *Provider) StartMachine(ctx context.Context, app, id string) error {
	return p.call(ctx, "start machine "+id, func(ctx context.Context) error {
		_, err := p.c.Start(ctx, app, id, "")
		return err
	})
}

func (p *Provider) RestartMachine(ctx context.Context, app, id string) error {
	return p.call(ctx, "restart machine "+id, func(ctx context.Context) error {
		return p.c.Restart(ctx, app, fly.RestartMachineInput{ID: id}, "")
	})
}

func (p *Provider) DestroyMachine(ctx context.Context, app, id string) error {
	err := p.call(ctx, "destroy machine "+id, func(ctx context.Context) error {
		return p.c.Destroy(ctx, app, fly.RemoveMachineInput{ID: id, Kill: true}, "")
	})
	if errors.Is(err, switchboard.ErrMachinesNotFound) {
		return nil
	}
	return err
}

// MachineURL is https://<app>.fly.dev on Fly; localfly says where the
// machine's process listens.
func (p *Provider) MachineURL(ctx context.Context, app, id string) (string, error) {
	if p.p.LocalBaseURL == "" {
		return "https://" + app + ".fly.dev", nil
	}
	op := "get address of machine " + id
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(p.p.LocalBaseURL, "/")+"/localfly/machines/"+url.PathEscape(id), nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+p.p.Token)
	resp, err := p.client.Do(req)
	if err != nil {
		return "", &switchboard.MachinesError{Op: op, Message: err.Error(), Class: switchboard.ErrMachinesTransient}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		me := &switchboard.MachinesError{Op: op, Status: resp.StatusCode, Message: resp.Status}
		switch {
		case resp.StatusCode == http.StatusNotFound:
			me.Class = switchboard.ErrMachinesNotFound
		case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
			me.Class = switchboard.ErrMachinesTransient
		}
		return "", me
	}
	var out struct {
		URL string `json:"url"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.URL == "" {
		return "", &switchboard.MachinesError{Op: op, Message: "no url in localfly's answer", Class: switchboard.ErrMachinesTransient}
	}
	return out.URL, nil
}
