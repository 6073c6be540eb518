package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"sigs.k8s.io/yaml"

	"github.com/switchboardhq/switchboard/client"
	"github.com/switchboardhq/switchboard/compile"
	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
)

const configFileHint = "the file holds a `breaker:` or `realtime:` section with the API's field names; `sbctl config get INSTANCE_ID -o yaml` prints one to start from"

func configCmd(a *app) *cobra.Command {
	return group("config", "Show, apply, diff, list and roll back instance configs",
		"  sbctl config get ins_0123 -o yaml > edge.yaml\n  sbctl config apply -f edge.yaml ins_0123",
		configGetCmd(a), configApplyCmd(a), configDiffCmd(a), configHistoryCmd(a), configRollbackCmd(a))
}

// configFile is a parsed config file: the spec and, when the file came from
// `config get`, the version it was based on.
type configFile struct {
	path string
	cfg  *switchboardv1.Config
}

// readConfigFile parses YAML (or JSON) into a Config, refusing unknown
// fields, so a typo is an error rather than a silently ignored setting.
func readConfigFile(path, instanceID string) (*configFile, error) {
	var b []byte
	var err error
	if path == "-" {
		b, err = io.ReadAll(os.Stdin)
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, &hintError{msg: fmt.Sprintf("read %s: %v", path, errors.Unwrap(err)), hint: "check the path given to -f"}
	}
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		return nil, &hintError{msg: fmt.Sprintf("%s is not valid YAML: %v", path, err), hint: configFileHint}
	}
	cfg := &switchboardv1.Config{}
	if err := protojson.Unmarshal(j, cfg); err != nil {
		return nil, &hintError{msg: fmt.Sprintf("%s: %v", path, err), hint: configFileHint}
	}
	if cfg.Spec == nil {
		return nil, &hintError{msg: path + " has no breaker or realtime section", hint: configFileHint}
	}
	if cfg.InstanceId != "" && cfg.InstanceId != instanceID {
		return nil, &hintError{msg: fmt.Sprintf("%s is the config of %s, not %s", path, cfg.InstanceId, instanceID), hint: "remove instance_id from the file to apply it elsewhere"}
	}
	return &configFile{path: path, cfg: cfg}, nil
}

// specYAML renders a config's spec (breaker or realtime section) as YAML.
func specYAML(cfg *switchboardv1.Config) string {
	if cfg == nil || cfg.Spec == nil {
		return ""
	}
	spec := &switchboardv1.Config{Spec: cfg.Spec}
	j, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(spec)
	if err != nil {
		return ""
	}
	y, err := jsonToYAML(j)
	if err != nil {
		return ""
	}
	return string(y)
}

// secretsChanged lists write-only secrets the file sets to a new value: the
// API masks them, so a diff of masked documents cannot show the change.
func secretsChanged(file *switchboardv1.Config) []string {
	rt := file.GetRealtime()
	if rt == nil {
		return nil
	}
	var out []string
	for name, v := range map[string]string{"jwt_secret": rt.JwtSecret, "streams_secret": rt.StreamsSecret, "broadcast_key": rt.BroadcastKey} {
		if v != "" && !strings.HasPrefix(v, compile.SecretMask) {
			out = append(out, name)
		}
	}
	return sortStrings(out)
}

func validateRequest(id string, cfg *switchboardv1.Config) *switchboardv1.ValidateConfigRequest {
	req := &switchboardv1.ValidateConfigRequest{InstanceId: id}
	switch s := cfg.Spec.(type) {
	case *switchboardv1.Config_Breaker:
		req.Spec = &switchboardv1.ValidateConfigRequest_Breaker{Breaker: s.Breaker}
	case *switchboardv1.Config_Realtime:
		req.Spec = &switchboardv1.ValidateConfigRequest_Realtime{Realtime: s.Realtime}
	}
	return req
}

func updateRequest(id string, base int64, cfg *switchboardv1.Config) *switchboardv1.UpdateConfigRequest {
	req := &switchboardv1.UpdateConfigRequest{InstanceId: id, BaseVersion: base}
	switch s := cfg.Spec.(type) {
	case *switchboardv1.Config_Breaker:
		req.Spec = &switchboardv1.UpdateConfigRequest_Breaker{Breaker: s.Breaker}
	case *switchboardv1.Config_Realtime:
		req.Spec = &switchboardv1.UpdateConfigRequest_Realtime{Realtime: s.Realtime}
	}
	return req
}

