package main

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
)

func orgCmd(a *app) *cobra.Command {
	return group("org", "List, show and create organizations", "  sbctl org list\n  sbctl org create \"Acme Inc\"",
		orgListCmd(a), orgGetCmd(a), orgCreateCmd(a))
}

func orgTable(w io.Writer, orgs ...*switchboardv1.Organization) {
	var rows [][]string
	for _, o := range orgs {
		rows = append(rows, []string{o.Id, o.Slug, o.Name, roleName(o.CallerRole), when(o.CreateTime)})
	}
	table(w, []string{"ID", "SLUG", "NAME", "YOUR ROLE", "CREATED"}, rows)
}

func orgListCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List the organizations you belong to",
		Example: "  sbctl org list\n  sbctl org list -o json",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, _, err := a.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), callTimeout)
			defer cancel()
			orgs, err := listAll(ctx, func(tok string) ([]*switchboardv1.Organization, string, error) {
				res, err := c.Organizations.ListOrganizations(ctx, &switchboardv1.ListOrganizationsRequest{PageSize: 100, PageToken: tok})
				return res.GetOrganizations(), res.GetNextPageToken(), err
			})
			if err != nil {
				return err
			}
			return a.show(messages(orgs), func(w io.Writer) { orgTable(w, orgs...) })
		},
	}
}

func orgGetCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "get ORG_ID",
		Short:   "Show one organization",
		Example: "  sbctl org get org_0123\n  sbctl org get org_0123 -o yaml",
		Args:    exactArgs("ORG_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, err := a.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), callTimeout)
			defer cancel()
			res, err := c.Organizations.GetOrganization(ctx, &switchboardv1.GetOrganizationRequest{Id: args[0]})
			if err != nil {
				return err
			}
			return a.show(res.Organization, func(w io.Writer) { orgTable(w, res.Organization) })
		},
	}
}

func orgCreateCmd(a *app) *cobra.Command {
	var slug string
	c := &cobra.Command{
		Use:     "create NAME",
		Short:   "Create an organization, with you as its owner",
		Example: "  sbctl org create \"Acme Inc\"\n  sbctl org create \"Acme Inc\" --slug acme",
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, err := a.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), callTimeout)
			defer cancel()
			res, err := c.Organizations.CreateOrganization(ctx, &switchboardv1.CreateOrganizationRequest{Name: args[0], Slug: slug})
			if err != nil {
				return err
			}
			return a.show(res.Organization, func(w io.Writer) { orgTable(w, res.Organization) })
		},
	}
	c.Flags().StringVar(&slug, "slug", "", "URL-safe handle (default: derived from the name)")
	return c
}

// callContext is the context for one command's unary calls.
func callContext(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return context.WithTimeout(cmd.Context(), callTimeout)
}
