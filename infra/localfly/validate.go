package localfly

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// validator checks requests against the published Machines API spec.
type validator struct {
	router routers.Router
}

func newValidator(specPath string) (*validator, error) {
	if specPath == "" {
		return nil, errors.New("spec path is required")
	}
	raw, err := os.ReadFile(specPath)
	if err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	var doc2 openapi2.T
	if err := json.Unmarshal(raw, &doc2); err != nil {
		return nil, fmt.Errorf("parse spec %s: %w", specPath, err)
	}
	doc, err := openapi2conv.ToV3(&doc2)
	if err != nil {
		return nil, fmt.Errorf("convert spec %s to OpenAPI 3: %w", specPath, err)
	}
	for _, ex := range specExceptions() {
		if ex.patch == nil {
			continue
		}
		if err := ex.patch(doc); err != nil {
			return nil, fmt.Errorf("spec exception %q: %w", ex.name, err)
		}
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route spec %s: %w", specPath, err)
	}
	return &validator{router: router}, nil
}

// validate checks r's parameters and body. Routes the spec does not have
// (the secrets endpoints, see specExceptions) pass; their handlers decode
// into fly-go's own types and reject what does not fit.
func (v *validator) validate(r *http.Request) error {
	rel := r.Clone(r.Context())
	rel.URL.Path = strings.TrimPrefix(r.URL.Path, "/v1")
	rel.URL.RawPath = ""
	route, params, err := v.router.FindRoute(rel)
	if err != nil {
		return nil
	}
	// ValidateRequest reads the body and leaves a fresh reader on rel; hand
	// that one back so the handler can read the body too.
	defer func() { r.Body = rel.Body }()
	in := &openapi3filter.RequestValidationInput{
		Request:    rel,
		PathParams: params,
		Route:      route,
		Options: &openapi3filter.Options{
			AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
			// Defaults would make the handler see fields the client never sent.
			SkipSettingDefaults: true,
		},
	}
	if err := openapi3filter.ValidateRequest(context.WithoutCancel(r.Context()), in); err != nil {
		return errorf(http.StatusBadRequest, "%s", validationMessage(err))
	}
	return nil
}

// validationMessage keeps kin-openapi's reason and field path but drops the
// schema dump it appends, which is noise in an API error.
func validationMessage(err error) string {
	var re *openapi3filter.RequestError
	if errors.As(err, &re) {
		var se *openapi3.SchemaError
		if errors.As(re.Err, &se) {
			where := "request body"
			if re.Parameter != nil {
				where = fmt.Sprintf("%s parameter %q", re.Parameter.In, re.Parameter.Name)
			}
			msg, _, _ := strings.Cut(se.Error(), "\nSchema:")
			return fmt.Sprintf("invalid %s: %s", where, strings.TrimSpace(msg))
		}
		return re.Error()
	}
	return err.Error()
}

// specException is one place where the spec is changed in memory before use.
type specException struct {
	name  string
	patch func(*openapi3.T) error // nil when only a handler accounts for it
}

