package client

import (
	"context"
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/switchboardhq/switchboard/gen/switchboard/v1/switchboardv1connect"
)

// Client reaches every Switchboard service. Each field is the generated
// Connect client for one service; see the package documentation.
type Client struct {
	Auth            switchboardv1connect.AuthServiceClient
	Organizations   switchboardv1connect.OrganizationServiceClient
	APIKeys         switchboardv1connect.APIKeyServiceClient
	Audit           switchboardv1connect.AuditServiceClient
	Instances       switchboardv1connect.InstanceServiceClient
	Configs         switchboardv1connect.ConfigServiceClient
	DataPlaneTokens switchboardv1connect.DataPlaneTokenServiceClient
	DataPlane       switchboardv1connect.DataPlaneServiceClient

	retry retryPolicy
}

// Option configures a Client.
type Option func(*options)

type options struct {
	token       string
	httpClient  connect.HTTPClient
	userAgent   string
	retry       retryPolicy
	connectOpts []connect.ClientOption
}

// WithAPIKey sends key as the bearer credential on every request. A session
// token (sb_sess_…) works the same way as an API key (sb_key_…).
func WithAPIKey(key string) Option {
	return func(o *options) { o.token = key }
}

// WithHTTPClient sets the HTTP client. The default is http.DefaultClient,
// which speaks HTTP/1.1 and HTTP/2 over TLS; that is all the Connect
// protocol needs.
func WithHTTPClient(hc connect.HTTPClient) Option {
	return func(o *options) { o.httpClient = hc }
}

// WithMaxRetries sets how many times a read failing with Unavailable is
// retried (default 4). Zero turns retries off.
func WithMaxRetries(n int) Option {
	return func(o *options) { o.retry.maxRetries = max(n, 0) }
}

// WithRetryBackoff sets the first retry's maximum delay and the cap on any
// delay (defaults 100ms and 2s). Each retry doubles the maximum; the actual
// delay is drawn uniformly below it.
func WithRetryBackoff(base, maxDelay time.Duration) Option {
	return func(o *options) { o.retry.base, o.retry.max = base, maxDelay }
}

// WithUserAgent sets the User-Agent header, so the API's logs can tell
// programs apart.
func WithUserAgent(ua string) Option {
	return func(o *options) { o.userAgent = ua }
}

// WithConnectOptions passes options to every generated client, for example
// connect.WithGRPC() to use the gRPC protocol, or extra interceptors.
func WithConnectOptions(opts ...connect.ClientOption) Option {
	return func(o *options) { o.connectOpts = append(o.connectOpts, opts...) }
}

// New returns a Client for the API at baseURL, e.g. "https://api.example.com"
// or "http://127.0.0.1:8080" for `switchboard dev`.
func New(baseURL string, opts ...Option) *Client {
	o := options{
		httpClient: http.DefaultClient,
		userAgent:  "switchboard-go",
		retry:      retryPolicy{maxRetries: 4, base: 100 * time.Millisecond, max: 2 * time.Second},
	}
	for _, opt := range opts {
		opt(&o)
	}
	baseURL = strings.TrimRight(baseURL, "/")
	copts := append([]connect.ClientOption{
		connect.WithInterceptors(headerInterceptor{token: o.token, userAgent: o.userAgent}, retryInterceptor{policy: o.retry}),
	}, o.connectOpts...)
	hc := o.httpClient
	return &Client{
		Auth:            switchboardv1connect.NewAuthServiceClient(hc, baseURL, copts...),
		Organizations:   switchboardv1connect.NewOrganizationServiceClient(hc, baseURL, copts...),
		APIKeys:         switchboardv1connect.NewAPIKeyServiceClient(hc, baseURL, copts...),
		Audit:           switchboardv1connect.NewAuditServiceClient(hc, baseURL, copts...),
		Instances:       switchboardv1connect.NewInstanceServiceClient(hc, baseURL, copts...),
		Configs:         switchboardv1connect.NewConfigServiceClient(hc, baseURL, copts...),
		DataPlaneTokens: switchboardv1connect.NewDataPlaneTokenServiceClient(hc, baseURL, copts...),
		DataPlane:       switchboardv1connect.NewDataPlaneServiceClient(hc, baseURL, copts...),
		retry:           o.retry,
	}
}

// headerInterceptor sets the credential and User-Agent on every request.
type headerInterceptor struct{ token, userAgent string }

func (h headerInterceptor) set(header http.Header) {
	if h.token != "" {
		header.Set("Authorization", "Bearer "+h.token)
	}
	if h.userAgent != "" {
		header.Set("User-Agent", h.userAgent)
	}
}

func (h headerInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		h.set(req.Header())
		return next(ctx, req)
	}
}

func (h headerInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		h.set(conn.RequestHeader())
		return conn
	}
}

func (headerInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}
