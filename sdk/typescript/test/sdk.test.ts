// Tests of the SDK against a live API. e2e/typescript_test.go starts
// `switchboard dev` on a fresh database and runs `npm test` with
// SWITCHBOARD_URL pointing at it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

import {
  Code,
  ConnectError,
  InstanceFailedError,
  InstanceKind,
  InstanceState,
  Role,
  createSwitchboardClient,
  fieldViolations,
  type SwitchboardClient,
} from "@switchboardhq/sdk";

const baseUrl = process.env.SWITCHBOARD_URL ?? "";
const password = "correct horse battery";

function requireServer(): string {
  assert.ok(baseUrl, "SWITCHBOARD_URL is not set: run `go test ./e2e -run TypeScript`, which starts a server");
  return baseUrl;
}

function uniqueEmail(): string {
  return `ts-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@example.com`;
}

async function signUp(): Promise<{ sb: SwitchboardClient; orgId: string; token: string }> {
  const anon = createSwitchboardClient({ baseUrl: requireServer() });
  const res = await anon.auth.signUp({ email: uniqueEmail(), password, name: "Ada" });
  assert.match(res.sessionToken, /^sb_sess_/);
  assert.ok(res.organization);
  return {
    sb: createSwitchboardClient({ baseUrl, apiKey: res.sessionToken }),
    orgId: res.organization.id,
    token: res.sessionToken,
  };
}

test("sign up, create an API key, list organizations with it", async () => {
  const { sb, orgId } = await signUp();
  const me = await sb.auth.getCurrentUser({});
  assert.equal(me.user?.name, "Ada");

  const key = await sb.apiKeys.createAPIKey({ organizationId: orgId, name: "ci", role: Role.ADMIN });
  assert.match(key.secret, /^sb_key_/);
  assert.equal(key.apiKey?.role, Role.ADMIN);

  const keyed = createSwitchboardClient({ baseUrl, apiKey: key.secret });
  const { organizations } = await keyed.organizations.listOrganizations({});
  assert.equal(organizations.length, 1);
  assert.equal(organizations[0].id, orgId);
  assert.match(orgId, /^org_/);

  const { apiKeys } = await keyed.apiKeys.listAPIKeys({ organizationId: orgId });
  assert.ok(apiKeys.some((k) => k.id === key.apiKey?.id));

  const { auditEvents } = await sb.audit.listAuditEvents({ organizationId: orgId });
  assert.ok(auditEvents.some((e) => e.action === "api_key.create"), JSON.stringify(auditEvents.map((e) => e.action)));

  await sb.apiKeys.revokeAPIKey({ id: key.apiKey!.id });
  await assert.rejects(keyed.organizations.listOrganizations({}), (e: unknown) => {
    assert.ok(e instanceof ConnectError);
    assert.equal(e.code, Code.Unauthenticated);
    return true;
  });
});

test("the binary protobuf format works too", async () => {
  const { token, orgId } = await signUp();
  const sb = createSwitchboardClient({ baseUrl, apiKey: token, useBinaryFormat: true });
  const res = await sb.organizations.getOrganization({ id: orgId });
  assert.equal(res.organization?.callerRole, Role.OWNER);
});

test("invalid input names the fields", async () => {
  const anon = createSwitchboardClient({ baseUrl: requireServer() });
  await assert.rejects(anon.auth.signUp({ email: "plain", password: "short", name: "N" }), (e: unknown) => {
    assert.ok(e instanceof ConnectError);
    assert.equal(e.code, Code.InvalidArgument);
    const fields = fieldViolations(e).map((v) => v.field);
    assert.ok(fields.includes("email"), `violations: ${fields}`);
    assert.ok(fields.includes("password"), `violations: ${fields}`);
    for (const v of fieldViolations(e)) assert.ok(v.description.length > 0);
    return true;
  });
  assert.deepEqual(fieldViolations(new Error("plain")), []);
});

test("another tenant's organization is not found", async () => {
  const a = await signUp();
  const b = await signUp();
  await assert.rejects(b.sb.organizations.getOrganization({ id: a.orgId }), (e: unknown) => {
    assert.equal(ConnectError.from(e).code, Code.NotFound);
    return true;
  });
});

