package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/switchboardhq/switchboard/client"
	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
)

func tokenCmd(a *app) *cobra.Command {
	return group("token", "Create, list and revoke data-plane tokens",
		"  sbctl token create ins_0123 --name on-prem\n  sbctl token list ins_0123",
		tokenCreateCmd(a), tokenListCmd(a), tokenRevokeCmd(a))
}

func tokenTable(w io.Writer, list ...*switchboardv1.DataPlaneToken) {
	var rows [][]string
	for _, t := range list {
		status := "active"
		if t.RevokeTime != nil {
			status = "revoked"
		}
		rows = append(rows, []string{t.Id, t.Name, t.Prefix + "…", status, when(t.CreateTime), orDash(when(t.LastUsedTime))})
	}
	table(w, []string{"ID", "NAME", "PREFIX", "STATUS", "CREATED", "LAST USED"}, rows)
}

func tokenCreateCmd(a *app) *cobra.Command {
	var name string
	c := &cobra.Command{
		Use:   "create INSTANCE_ID",
		Short: "Create a data-plane token; prints what a self-hosted data plane needs",
		Example: `  sbctl token create ins_0123 --name on-prem
  sbctl token create ins_0123 --name k8s -o json > dataplane.json`,
		Args: exactArgs("INSTANCE_ID"),
		RunE: a.withClient(func(ctx context.Context, cmd *cobra.Command, c *client.Client, args []string) error {
			res, err := c.DataPlaneTokens.CreateDataPlaneToken(ctx, &switchboardv1.CreateDataPlaneTokenRequest{InstanceId: args[0], Name: name})
			if err != nil {
				return err
			}
			return a.show(res, func(w io.Writer) {
				tokenTable(w, res.Token)
				fmt.Fprintf(w, "\nRun a data plane with (the token is shown only now):\n")
				fmt.Fprintf(w, "SWITCHBOARD_INSTANCE_ID=%s\n", res.Token.InstanceId)
				fmt.Fprintf(w, "SWITCHBOARD_CDN_URL=%s\n", res.CdnUrl)
				fmt.Fprintf(w, "SWITCHBOARD_TOKEN=%s\n", res.Secret)
				for _, k := range res.TrustedKeys {
					fmt.Fprintf(w, "# trusted key %s: %s\n", k.KeyId, base64.StdEncoding.EncodeToString(k.PublicKey))
				}
			})
		}),
	}
	c.Flags().StringVar(&name, "name", "", "a name to recognise the token by (required)")
	requireFlag(c, "name")
	return c
}

func tokenListCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "list INSTANCE_ID",
		Short:   "List an instance's data-plane tokens, including revoked ones",
		Example: "  sbctl token list ins_0123",
		Args:    exactArgs("INSTANCE_ID"),
		RunE: a.withClient(func(ctx context.Context, cmd *cobra.Command, c *client.Client, args []string) error {
			list, err := listAll(ctx, func(tok string) ([]*switchboardv1.DataPlaneToken, string, error) {
				res, err := c.DataPlaneTokens.ListDataPlaneTokens(ctx, &switchboardv1.ListDataPlaneTokensRequest{InstanceId: args[0], PageSize: 100, PageToken: tok})
				return res.GetTokens(), res.GetNextPageToken(), err
			})
			if err != nil {
				return err
			}
			return a.show(messages(list), func(w io.Writer) { tokenTable(w, list...) })
		}),
	}
}

func tokenRevokeCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "revoke TOKEN_ID",
		Short:   "Revoke a data-plane token (the CDN stops honouring it within 10s)",
		Example: "  sbctl token revoke dpt_0123",
		Args:    exactArgs("TOKEN_ID"),
		RunE: a.withClient(func(ctx context.Context, cmd *cobra.Command, c *client.Client, args []string) error {
			res, err := c.DataPlaneTokens.RevokeDataPlaneToken(ctx, &switchboardv1.RevokeDataPlaneTokenRequest{Id: args[0]})
			if err != nil {
				return err
			}
			return a.show(res.Token, func(w io.Writer) { fmt.Fprintf(w, "Revoked token %s (%s).\n", res.Token.Id, res.Token.Name) })
		}),
	}
}
