package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// run executes sbctl with args and returns the exit code.
func run(ctx context.Context, args []string, a *app) int {
	root := newRoot(a)
	root.SetArgs(args)
	root.SetIn(a.in)
	root.SetOut(a.out)
	root.SetErr(a.errOut)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	var uerr *usageError
	if errors.As(err, &uerr) && uerr.path == "" && cmd != nil {
		uerr.path = cmd.CommandPath()
	}
	url, _, _ := a.endpoint()
	return report(a.errOut, err, url)
}

func newRoot(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "sbctl",
		Short: "Manage Switchboard: organizations, API keys, instances, configs and data-plane tokens",
		Long: `sbctl manages Switchboard from the command line.

Log in once with ` + "`sbctl login`" + `; the credential is stored in your user config
directory (mode 0600). SWITCHBOARD_API_URL and SWITCHBOARD_TOKEN override it,
for CI. Commands that act on an organization use --org, SWITCHBOARD_ORG, or
your only organization.

Exit codes: 0 success, 1 error, 2 usage.`,
		Example: `  sbctl login --email ada@example.com
  sbctl instance create edge --kind breaker --wait
  sbctl config apply -f edge.yaml ins_0123
  SWITCHBOARD_TOKEN=sb_key_… sbctl instance list -o json`,
		SilenceErrors:     true,
		SilenceUsage:      true,
		Args:              noArgs,
		RunE:              func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: false},
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if !slices.Contains(outputFormats, a.output) {
				return &usageError{err: fmt.Errorf("-o %s: unknown format (want %s)", a.output, strings.Join(outputFormats, ", "))}
			}
			return checkRequiredFlags(cmd)
		},
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &usageError{err: err, path: cmd.CommandPath()}
	})
	pf := root.PersistentFlags()
	pf.StringVar(&a.apiURL, "api-url", "", "API base URL (default: SWITCHBOARD_API_URL, the logged-in API, or "+defaultAPIURL+")")
	pf.StringVarP(&a.output, "output", "o", "table", "output format: table, json or yaml")
	pf.StringVar(&a.org, "org", "", "organization id or slug (default: SWITCHBOARD_ORG, or your only organization)")
	_ = root.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(outputFormats, cobra.ShellCompDirectiveNoFileComp))

	root.AddCommand(
		loginCmd(a), logoutCmd(a), whoamiCmd(a),
		orgCmd(a), keyCmd(a), auditCmd(a),
		instanceCmd(a), configCmd(a), tokenCmd(a),
	)
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		switch c.Name() {
		case "help":
			c.Example = "  sbctl help instance create"
		case "completion":
			c.Example = `  source <(sbctl completion bash)
  sbctl completion zsh > "${fpath[1]}/_sbctl"`
			for _, sh := range c.Commands() {
				sh.Example = fmt.Sprintf("  sbctl completion %s", sh.Name())
			}
		}
	}
	return root
}

// group makes a command that only holds subcommands: with no argument it
// prints help, with an unknown one it is a usage error.
func group(use, short, example string, subs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{
		Use: use, Short: short, Example: example,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	c.AddCommand(subs...)
	return c
}

// noArgs refuses arguments; on a group it names the unknown subcommand.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if cmd.HasSubCommands() {
		return &usageError{err: fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath()), path: cmd.CommandPath()}
	}
	return &usageError{err: fmt.Errorf("%s takes no arguments", cmd.CommandPath()), path: cmd.CommandPath()}
}

// exactArgs requires the named positional arguments.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == len(names) {
			return nil
		}
		if len(args) < len(names) {
			return &usageError{err: fmt.Errorf("missing %s", strings.Join(names[len(args):], " ")), path: cmd.CommandPath()}
		}
		return &usageError{err: fmt.Errorf("too many arguments: %s takes %s", cmd.CommandPath(), strings.Join(names, " ")), path: cmd.CommandPath()}
	}
}

func sortStrings(s []string) []string {
	slices.Sort(s)
	return s
}

// requiredAnnotation marks flags a command needs. cobra's own
// MarkFlagRequired fails before our hooks run, so its error could not be
// reported as a usage error (exit 2).
const requiredAnnotation = "sbctl_required"

func requireFlag(cmd *cobra.Command, name string) {
	_ = cmd.Flags().SetAnnotation(name, requiredAnnotation, []string{"true"})
}

func checkRequiredFlags(cmd *cobra.Command) error {
	var missing []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if _, ok := f.Annotations[requiredAnnotation]; ok && !f.Changed {
			missing = append(missing, "--"+f.Name)
		}
	})
	if len(missing) > 0 {
		return &usageError{err: fmt.Errorf("missing required flag %s", strings.Join(missing, ", ")), path: cmd.CommandPath()}
	}
	return nil
}
