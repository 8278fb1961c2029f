import type { HaulClientError } from './errors.ts';

/** How failed requests are retried (data plane and control plane alike). */
export interface RetryPolicy {
  /** Tries without any progress before giving up. Default 8. */
  maxAttempts: number;
  /** First delay, ms; doubles per failure. Default 250. */
  baseDelayMs: number;
  /** Ceiling of the exponential delay, ms. Default 10,000. */
  maxDelayMs: number;
  /** Longest `Retry-After` honoured, ms (a larger one is clipped, not refused). Default 60,000. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 8, baseDelayMs: 250, maxDelayMs: 10_000, maxRetryAfterMs: 60_000 };

/**
 * Delay before try `attempt + 1` after `attempt` failures: exponential with "equal jitter"
 * (half fixed, half random, so retries of many connections spread out but never collapse to
 * zero), and never shorter than what the server asked for with `Retry-After`.
 */
export function backoffDelay(attempt: number, policy: RetryPolicy, retryAfterMs?: number, random = Math.random): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  const jittered = exp / 2 + random() * (exp / 2);
  if (retryAfterMs === undefined) return Math.round(jittered);
  return Math.round(Math.max(jittered, Math.min(retryAfterMs, policy.maxRetryAfterMs)));
}

/** `Retry-After` as milliseconds: delta-seconds or an HTTP-date (RFC 9110 §10.2.3); undefined if absent or invalid. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined) return undefined;
  const t = v.trim();
  if (/^\d+$/.test(t)) return Number(t) * 1000;
  const at = Date.parse(t);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** What to do about a failed data-plane request. */
export type FailureKind = 'retry' | 'refresh' | 'changed' | 'fatal';

/**
 * DESIGN §8: 403 → fresh URL and continue; 412/410/416 → the file changed, restart cleanly;
 * timeouts, resets, 5xx and 429 → back off and retry; anything else is final.
 */
export function classifyFailure(e: HaulClientError): FailureKind {
  if (e.code === 'URL_REFUSED') return 'refresh';
  if (e.code === 'FILE_CHANGED') return 'changed';
  if (e.code === 'NETWORK' || e.code === 'BAD_RESPONSE') return 'retry';
  if (e.code === 'HTTP_STATUS') return e.retryable ? 'retry' : 'fatal';
  return 'fatal';
}
