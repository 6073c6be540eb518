// Package client is the Go SDK for the Switchboard API.
//
// The API is a set of Connect services (see proto/switchboard/v1). The
// generated code in gen/switchboard/v1 holds the messages and a client per
// service; this package wires those clients together with the things every
// program needs: credentials, retries of safe reads, and waiting for an
// instance to come up.
//
// # Connecting
//
// Create one Client per API and credential and share it; it is safe for
// concurrent use.
//
//	c := client.New("https://api.switchboard.example", client.WithAPIKey(os.Getenv("SWITCHBOARD_TOKEN")))
//
// A Client has one field per service, each the generated Connect client:
//
//	c.Auth             sign up, log in, log out, current user
//	c.Organizations    organizations and their members
//	c.APIKeys          organization-scoped API keys (sb_key_…)
//	c.Audit            the audit trail
//	c.Instances        realtime and breaker instances
//	c.Configs          instance configs, versions, rollbacks and rollouts
//	c.DataPlaneTokens  tokens for data planes (sb_dp_…)
//	c.DataPlane        what data planes call to report their status
//
// Methods take the request message and return the response message:
//
//	res, err := c.Organizations.ListOrganizations(ctx, &switchboardv1.ListOrganizationsRequest{})
//
// # Credentials
//
// Every request carries Authorization: Bearer with the credential given to
// WithAPIKey: an API key for automation, or a session token from
// Auth.SignUp or Auth.LogIn. SignUp and LogIn themselves need none, so a
// program can start without credentials, sign up, and create a second Client
// with the session token it got back.
//
// # Errors
//
// Errors are *connect.Error values; use connect.CodeOf to classify them.
// Another organization's resources are reported as connect.CodeNotFound,
// never as permission denied. Invalid input is connect.CodeInvalidArgument
// with one violation per bad field; FieldViolations returns them:
//
//	_, err := c.Organizations.CreateOrganization(ctx, &switchboardv1.CreateOrganizationRequest{Name: ""})
//	for _, v := range client.FieldViolations(err) {
//		fmt.Printf("%s: %s\n", v.Field, v.Description)
//	}
//
// # Retries
//
// Reads (methods named Get… and List…) that fail with connect.CodeUnavailable
// — the server is restarting, a load balancer has no backend yet — are
// retried with exponential backoff and full jitter, up to WithMaxRetries
// times, never past the context's deadline. Writes are never retried: a
// write that failed with Unavailable may still have happened.
//
// # Instances
//
// CreateInstance returns at once with the instance PENDING; provisioning
// happens in the background. WaitForInstance follows the WatchInstance stream
// until the instance is RUNNING, and returns an *InstanceFailedError, with
// the reason the API gave, if it FAILED. FollowInstance does the same and
// calls a function on every change, for progress displays.
//
//	res, err := c.Instances.CreateInstance(ctx, &switchboardv1.CreateInstanceRequest{
//		OrganizationId: orgID, Name: "edge", Kind: switchboardv1.InstanceKind_INSTANCE_KIND_BREAKER,
//	})
//	...
//	inst, err := c.WaitForInstance(ctx, res.Instance.Id)
package client