// plan validates the file and diffs the result (defaults applied, secrets
// masked) against the current config.
type plan struct {
	current, proposed *switchboardv1.Config
	diff              string
	secrets           []string
}

func (p *plan) changed() bool { return p.diff != "" || len(p.secrets) > 0 }

func makePlan(ctx context.Context, c *client.Client, id string, f *configFile) (*plan, error) {
	cur, err := c.Configs.GetConfig(ctx, &switchboardv1.GetConfigRequest{InstanceId: id})
	if err != nil {
		return nil, err
	}
	val, err := c.Configs.ValidateConfig(ctx, validateRequest(id, f.cfg))
	if err != nil {
		if vs := client.FieldViolations(err); len(vs) > 0 {
			h := &hintError{msg: fmt.Sprintf("%s is not a valid config for %s", f.path, id), hint: "fix the fields named above in " + f.path}
			for _, v := range vs {
				h.details = append(h.details, v.GetField()+": "+v.GetDescription())
			}
			return nil, h
		}
		return nil, err
	}
	p := &plan{current: cur.Config, proposed: val.Config, secrets: secretsChanged(f.cfg)}
	p.diff = unifiedDiff("current (v"+strconv.FormatInt(cur.Config.GetVersion(), 10)+")", f.path, specYAML(cur.Config), specYAML(val.Config))
	return p, nil
}

func (a *app) printPlan(p *plan) {
	if !p.changed() {
		fmt.Fprintln(a.errOut, "No changes.")
		return
	}
	fmt.Fprint(a.errOut, p.diff)
	for _, s := range p.secrets {
		fmt.Fprintf(a.errOut, "~ %s: changed (not shown)\n", s)
	}
}

func configTable(w io.Writer, cfg *switchboardv1.Config) {
	fields(w, "Instance", cfg.InstanceId, "Version", strconv.FormatInt(cfg.Version, 10),
		"Published", strconv.FormatInt(cfg.PublishedVersion, 10), "Created by", cfg.CreatedBy, "Created", when(cfg.CreateTime))
	if y := specYAML(cfg); y != "" {
		fmt.Fprintf(w, "---\n%s", y)
	}
}

func configGetCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "get INSTANCE_ID",
		Short: "Show an instance's current config (secrets masked)",
		Example: `  sbctl config get ins_0123
  sbctl config get ins_0123 -o yaml > edge.yaml   # edit, then: sbctl config apply -f edge.yaml ins_0123`,
		Args: exactArgs("INSTANCE_ID"),
		RunE: a.withClient(func(ctx context.Context, cmd *cobra.Command, c *client.Client, args []string) error {
			res, err := c.Configs.GetConfig(ctx, &switchboardv1.GetConfigRequest{InstanceId: args[0]})
			if err != nil {
				return err
			}
			return a.show(res.Config, func(w io.Writer) { configTable(w, res.Config) })
		}),
	}
}

func configApplyCmd(a *app) *cobra.Command {
	var file string
	var dryRun bool
	var baseVersion int64
	c := &cobra.Command{
		Use:   "apply -f FILE INSTANCE_ID",
		Short: "Validate a config file, show the diff, and store it as a new version",
		Long: `Validate FILE (YAML or JSON; - for standard input), show how it differs from
the current config, and store it as a new version. Validation errors name the
field path and the rule, and store nothing.

The edit is based on the version in the file (as written by
` + "`sbctl config get -o yaml`" + `), else --base-version, else the current one: if
someone else stored a version meanwhile, apply fails instead of overwriting it.`,
		Example: `  sbctl config apply -f edge.yaml ins_0123
  sbctl config apply -f edge.yaml ins_0123 --dry-run
  cat edge.yaml | sbctl config apply -f - ins_0123`,
		Args: exactArgs("INSTANCE_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			f, err := readConfigFile(file, id)
			if err != nil {
				return err
			}
			c, _, err := a.client()
			if err != nil {
				return err
			}
			ctx, cancel := callContext(cmd)
			defer cancel()
			p, err := makePlan(ctx, c, id, f)
			if err != nil {
				return err
			}
			a.printPlan(p)
			if !p.changed() || dryRun {
				return a.show(p.proposed, func(io.Writer) {})
			}
			base := p.current.GetVersion()
			if cmd.Flags().Changed("base-version") {
				base = baseVersion
			} else if f.cfg.Version > 0 {
				base = f.cfg.Version
			}
			res, err := c.Configs.UpdateConfig(ctx, updateRequest(id, base, f.cfg))
			if err != nil {
				return err
			}
			return a.show(res.Config, func(w io.Writer) {
				fmt.Fprintf(w, "Applied version %d to %s.\n", res.Config.Version, id)
			})
		},
	}
	c.Flags().StringVarP(&file, "file", "f", "", "config file, YAML or JSON; - reads standard input (required)")
	c.Flags().BoolVar(&dryRun, "dry-run", false, "validate and show the diff; store nothing")
	c.Flags().Int64Var(&baseVersion, "base-version", 0, "the version this edit is based on (default: the file's, else the current)")
	requireFlag(c, "file")
	_ = c.MarkFlagFilename("file", "yaml", "yml", "json")
	return c
}