// specExceptions is the single list of differences between the published
// spec (fly-machines-api.swagger.json) and what fly-go v0.9.3 sends, which
// real Fly accepts. The spec file itself is never edited.
func specExceptions() []specException {
	return []specException{
		{
			// The spec names host api.machines.dev over https with base path
			// /v1; localfly serves /v1 on whatever address it listens on, so
			// the servers go and validate strips /v1 before routing.
			name:  "servers: any host, base path /v1",
			patch: func(doc *openapi3.T) error { doc.Servers = nil; return nil },
		},
		{
			// fly.Duration is an object in the spec, but fly-go marshals it as a
			// Go duration string ("10s"): StopRequest.timeout (always sent,
			// "0s" when unset), StopConfig.timeout and MachineCheck
			// interval/timeout/grace_period.
			name: "fly.Duration: duration string",
			patch: func(doc *openapi3.T) error {
				return replaceSchema(doc, "fly.Duration", &openapi3.Schema{OneOf: openapi3.SchemaRefs{
					openapi3.NewStringSchema().NewRef(),
					openapi3.NewIntegerSchema().NewRef(),
					openapi3.NewObjectSchema().NewRef(),
				}})
			},
		},
		{
			// fly-go's MachineService.ForceInstanceKey has no omitempty, so every
			// service carries "force_instance_key": null.
			name: "fly.MachineService.force_instance_key: nullable",
			patch: func(doc *openapi3.T) error {
				return patchProperty(doc, "fly.MachineService", "force_instance_key", func(s *openapi3.Schema) { s.Nullable = true })
			},
		},
		{
			// fly-go's MachineAutostop marshals off/stop as booleans but
			// suspend as the string "suspend".
			name: "fly.MachineService.autostop: boolean or \"off\"/\"stop\"/\"suspend\"",
			patch: func(doc *openapi3.T) error {
				return patchProperty(doc, "fly.MachineService", "autostop", func(s *openapi3.Schema) {
					*s = openapi3.Schema{OneOf: openapi3.SchemaRefs{
						openapi3.NewBoolSchema().NewRef(),
						openapi3.NewStringSchema().WithEnum("off", "stop", "suspend").NewRef(),
					}}
				})
			},
		},
		{
			// fly-go's restart policies include spot-price, which the spec's
			// enum predates.
			name: "fly.MachineRestart.policy: spot-price",
			patch: func(doc *openapi3.T) error {
				return patchProperty(doc, "fly.MachineRestart", "policy", func(s *openapi3.Schema) {
					s.Enum = append(s.Enum, "spot-price")
				})
			},
		},
		{
			// fly-go's AcquireLease and RefreshLease send no body; ttl travels
			// in the query string. The spec requires a CreateLeaseRequest body.
			name: "POST .../lease: body optional, ttl in query",
			patch: func(doc *openapi3.T) error {
				op, err := operation(doc, "/apps/{app_name}/machines/{machine_id}/lease", http.MethodPost)
				if err != nil {
					return err
				}
				op.RequestBody.Value.Required = false
				return nil
			},
		},
		{
			// flaps.WithWaitStates sends one state= per state, and Fly also
			// waits for "suspended"; the spec has a single started|stopped|
			// destroyed value. The handler accepts any of the given states.
			name: "GET .../wait: state repeatable, suspended allowed",
			patch: func(doc *openapi3.T) error {
				op, err := operation(doc, "/apps/{app_name}/machines/{machine_id}/wait", http.MethodGet)
				if err != nil {
					return err
				}
				p := op.Parameters.GetByInAndName("query", "state")
				if p == nil {
					return errors.New("no state parameter")
				}
				explode := true
				p.Style, p.Explode = openapi3.SerializationForm, &explode
				p.Schema = openapi3.NewArraySchema().WithItems(
					openapi3.NewStringSchema().WithEnum("started", "stopped", "suspended", "destroyed")).NewRef()
				return nil
			},
		},
		// Handled in the handlers, no patch:
		//  - App secrets (GET/POST /apps/{app}/secrets, GET/POST/DELETE
		//    /apps/{app}/secrets/{name}) are not in the spec; they follow
		//    fly-go's SetAppSecretRequest, UpdateAppSecretsRequest and
		//    ListAppSecretsResp and bodies are decoded strictly into them.
		//  - CreateAppRequest: fly-go sends "name", the spec "app_name"; both
		//    are read.
		//  - DELETE .../machines/{id}: fly-go sends ?kill=, the spec ?force=;
		//    both mean force.
		//  - POST .../metadata/{key}: fly-go sends {"value": ...}, which the
		//    spec does not describe; the handler reads it.
		//  - POST .../restart: fly-go sends ?force_stop= and ?signal= besides
		//    the spec's ?timeout= (a Go duration string).
		{name: "secrets endpoints (fly-go types)"},
		{name: "CreateAppRequest.name"},
		{name: "DELETE machine ?kill="},
		{name: "metadata value body"},
		{name: "restart query parameters"},
	}
}

func operation(doc *openapi3.T, path, method string) (*openapi3.Operation, error) {
	item := doc.Paths.Value(path)
	if item == nil {
		return nil, fmt.Errorf("path %s not in spec", path)
	}
	op := item.GetOperation(method)
	if op == nil {
		return nil, fmt.Errorf("%s %s not in spec", method, path)
	}
	return op, nil
}

// replaceSchema overwrites a component schema in place, so every $ref that
// already points at it sees the new definition.
func replaceSchema(doc *openapi3.T, name string, with *openapi3.Schema) error {
	ref := doc.Components.Schemas[name]
	if ref == nil || ref.Value == nil {
		return fmt.Errorf("schema %s not in spec", name)
	}
	*ref.Value = *with
	return nil
}

func patchProperty(doc *openapi3.T, schema, property string, patch func(*openapi3.Schema)) error {
	ref := doc.Components.Schemas[schema]
	if ref == nil || ref.Value == nil {
		return fmt.Errorf("schema %s not in spec", schema)
	}
	prop := ref.Value.Properties[property]
	if prop == nil || prop.Value == nil {
		return fmt.Errorf("property %s.%s not in spec", schema, property)
	}
	patch(prop.Value)
	return nil
}
