package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchboardhq/switchboard/client"
	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
)

func instanceCmd(a *app) *cobra.Command {
	return group("instance", "Create, list, show, restart and delete instances",
		"  sbctl instance create edge --kind breaker --wait\n  sbctl instance list",
		instanceCreateCmd(a), instanceListCmd(a), instanceGetCmd(a), instanceDeleteCmd(a), instanceRestartCmd(a))
}

func instanceTable(w io.Writer, list ...*switchboardv1.Instance) {
	var rows [][]string
	for _, i := range list {
		state := stateName(i.State)
		if i.StateDetail != "" {
			state += " (" + i.StateDetail + ")"
		}
		rows = append(rows, []string{i.Id, i.Name, kindName(i.Kind), i.Region, i.Size, state, orDash(i.EndpointUrl), when(i.CreateTime)})
	}
	table(w, []string{"ID", "NAME", "KIND", "REGION", "SIZE", "STATE", "ENDPOINT", "CREATED"}, rows)
}

func instanceDetail(w io.Writer, i *switchboardv1.Instance) {
	fields(w, "ID", i.Id, "Name", i.Name, "Organization", i.OrganizationId, "Kind", kindName(i.Kind),
		"Region", i.Region, "Size", i.Size, "State", stateName(i.State), "Step", i.StateDetail,
		"Failure", i.FailureReason, "Endpoint", i.EndpointUrl, "Created", when(i.CreateTime), "Updated", when(i.UpdateTime))
}

// follow shows live progress on stderr until the instance settles, then
// prints it; FAILED (or an unexpected final state) is an error.
func (a *app) follow(ctx context.Context, c *client.Client, id string, want switchboardv1.InstanceState, timeout time.Duration) error {
	ctx, cancel := withTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	last := ""
	inst, err := c.FollowInstance(ctx, id, func(i *switchboardv1.Instance) {
		line := stateName(i.State)
		if i.StateDetail != "" {
			line += ": " + i.StateDetail
		}
		if line != last {
			fmt.Fprintf(a.errOut, "[%5.1fs] %s\n", time.Since(start).Seconds(), line)
			last = line
		}
	})
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return &hintError{msg: fmt.Sprintf("instance %s did not settle within %s", id, timeout), hint: fmt.Sprintf("it keeps going in the background: `sbctl instance get %s`", id)}
		}
		return err
	}
	if inst.State == switchboardv1.InstanceState_INSTANCE_STATE_FAILED {
		return &client.InstanceFailedError{Instance: inst}
	}
	if inst.State != want {
		return &hintError{msg: fmt.Sprintf("instance %s is %s, not %s", id, stateName(inst.State), stateName(want))}
	}
	return a.show(inst, func(w io.Writer) { instanceDetail(w, inst) })
}

func instanceCreateCmd(a *app) *cobra.Command {
	var kind, region, size string
	var fallback, wait bool
	var timeout time.Duration
	c := &cobra.Command{
		Use:   "create NAME",
		Short: "Create an instance (realtime or breaker)",
		Long: `Create an instance. Provisioning runs in the background; with --wait, sbctl
shows its progress and exits once it is running — or with code 1, and the
reason, if it failed.`,
		Example: `  sbctl instance create edge --kind breaker --wait
  sbctl instance create chat --kind realtime --region ams --size shared-cpu-2x`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := parseEnum("kind", kind, "INSTANCE_KIND_", switchboardv1.InstanceKind_value)
			if err != nil {
				return err
			}
			c, _, err := a.client()
			if err != nil {
				return err
			}
			ctx, cancel := callContext(cmd)
			defer cancel()
			org, err := a.orgID(ctx, c)
			if err != nil {
				return err
			}
			res, err := c.Instances.CreateInstance(ctx, &switchboardv1.CreateInstanceRequest{
				OrganizationId: org, Name: args[0], Kind: switchboardv1.InstanceKind(k),
				Region: region, Size: size, AllowRegionFallback: fallback,
			})
			if err != nil {
				return err
			}
			if !wait {
				return a.show(res.Instance, func(w io.Writer) { instanceTable(w, res.Instance) })
			}
			fmt.Fprintf(a.errOut, "Created %s (%s); waiting for it to run…\n", res.Instance.Name, res.Instance.Id)
			return a.follow(cmd.Context(), c, res.Instance.Id, switchboardv1.InstanceState_INSTANCE_STATE_RUNNING, timeout)
		},
	}
	c.Flags().StringVar(&kind, "kind", "", "realtime or breaker (required)")
	c.Flags().StringVar(&region, "region", "", "region, e.g. iad (default: the catalog's default)")
	c.Flags().StringVar(&size, "size", "", "machine size, e.g. shared-cpu-1x (default: the smallest)")
	c.Flags().BoolVar(&fallback, "allow-region-fallback", false, "use another region when this one has no capacity")
	c.Flags().BoolVar(&wait, "wait", false, "wait until the instance is running, showing progress")
	c.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "how long --wait waits")
	requireFlag(c, "kind")
	_ = c.RegisterFlagCompletionFunc("kind", cobra.FixedCompletions([]string{"breaker", "realtime"}, cobra.ShellCompDirectiveNoFileComp))
	return c
}

func instanceListCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List the organization's instances",
		Example: "  sbctl instance list\n  sbctl instance list -o json | jq -r '.[].id'",
		Args:    noArgs,
		RunE: a.withClient(func(ctx context.Context, cmd *cobra.Command, c *client.Client, _ []string) error {
			org, err := a.orgID(ctx, c)
			if err != nil {
				return err
			}
			list, err := listAll(ctx, func(tok string) ([]*switchboardv1.Instance, string, error) {
				res, err := c.Instances.ListInstances(ctx, &switchboardv1.ListInstancesRequest{OrganizationId: org, PageSize: 100, PageToken: tok})
				return res.GetInstances(), res.GetNextPageToken(), err
			})
			if err != nil {
				return err
			}
			return a.show(messages(list), func(w io.Writer) { instanceTable(w, list...) })
		}),
	}
}

func instanceGetCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "get INSTANCE_ID",
		Short:   "Show an instance: state, endpoint, failure reason",
		Example: "  sbctl instance get ins_0123\n  sbctl instance get ins_0123 -o yaml",
		Args:    exactArgs("INSTANCE_ID"),
		RunE: a.withClient(func(ctx context.Context, cmd *cobra.Command, c *client.Client, args []string) error {
			res, err := c.Instances.GetInstance(ctx, &switchboardv1.GetInstanceRequest{Id: args[0]})
			if err != nil {
				return err
			}
			return a.show(res.Instance, func(w io.Writer) { instanceDetail(w, res.Instance) })
		}),
	}
}

func instanceDeleteCmd(a *app) *cobra.Command {
	var wait bool
	var timeout time.Duration
	c := &cobra.Command{
		Use:     "delete INSTANCE_ID",
		Short:   "Delete an instance: its machines, tokens and artifacts",
		Example: "  sbctl instance delete ins_0123\n  sbctl instance delete ins_0123 --wait",
		Args:    exactArgs("INSTANCE_ID"),
		RunE: a.withClient(func(ctx context.Context, cmd *cobra.Command, c *client.Client, args []string) error {
			res, err := c.Instances.DeleteInstance(ctx, &switchboardv1.DeleteInstanceRequest{Id: args[0]})
			if err != nil {
				return err
			}
			if wait {
				return a.follow(cmd.Context(), c, args[0], switchboardv1.InstanceState_INSTANCE_STATE_DELETED, timeout)
			}
			return a.show(res.Instance, func(w io.Writer) {
				fmt.Fprintf(w, "Deleting %s (%s); it is %s.\n", res.Instance.Name, res.Instance.Id, stateName(res.Instance.State))
			})
		}),
	}
	c.Flags().BoolVar(&wait, "wait", false, "wait until the instance is deleted")
	c.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "how long --wait waits")
	return c
}

func instanceRestartCmd(a *app) *cobra.Command {
	var wait bool
	var timeout time.Duration
	c := &cobra.Command{
		Use:     "restart INSTANCE_ID",
		Short:   "Restart an instance's machines",
		Example: "  sbctl instance restart ins_0123 --wait",
		Args:    exactArgs("INSTANCE_ID"),
		RunE: a.withClient(func(ctx context.Context, cmd *cobra.Command, c *client.Client, args []string) error {
			res, err := c.Instances.RestartInstance(ctx, &switchboardv1.RestartInstanceRequest{Id: args[0]})
			if err != nil {
				return err
			}
			if wait {
				return a.follow(cmd.Context(), c, args[0], switchboardv1.InstanceState_INSTANCE_STATE_RUNNING, timeout)
			}
			return a.show(res.Instance, func(w io.Writer) { instanceTable(w, res.Instance) })
		}),
	}
	c.Flags().BoolVar(&wait, "wait", false, "wait until the instance is running again")
	c.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "how long --wait waits")
	return c
}
