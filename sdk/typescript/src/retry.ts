import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";

/** How reads failing with `Code.Unavailable` are retried. */
export interface RetryOptions {
  /** Retries after the first attempt; 0 turns retries off. Default 4. */
  maxRetries?: number;
  /** The first retry's maximum delay in ms. Default 100. */
  baseMs?: number;
  /** The cap on any delay in ms. Default 2000. */
  maxMs?: number;
}

/** Full jitter: a uniform delay below min(maxMs, baseMs·2^attempt). */
export function backoff(o: Required<RetryOptions>, attempt: number): number {
  return Math.random() * Math.min(o.maxMs, o.baseMs * 2 ** attempt);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Whether a call failed because the server could not be reached: the
 * `Unavailable` code, or a network error from fetch (a `TypeError`, which
 * connect-web reports as `Unknown`), as when the server is restarting.
 */
export function isUnavailable(e: unknown): boolean {
  if (!(e instanceof ConnectError)) return false;
  return e.code === Code.Unavailable || (e.code === Code.Unknown && e.cause instanceof TypeError);
}

/**
 * Retries unary Get… and List… calls — pure reads — that fail with
 * Unavailable. Writes are never retried: they may have happened.
 */
export function retryReads(o: Required<RetryOptions>): Interceptor {
  return (next) => async (req) => {
    if (req.stream || o.maxRetries <= 0 || !/^(Get|List)/.test(req.method.name)) {
      return next(req);
    }
    for (let attempt = 0; ; attempt++) {
      try {
        return await next(req);
      } catch (e) {
        if (!isUnavailable(e) || attempt >= o.maxRetries) throw e;
        await sleep(backoff(o, attempt), req.signal);
      }
    }
  };
}
