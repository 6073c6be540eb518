// Package localfly is a local stand-in for the Fly.io Machines API.
//
// It serves the subset of https://api.machines.dev/v1 that the control plane
// uses through fly-go's flaps client (github.com/superfly/fly-go/flaps v0.9.3):
// apps, app secrets, machines (create, get, list, update, start, stop, restart,
// destroy, wait), leases, metadata and events. Pointing FLY_FLAPS_BASE_URL at a
// localfly server (and FLY_API_TOKEN at its token) is the only difference
// between talking to it and talking to Fly.
//
// # Contract
//
// fly-go v0.9.3 is the contract: paths, JSON shapes and the nonce header
// (fly-machine-lease-nonce) follow its flaps package. Every request is checked
// against the published Swagger 2.0 spec (see validate.go); where fly-go and
// the spec disagree fly-go wins, and each such case is listed once in
// specExceptions. Errors are Fly's shape, {"error": "..."} with the status Fly
// uses: 401 without a valid bearer token, 404 "app not found" / "machine not
// found", 409 for a lease held by someone else, 412 for a state that forbids
// the operation or for no capacity (with "status": "insufficient_capacity"),
// 408 when /wait times out, 400 for a request the spec or Fly rejects, 422 for
// an image that cannot be resolved.
//
// # Machines are local processes
//
// Params.Images (cmd flag --image name=path, repeatable) maps an image name to
// a local binary. config.image is looked up as given and then without its
// ":tag" or "@digest"; an unknown image is a 422 at create or update time. The
// binary runs with config.init.cmd as its arguments, in its own process group,
// in the machine's own directory under Params.DataDir (kept across restarts, as
// a volume would be, and removed on destroy), with this environment and
// nothing else:
//
//   - HOME and XDG_CACHE_HOME inside the machine's directory,
//   - Params.BaseEnv (cmd passes PATH),
//   - the app's secrets (unless the machine was created with skip_secrets),
//   - config.env,
//   - PORT, FLY_MACHINE_ID, FLY_APP_NAME, FLY_REGION, FLY_IMAGE_REF,
//     FLY_PRIVATE_IP and FLY_ALLOC_ID (the instance id).
//
// The process must listen on 127.0.0.1:$PORT. PORT is a free loopback port
// chosen once per machine and kept across restarts and updates; it stands for
// the first service's internal_port. Fly's private_ip stays a fake 6PN address,
// so the reachable address is exposed out of band, by an admin endpoint:
//
//	GET /localfly/machines/{machine_id}
//	→ {"id": "...", "app": "...", "state": "started",
//	   "url": "http://127.0.0.1:PORT", "port": PORT, "internal_port": 8080,
//	   "pid": 1234}
//
// The machine's state follows its process: a clean start is "started"; an exit
// the user did not ask for applies config.restart (default on-failure with 10
// retries, as on Fly) and otherwise ends in "stopped" (or "destroyed" with
// auto_destroy). stop, restart, update and destroy send the stop signal
// (StopRequest.signal, else config.stop_config.signal, else SIGTERM) to the
// process group and SIGKILL after the timeout. Close kills every process group.
//
// # Faults
//
// /localfly/faults (GET, PUT, DELETE; same token) reads, replaces or clears
// the injected faults, a Faults JSON object:
//
//	{"error_rate": 0.2, "error_status": 500, "burst_429": 3,
//	 "retry_after_seconds": 1, "latency_ms": 50,
//	 "no_capacity_regions": ["fra"]}
//
// Faults apply to /v1 requests only. fly-go's transport itself retries 502 and
// 503 up to three times, so error_status defaults to 500, which it surfaces.
package localfly
