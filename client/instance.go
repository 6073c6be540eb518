package client

import (
	"context"
	"errors"
	"fmt"

	"connectrpc.com/connect"

	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
)

// ErrInstanceDeleted is returned by WaitForInstance when the instance was
// deleted before it came up.
var ErrInstanceDeleted = errors.New("instance was deleted")

// InstanceFailedError is returned by WaitForInstance when the instance
// reached FAILED. Instance.FailureReason says why, in words a user can act
// on.
type InstanceFailedError struct {
	Instance *switchboardv1.Instance
}

func (e *InstanceFailedError) Error() string {
	reason := e.Instance.GetFailureReason()
	if reason == "" {
		reason = "no reason given"
	}
	return fmt.Sprintf("instance %s failed: %s", e.Instance.GetId(), reason)
}

// Terminal reports whether WatchInstance ends in state: RUNNING, FAILED or
// DELETED.
func Terminal(state switchboardv1.InstanceState) bool {
	switch state {
	case switchboardv1.InstanceState_INSTANCE_STATE_RUNNING,
		switchboardv1.InstanceState_INSTANCE_STATE_FAILED,
		switchboardv1.InstanceState_INSTANCE_STATE_DELETED:
		return true
	}
	return false
}

// WaitForInstance blocks until the instance is RUNNING and returns it. It
// returns an *InstanceFailedError if the instance FAILED, an error wrapping
// ErrInstanceDeleted if it was deleted, and the context's error if ctx ends
// first — set a deadline on ctx to bound the wait.
func (c *Client) WaitForInstance(ctx context.Context, id string) (*switchboardv1.Instance, error) {
	inst, err := c.FollowInstance(ctx, id, nil)
	if err != nil {
		return inst, err
	}
	switch inst.GetState() {
	case switchboardv1.InstanceState_INSTANCE_STATE_FAILED:
		return inst, &InstanceFailedError{Instance: inst}
	case switchboardv1.InstanceState_INSTANCE_STATE_DELETED:
		return inst, fmt.Errorf("instance %s: %w", id, ErrInstanceDeleted)
	}
	return inst, nil
}

// FollowInstance follows the WatchInstance stream until the instance reaches
// a terminal state (see Terminal), calling fn, if not nil, with the current
// state first and then with every change. It returns the last instance seen.
// A stream that breaks with Unavailable, or ends early, is reopened with
// backoff, as reads are; other errors are returned.
func (c *Client) FollowInstance(ctx context.Context, id string, fn func(*switchboardv1.Instance)) (*switchboardv1.Instance, error) {
	var last *switchboardv1.Instance
	for attempt := 0; ; attempt++ {
		inst, err := c.followOnce(ctx, id, func(i *switchboardv1.Instance) {
			last, attempt = i, 0
			if fn != nil {
				fn(i)
			}
		})
		if err == nil && inst != nil {
			return inst, nil
		}
		if err != nil && connect.CodeOf(err) != connect.CodeUnavailable {
			return last, err
		}
		if err == nil {
			err = fmt.Errorf("watch instance %s: stream ended before a final state", id)
		}
		if attempt >= c.retry.maxRetries {
			return last, err
		}
		if serr := sleep(ctx, c.retry.delay(attempt)); serr != nil {
			return last, serr
		}
	}
}

// followOnce reads one WatchInstance stream. It returns the instance once
// terminal, or (nil, nil) if the stream ended cleanly before that.
func (c *Client) followOnce(ctx context.Context, id string, fn func(*switchboardv1.Instance)) (*switchboardv1.Instance, error) {
	stream, err := c.Instances.WatchInstance(ctx, &switchboardv1.WatchInstanceRequest{Id: id})
	if err != nil {
		return nil, err
	}
	defer stream.Close()
	for stream.Receive() {
		inst := stream.Msg().GetInstance()
		if inst == nil {
			continue
		}
		fn(inst)
		if Terminal(inst.GetState()) {
			return inst, nil
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return nil, stream.Err()
}
