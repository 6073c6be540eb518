/**
 * The Switchboard TypeScript SDK: typed clients for every service of the
 * Switchboard API, for Node (20+) and browsers.
 *
 * ```ts
 * import { createSwitchboardClient } from "@switchboardhq/sdk";
 *
 * const sb = createSwitchboardClient({ baseUrl: "http://127.0.0.1:8080", apiKey: process.env.SWITCHBOARD_TOKEN });
 * const { organizations } = await sb.organizations.listOrganizations({});
 * ```
 *
 * Messages, enums and services are generated from the protos by
 * protoc-gen-es and re-exported here.
 *
 * @module
 */
import { createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";

import { APIKeyService } from "./gen/switchboard/v1/api_key_pb.js";
import { AuditService } from "./gen/switchboard/v1/audit_pb.js";
import { AuthService } from "./gen/switchboard/v1/auth_pb.js";
import { ConfigService } from "./gen/switchboard/v1/config_pb.js";
import { DataPlaneService } from "./gen/switchboard/v1/data_plane_pb.js";
import { DataPlaneTokenService } from "./gen/switchboard/v1/data_plane_token_pb.js";
import { InstanceService, InstanceState, type Instance } from "./gen/switchboard/v1/instance_pb.js";
import { OrganizationService } from "./gen/switchboard/v1/organization_pb.js";
import { backoff, isUnavailable, retryReads, sleep, type RetryOptions } from "./retry.js";

export * from "./gen/switchboard/v1/api_key_pb.js";
export * from "./gen/switchboard/v1/audit_pb.js";
export * from "./gen/switchboard/v1/auth_pb.js";
export * from "./gen/switchboard/v1/common_pb.js";
export * from "./gen/switchboard/v1/config_pb.js";
export * from "./gen/switchboard/v1/data_plane_pb.js";
export * from "./gen/switchboard/v1/data_plane_token_pb.js";
export * from "./gen/switchboard/v1/instance_pb.js";
export * from "./gen/switchboard/v1/organization_pb.js";
export { fieldViolations, type FieldViolation } from "./errors.js";
export type { RetryOptions } from "./retry.js";
export { Code, ConnectError } from "@connectrpc/connect";

/** Options for {@link createSwitchboardClient}. */
export interface SwitchboardClientOptions {
  /** The API's base URL, e.g. `https://api.switchboard.example` or `http://127.0.0.1:8080`. */
  baseUrl: string;
  /**
   * Sent as `Authorization: Bearer <apiKey>` on every request: an API key
   * (`sb_key_…`) or a session token (`sb_sess_…`). Omit it to sign up or log in.
   */
  apiKey?: string;
  /** Retries of reads (Get… and List…) that fail with `Code.Unavailable`. */
  retry?: RetryOptions;
  /** Extra interceptors, run after the SDK's own. */
  interceptors?: Interceptor[];
  /** A fetch implementation; defaults to the global one. */
  fetch?: typeof globalThis.fetch;
  /** Use the binary protobuf format instead of JSON. Default false. */
  useBinaryFormat?: boolean;
}

/** Options for {@link SwitchboardClient.waitForInstance}. */
export interface WaitOptions {
  /** Stops waiting; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Called with the current state first, then with every change. */
  onProgress?: (instance: Instance) => void;
}

/** Typed clients for every Switchboard service, sharing one transport. */
export interface SwitchboardClient {
  auth: Client<typeof AuthService>;
  organizations: Client<typeof OrganizationService>;
  apiKeys: Client<typeof APIKeyService>;
  audit: Client<typeof AuditService>;
  instances: Client<typeof InstanceService>;
  configs: Client<typeof ConfigService>;
  dataPlaneTokens: Client<typeof DataPlaneTokenService>;
  dataPlane: Client<typeof DataPlaneService>;
  /** The underlying Connect transport, to build clients for other services. */
  transport: Transport;
  /**
   * Follows `WatchInstance` until the instance is RUNNING and resolves with
   * it. Rejects with {@link InstanceFailedError} when it FAILED (or was
   * deleted), and reopens the stream with backoff when it breaks with
   * `Code.Unavailable`.
   */
  waitForInstance(id: string, options?: WaitOptions): Promise<Instance>;
}

/** The instance reached FAILED (the reason is `instance.failureReason`) or DELETED. */
export class InstanceFailedError extends Error {
  readonly instance: Instance;
  constructor(instance: Instance) {
    const what =
      instance.state === InstanceState.DELETED
        ? "was deleted"
        : `failed: ${instance.failureReason || "no reason given"}`;
    super(`instance ${instance.id} ${what}`);
    this.name = "InstanceFailedError";
    this.instance = instance;
  }
}

/** Creates clients for every service of the API at `baseUrl`. */
export function createSwitchboardClient(options: SwitchboardClientOptions): SwitchboardClient {
  const interceptors: Interceptor[] = [];
  if (options.apiKey) {
    interceptors.push(bearer(options.apiKey));
  }
  const retry = { maxRetries: 4, baseMs: 100, maxMs: 2000, ...options.retry };
  interceptors.push(retryReads(retry), ...(options.interceptors ?? []));
  const transport = createConnectTransport({
    baseUrl: options.baseUrl.replace(/\/+$/, ""),
    interceptors,
    fetch: options.fetch,
    useBinaryFormat: options.useBinaryFormat ?? false,
  });
  const client: SwitchboardClient = {
    auth: createClient(AuthService, transport),
    organizations: createClient(OrganizationService, transport),
    apiKeys: createClient(APIKeyService, transport),
    audit: createClient(AuditService, transport),
    instances: createClient(InstanceService, transport),
    configs: createClient(ConfigService, transport),
    dataPlaneTokens: createClient(DataPlaneTokenService, transport),
    dataPlane: createClient(DataPlaneService, transport),
    transport,
    waitForInstance: (id, opts = {}) => waitForInstance(client, id, retry, opts),
  };
  return client;
}

/** An interceptor that sets `Authorization: Bearer <token>`. */
export function bearer(token: string): Interceptor {
  return (next) => (req) => {
    req.header.set("Authorization", `Bearer ${token}`);
    return next(req);
  };
}

function terminal(state: InstanceState): boolean {
  return state === InstanceState.RUNNING || state === InstanceState.FAILED || state === InstanceState.DELETED;
}

async function waitForInstance(
  client: SwitchboardClient,
  id: string,
  retry: Required<RetryOptions>,
  { signal, onProgress }: WaitOptions,
): Promise<Instance> {
  for (let attempt = 0; ; attempt++) {
    let err: unknown = new Error(`watch instance ${id}: stream ended before a final state`);
    try {
      for await (const res of client.instances.watchInstance({ id }, { signal })) {
        const inst = res.instance;
        if (!inst) continue;
        attempt = 0;
        onProgress?.(inst);
        if (!terminal(inst.state)) continue;
        if (inst.state === InstanceState.RUNNING) return inst;
        throw new InstanceFailedError(inst);
      }
    } catch (e) {
      if (!isUnavailable(e)) throw e;
      err = e;
    }
    if (attempt >= retry.maxRetries) throw err;
    await sleep(backoff(retry, attempt), signal);
  }
}