test("create an instance, wait for it, configure it, mint a data-plane token", async (t) => {
  const { sb, orgId } = await signUp();
  const created = await sb.instances.createInstance({ organizationId: orgId, name: "edge", kind: InstanceKind.BREAKER });
  const inst = created.instance!;
  assert.match(inst.id, /^ins_/);
  assert.equal(inst.state, InstanceState.PENDING);

  const { instances } = await sb.instances.listInstances({ organizationId: orgId });
  assert.deepEqual(instances.map((i) => i.id), [inst.id]);

  // Without provisioning workers (switchboard dev without a Machines API)
  // the instance stays PENDING: check the stream's first message and go on
  // to configs, which do not need a running instance.
  if (process.env.SWITCHBOARD_WORKERS !== "1") {
    const abort = new AbortController();
    for await (const res of sb.instances.watchInstance({ id: inst.id }, { signal: abort.signal })) {
      assert.equal(res.instance?.state, InstanceState.PENDING);
      abort.abort();
      break;
    }
    t.diagnostic("no provisioning workers (SWITCHBOARD_WORKERS!=1): not waiting for RUNNING");
  } else {
    const states: InstanceState[] = [];
    const timeoutMs = Number(process.env.SWITCHBOARD_WAIT_TIMEOUT_MS ?? 120_000);
    try {
      const running = await sb.waitForInstance(inst.id, {
        signal: AbortSignal.timeout(timeoutMs),
        onProgress: (i) => states.push(i.state),
      });
      assert.equal(running.state, InstanceState.RUNNING);
      assert.equal(states.at(-1), InstanceState.RUNNING);
    } catch (e) {
      if (e instanceof InstanceFailedError) assert.fail(`instance failed: ${e.instance.failureReason}`);
      throw e;
    }
  }

  await sb.configs.updateConfig({
    instanceId: inst.id,
    baseVersion: 0n,
    spec: {
      case: "breaker",
      value: { services: [{ name: "payments", upstreamUrl: "http://127.0.0.1:9", timeoutMs: 2000 }] },
    },
  });
  const cfg = await sb.configs.getConfig({ instanceId: inst.id });
  assert.equal(cfg.config?.version, 1n);

  await assert.rejects(
    sb.configs.updateConfig({
      instanceId: inst.id,
      baseVersion: 1n,
      spec: { case: "breaker", value: { services: [{ name: "payments", upstreamUrl: "http://x", timeoutMs: 999999 }] } },
    }),
    (e: unknown) => {
      assert.equal(ConnectError.from(e).code, Code.InvalidArgument);
      assert.ok(fieldViolations(e).some((v) => v.field.includes("timeout_ms")), JSON.stringify(fieldViolations(e)));
      return true;
    },
  );

  const res = await sb.dataPlaneTokens.createDataPlaneToken({ instanceId: inst.id, name: "on-prem" });
  assert.match(res.secret, /^sb_dp_/);
  assert.ok(res.cdnUrl);
  assert.ok(res.trustedKeys.length > 0);
});

test("reads are retried on Unavailable, writes are not", async () => {
  let calls = 0;
  const server = createServer((req, res) => {
    calls++;
    const ok = req.url?.endsWith("/GetOrganization") && calls >= 3;
    res.writeHead(ok ? 200 : 503, { "Content-Type": "application/json" });
    res.end(ok ? JSON.stringify({ organization: { id: "org_1" } }) : JSON.stringify({ code: "unavailable", message: "restarting" }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const sb = createSwitchboardClient({ baseUrl: url, retry: { baseMs: 1, maxMs: 5 } });
    const res = await sb.organizations.getOrganization({ id: "org_1" });
    assert.equal(res.organization?.id, "org_1");
    assert.equal(calls, 3);

    calls = 0;
    await assert.rejects(sb.organizations.createOrganization({ name: "x" }), (e: unknown) => {
      assert.equal(ConnectError.from(e).code, Code.Unavailable);
      return true;
    });
    assert.equal(calls, 1);
  } finally {
    server.close();
  }

  // Nothing listening: fetch fails, and reads are retried as for Unavailable.
  const down = createSwitchboardClient({ baseUrl: "http://127.0.0.1:1", retry: { maxRetries: 2, baseMs: 1, maxMs: 2 } });
  await assert.rejects(down.organizations.listOrganizations({}), (e: unknown) => {
    assert.equal(ConnectError.from(e).code, Code.Unknown);
    return true;
  });
});
