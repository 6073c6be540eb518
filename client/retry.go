package client

import (
	"context"
	"math/rand/v2"
	"strings"
	"time"

	"connectrpc.com/connect"
)

// retryPolicy is exponential backoff with full jitter: before retry n
// (from 0) it sleeps a uniform random time below min(max, base·2ⁿ).
type retryPolicy struct {
	maxRetries int
	base, max  time.Duration
}

func (p retryPolicy) delay(attempt int) time.Duration {
	ceiling := p.base << min(attempt, 30)
	if ceiling <= 0 || ceiling > p.max {
		ceiling = p.max
	}
	if ceiling <= 0 {
		return 0
	}
	return rand.N(ceiling)
}

// sleep waits d or until ctx is done, whichever is first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// idempotent reports whether a procedure only reads, judging by its method
// name: "/switchboard.v1.InstanceService/GetInstance" is, CreateInstance is
// not. Every Get… and List… method in the API is a pure read.
func idempotent(procedure string) bool {
	method := procedure[strings.LastIndexByte(procedure, '/')+1:]
	return strings.HasPrefix(method, "Get") || strings.HasPrefix(method, "List")
}

// retryInterceptor retries unary reads that fail with Unavailable.
type retryInterceptor struct{ policy retryPolicy }

func (r retryInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if r.policy.maxRetries == 0 || !idempotent(req.Spec().Procedure) {
			return next(ctx, req)
		}
		for attempt := 0; ; attempt++ {
			res, err := next(ctx, req)
			if err == nil || connect.CodeOf(err) != connect.CodeUnavailable || attempt >= r.policy.maxRetries {
				return res, err
			}
			if sleep(ctx, r.policy.delay(attempt)) != nil {
				return res, err
			}
		}
	}
}

func (retryInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (retryInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}
