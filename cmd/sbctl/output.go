package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
)

var outputFormats = []string{"table", "json", "yaml"}

// jsonOpts keeps the proto field names (organization_id), as the API
// reference and config files use them.
var jsonOpts = protojson.MarshalOptions{UseProtoNames: true, Indent: "  "}

// show prints one message, or a list of them, in the chosen format; table
// is the human format, drawn by the table function.
func (a *app) show(v any, table func(w io.Writer)) error {
	switch a.output {
	case "json", "yaml":
		b, err := marshalJSON(v)
		if err != nil {
			return err
		}
		if a.output == "yaml" {
			if b, err = jsonToYAML(b); err != nil {
				return err
			}
			_, err = a.out.Write(b)
			return err
		}
		_, err = fmt.Fprintf(a.out, "%s\n", b)
		return err
	default:
		table(a.out)
		return nil
	}
}

// marshalJSON renders a proto message or a slice of them (as an array).
func marshalJSON(v any) ([]byte, error) {
	if m, ok := v.(proto.Message); ok {
		return jsonOpts.Marshal(m)
	}
	var items []json.RawMessage
	switch list := v.(type) {
	case []proto.Message:
		for _, m := range list {
			b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
			if err != nil {
				return nil, err
			}
			items = append(items, b)
		}
	default:
		return nil, fmt.Errorf("cannot render %T", v)
	}
	if items == nil {
		items = []json.RawMessage{}
	}
	b, err := json.Marshal(items)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func messages[T proto.Message](list []T) []proto.Message {
	out := make([]proto.Message, len(list))
	for i, m := range list {
		out[i] = m
	}
	return out
}

// table writes aligned columns.
func table(w io.Writer, header []string, rows [][]string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
}

// fields writes "Name:  value" lines for one resource.
func fields(w io.Writer, kv ...string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			continue
		}
		fmt.Fprintf(tw, "%s:\t%s\n", kv[i], kv[i+1])
	}
	tw.Flush()
}

func when(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return ""
	}
	return ts.AsTime().Local().Format(time.DateTime)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// enumName turns ROLE_ADMIN into "admin" and INSTANCE_STATE_RUNNING into
// "running".
func enumName(full, prefix string) string {
	return strings.ToLower(strings.TrimPrefix(full, prefix))
}

func roleName(r switchboardv1.Role) string { return enumName(r.String(), "ROLE_") }

func stateName(s switchboardv1.InstanceState) string {
	return enumName(s.String(), "INSTANCE_STATE_")
}

func kindName(k switchboardv1.InstanceKind) string { return enumName(k.String(), "INSTANCE_KIND_") }

// parseEnum maps a lower-case name ("admin") to its enum value.
func parseEnum(flag, s, prefix string, values map[string]int32) (int32, error) {
	key := prefix + strings.ToUpper(strings.ReplaceAll(s, "-", "_"))
	if v, ok := values[key]; ok && v != 0 {
		return v, nil
	}
	var names []string
	for name, v := range values {
		if v != 0 {
			names = append(names, strings.ToLower(strings.TrimPrefix(name, prefix)))
		}
	}
	return 0, &usageError{err: fmt.Errorf("--%s: unknown value %q (want one of %s)", flag, s, strings.Join(sortStrings(names), ", "))}
}