func configDiffCmd(a *app) *cobra.Command {
	var file string
	c := &cobra.Command{
		Use:     "diff -f FILE INSTANCE_ID",
		Short:   "Show how a config file differs from the current config",
		Example: "  sbctl config diff -f edge.yaml ins_0123",
		Args:    exactArgs("INSTANCE_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := readConfigFile(file, args[0])
			if err != nil {
				return err
			}
			c, _, err := a.client()
			if err != nil {
				return err
			}
			ctx, cancel := callContext(cmd)
			defer cancel()
			p, err := makePlan(ctx, c, args[0], f)
			if err != nil {
				return err
			}
			if !p.changed() {
				fmt.Fprintln(a.out, "No changes.")
				return nil
			}
			fmt.Fprint(a.out, p.diff)
			for _, s := range p.secrets {
				fmt.Fprintf(a.out, "~ %s: changed (not shown)\n", s)
			}
			return nil
		},
	}
	c.Flags().StringVarP(&file, "file", "f", "", "config file, YAML or JSON (required)")
	requireFlag(c, "file")
	return c
}

func configHistoryCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "history INSTANCE_ID",
		Short:   "List an instance's config versions, newest first",
		Example: "  sbctl config history ins_0123",
		Args:    exactArgs("INSTANCE_ID"),
		RunE: a.withClient(func(ctx context.Context, cmd *cobra.Command, c *client.Client, args []string) error {
			list, err := listAll(ctx, func(tok string) ([]*switchboardv1.Config, string, error) {
				res, err := c.Configs.ListConfigVersions(ctx, &switchboardv1.ListConfigVersionsRequest{InstanceId: args[0], PageSize: 100, PageToken: tok})
				return res.GetConfigs(), res.GetNextPageToken(), err
			})
			if err != nil {
				return err
			}
			return a.show(messages(list), func(w io.Writer) {
				var rows [][]string
				for _, cfg := range list {
					published := ""
					if cfg.PublishedVersion >= cfg.Version && cfg.Version > 0 {
						published = "yes"
					}
					rows = append(rows, []string{strconv.FormatInt(cfg.Version, 10), when(cfg.CreateTime), cfg.CreatedBy, orDash(published)})
				}
				table(w, []string{"VERSION", "CREATED", "BY", "PUBLISHED"}, rows)
			})
		}),
	}
}

func configRollbackCmd(a *app) *cobra.Command {
	var to, base int64
	c := &cobra.Command{
		Use:     "rollback INSTANCE_ID --to-version N",
		Short:   "Store an old version's content as a new version",
		Example: "  sbctl config rollback ins_0123 --to-version 3",
		Args:    exactArgs("INSTANCE_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if to <= 0 {
				return &usageError{err: errors.New("--to-version must be a version number (see `sbctl config history`)")}
			}
			c, _, err := a.client()
			if err != nil {
				return err
			}
			ctx, cancel := callContext(cmd)
			defer cancel()
			res, err := c.Configs.RollbackConfig(ctx, &switchboardv1.RollbackConfigRequest{InstanceId: args[0], ToVersion: to, BaseVersion: base})
			if err != nil {
				return err
			}
			return a.show(res.Config, func(w io.Writer) {
				fmt.Fprintf(w, "Rolled %s back to the content of version %d, as version %d.\n", args[0], to, res.Config.Version)
			})
		},
	}
	c.Flags().Int64Var(&to, "to-version", 0, "the version to restore (required)")
	c.Flags().Int64Var(&base, "base-version", 0, "fail unless this is the current version")
	requireFlag(c, "to-version")
	return c
}
