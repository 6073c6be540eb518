package configsync

import (
	"context"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
	"github.com/switchboardhq/switchboard/gen/switchboard/v1/switchboardv1connect"
)

// requestReport asks the report loop to report soon; it never blocks.
func (a *Agent) requestReport() {
	select {
	case a.reportC <- struct{}{}:
	default:
	}
}

// reportLoop reports status at start, after each apply or rejection and
// every ReportInterval. Failures are logged only: the control plane being
// down must never affect the data plane.
func (a *Agent) reportLoop(ctx context.Context) {
	auth := "Bearer " + a.cfg.Token
	client := switchboardv1connect.NewDataPlaneServiceClient(a.client, a.cfg.APIURL,
		connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
			return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
				req.Header().Set("Authorization", auth)
				return next(ctx, req)
			}
		})))
	t := time.NewTicker(a.cfg.ReportInterval)
	defer t.Stop()
	failing := false
	for {
		err := a.report(ctx, client)
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			a.log.WarnContext(ctx, "configsync: status report failed (will keep trying)", "err", err)
			failing = true
		case err != nil:
			a.log.DebugContext(ctx, "configsync: status report failed", "err", err)
		case failing:
			a.log.InfoContext(ctx, "configsync: status reports succeed again")
			failing = false
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-a.reportC:
		}
	}
}

func (a *Agent) report(ctx context.Context, client switchboardv1connect.DataPlaneServiceClient) error {
	st := a.Status()
	msg := &switchboardv1.ReportStatusRequest{
		InstanceId:     a.cfg.InstanceID,
		NodeId:         a.cfg.NodeID,
		AppliedVersion: st.AppliedVersion,
		LastError:      truncate(st.LastError, 1000),
		AgentVersion:   a.cfg.AgentVersion,
	}
	if !st.LastSync.IsZero() {
		msg.LastSyncTime = timestamppb.New(st.LastSync)
	}
	if bs, ok := a.applier.(BreakerStater); ok {
		msg.BreakerStates = bs.BreakerStates()
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := client.ReportStatus(ctx, msg)
	return err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
