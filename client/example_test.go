package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"connectrpc.com/connect"

	"github.com/switchboardhq/switchboard/client"
	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
)

// These examples talk to a live API, so they compile but do not run under
// go test; client_test.go runs the same calls against a real server.

func Example() {
	ctx := context.Background()
	c := client.New("http://127.0.0.1:8080", client.WithAPIKey(os.Getenv("SWITCHBOARD_TOKEN")))

	orgs, err := c.Organizations.ListOrganizations(ctx, &switchboardv1.ListOrganizationsRequest{})
	if err != nil {
		log.Fatal(err)
	}
	for _, org := range orgs.Organizations {
		fmt.Println(org.Id, org.Name)
	}
}

// Sign up, then use the session token to create an API key for automation.
func Example_signUp() {
	ctx := context.Background()
	api := "http://127.0.0.1:8080"
	res, err := client.New(api).Auth.SignUp(ctx, &switchboardv1.SignUpRequest{
		Email: "ada@example.com", Password: "correct horse battery", Name: "Ada",
	})
	if err != nil {
		log.Fatal(err)
	}
	c := client.New(api, client.WithAPIKey(res.SessionToken))
	key, err := c.APIKeys.CreateAPIKey(ctx, &switchboardv1.CreateAPIKeyRequest{
		OrganizationId: res.Organization.Id, Name: "ci", Role: switchboardv1.Role_ROLE_MEMBER,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("export SWITCHBOARD_TOKEN=" + key.Secret)
}

// Create a breaker instance, wait until it runs, give it a config and mint a
// token for a self-hosted data plane.
func ExampleClient_WaitForInstance() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := client.New("http://127.0.0.1:8080", client.WithAPIKey(os.Getenv("SWITCHBOARD_TOKEN")))

	created, err := c.Instances.CreateInstance(ctx, &switchboardv1.CreateInstanceRequest{
		OrganizationId: os.Getenv("SWITCHBOARD_ORG"), Name: "edge", Kind: switchboardv1.InstanceKind_INSTANCE_KIND_BREAKER,
	})
	if err != nil {
		log.Fatal(err)
	}
	inst, err := c.WaitForInstance(ctx, created.Instance.Id)
	var failed *client.InstanceFailedError
	if errors.As(err, &failed) {
		log.Fatalf("provisioning failed: %s", failed.Instance.FailureReason)
	} else if err != nil {
		log.Fatal(err)
	}
	fmt.Println("running at", inst.EndpointUrl)

	_, err = c.Configs.UpdateConfig(ctx, &switchboardv1.UpdateConfigRequest{
		InstanceId:  inst.Id,
		BaseVersion: 0,
		Spec: &switchboardv1.UpdateConfigRequest_Breaker{Breaker: &switchboardv1.BreakerConfig{
			Services: []*switchboardv1.BreakerService{{Name: "payments", UpstreamUrl: "https://payments.example.com", TimeoutMs: 2000}},
		}},
	})
	if err != nil {
		log.Fatal(err)
	}
	tok, err := c.DataPlaneTokens.CreateDataPlaneToken(ctx, &switchboardv1.CreateDataPlaneTokenRequest{InstanceId: inst.Id, Name: "on-prem"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("SWITCHBOARD_CDN_URL=" + tok.CdnUrl)
	fmt.Println("SWITCHBOARD_TOKEN=" + tok.Secret)
}

// Show progress while an instance comes up.
func ExampleClient_FollowInstance() {
	c := client.New("http://127.0.0.1:8080", client.WithAPIKey(os.Getenv("SWITCHBOARD_TOKEN")))
	inst, err := c.FollowInstance(context.Background(), "ins_…", func(i *switchboardv1.Instance) {
		fmt.Printf("%s %s\n", i.State, i.StateDetail)
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("final state:", inst.State)
}

// Print what was wrong with a request, field by field.
func ExampleFieldViolations() {
	c := client.New("http://127.0.0.1:8080", client.WithAPIKey(os.Getenv("SWITCHBOARD_TOKEN")))
	_, err := c.Organizations.CreateOrganization(context.Background(), &switchboardv1.CreateOrganizationRequest{Name: ""})
	if connect.CodeOf(err) == connect.CodeInvalidArgument {
		for _, v := range client.FieldViolations(err) {
			fmt.Printf("%s: %s\n", v.Field, v.Description)
		}
	}
}

// Use the gRPC protocol instead of Connect, with fewer retries.
func ExampleNew_options() {
	c := client.New("https://api.switchboard.example",
		client.WithAPIKey(os.Getenv("SWITCHBOARD_TOKEN")),
		client.WithConnectOptions(connect.WithGRPC()),
		client.WithMaxRetries(2),
	)
	_ = c
}
