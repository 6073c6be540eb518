package main

import (
	"context"
	"encoding/json"
	"io"

	"github.com/spf13/cobra"

	"github.com/switchboardhq/switchboard/client"
	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
)

func auditCmd(a *app) *cobra.Command {
	var limit int
	c := &cobra.Command{
		Use:     "audit",
		Short:   "Show the organization's audit trail, newest first",
		Example: "  sbctl audit\n  sbctl audit --limit 500 -o json",
		Args:    noArgs,
		RunE: a.withClient(func(ctx context.Context, cmd *cobra.Command, c *client.Client, _ []string) error {
			org, err := a.orgID(ctx, c)
			if err != nil {
				return err
			}
			var events []*switchboardv1.AuditEvent
			tok := ""
			for limit <= 0 || len(events) < limit {
				res, err := c.Audit.ListAuditEvents(ctx, &switchboardv1.ListAuditEventsRequest{OrganizationId: org, PageSize: 100, PageToken: tok})
				if err != nil {
					return err
				}
				events = append(events, res.AuditEvents...)
				if tok = res.NextPageToken; tok == "" {
					break
				}
			}
			if limit > 0 && len(events) > limit {
				events = events[:limit]
			}
			return a.show(messages(events), func(w io.Writer) {
				var rows [][]string
				for _, e := range events {
					details := ""
					if e.Details != nil && len(e.Details.Fields) > 0 {
						b, _ := json.Marshal(e.Details.AsMap())
						details = string(b)
					}
					rows = append(rows, []string{when(e.CreateTime), e.Actor, e.Action, orDash(e.ResourceId), details})
				}
				table(w, []string{"TIME", "ACTOR", "ACTION", "RESOURCE", "DETAILS"}, rows)
			})
		}),
	}
	c.Flags().IntVar(&limit, "limit", 50, "show at most this many events (0: all)")
	return c
}
