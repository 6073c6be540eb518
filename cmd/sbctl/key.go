package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/switchboardhq/switchboard/client"
	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
)

func keyCmd(a *app) *cobra.Command {
	return group("key", "Create, list and revoke API keys", "  sbctl key create ci --role member\n  sbctl key list",
		keyCreateCmd(a), keyListCmd(a), keyRevokeCmd(a))
}

func keyTable(w io.Writer, keys ...*switchboardv1.APIKey) {
	var rows [][]string
	for _, k := range keys {
		status := "active"
		switch {
		case k.RevokeTime != nil:
			status = "revoked"
		case k.ExpireTime != nil && k.ExpireTime.AsTime().Before(time.Now()):
			status = "expired"
		}
		rows = append(rows, []string{k.Id, k.Name, roleName(k.Role), k.Prefix + "…", status, when(k.CreateTime), orDash(when(k.LastUsedTime)), orDash(when(k.ExpireTime))})
	}
	table(w, []string{"ID", "NAME", "ROLE", "PREFIX", "STATUS", "CREATED", "LAST USED", "EXPIRES"}, rows)
}

func keyCreateCmd(a *app) *cobra.Command {
	var role string
	var expiresIn time.Duration
	c := &cobra.Command{
		Use:   "create NAME",
		Short: "Create an API key; its secret is shown once",
		Example: `  sbctl key create ci
  sbctl key create deploy --role admin --expires-in 720h
  export SWITCHBOARD_TOKEN=$(sbctl key create ci -o json | jq -r .secret)`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := parseEnum("role", role, "ROLE_", switchboardv1.Role_value)
			if err != nil {
				return err
			}
			if expiresIn < 0 {
				return &usageError{err: errors.New("--expires-in must be positive")}
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
			req := &switchboardv1.CreateAPIKeyRequest{OrganizationId: org, Name: args[0], Role: switchboardv1.Role(r)}
			if expiresIn > 0 {
				req.ExpireTime = timestamppb.New(time.Now().Add(expiresIn))
			}
			res, err := c.APIKeys.CreateAPIKey(ctx, req)
			if err != nil {
				return err
			}
			return a.show(res, func(w io.Writer) {
				keyTable(w, res.ApiKey)
				fmt.Fprintf(w, "\nSecret (shown only now; store it safely):\n%s\n", res.Secret)
			})
		},
	}
	c.Flags().StringVar(&role, "role", "member", "the key's role: viewer, member, admin or owner")
	c.Flags().DurationVar(&expiresIn, "expires-in", 0, "expire the key after this long, e.g. 720h (default: never)")
	_ = c.RegisterFlagCompletionFunc("role", cobra.FixedCompletions([]string{"viewer", "member", "admin", "owner"}, cobra.ShellCompDirectiveNoFileComp))
	return c
}

func keyListCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List the organization's API keys, including revoked ones",
		Example: "  sbctl key list\n  sbctl key list --org acme -o json",
		Args:    noArgs,
		RunE: a.withClient(func(ctx context.Context, cmd *cobra.Command, c *client.Client, _ []string) error {
			org, err := a.orgID(ctx, c)
			if err != nil {
				return err
			}
			keys, err := listAll(ctx, func(tok string) ([]*switchboardv1.APIKey, string, error) {
				res, err := c.APIKeys.ListAPIKeys(ctx, &switchboardv1.ListAPIKeysRequest{OrganizationId: org, PageSize: 100, PageToken: tok})
				return res.GetApiKeys(), res.GetNextPageToken(), err
			})
			if err != nil {
				return err
			}
			return a.show(messages(keys), func(w io.Writer) { keyTable(w, keys...) })
		}),
	}
}

func keyRevokeCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "revoke KEY_ID",
		Short:   "Revoke an API key; it stops working at once",
		Example: "  sbctl key revoke key_0123",
		Args:    exactArgs("KEY_ID"),
		RunE: a.withClient(func(ctx context.Context, cmd *cobra.Command, c *client.Client, args []string) error {
			res, err := c.APIKeys.RevokeAPIKey(ctx, &switchboardv1.RevokeAPIKeyRequest{Id: args[0]})
			if err != nil {
				return err
			}
			return a.show(res.ApiKey, func(w io.Writer) { fmt.Fprintf(w, "Revoked key %s (%s).\n", res.ApiKey.Id, res.ApiKey.Name) })
		}),
	}
}
