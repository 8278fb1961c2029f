/**
 * The SDK's one error type (STYLE habit 8, after undici's `lib/core/errors.js`): every failure
 * that leaves `download()` is a `HaulClientError` with a stable `code`, the HTTP `status` when
 * one was involved, and the `attempt` it failed on. Codes from the API (`UNAUTHENTICATED`,
 * `NOT_FOUND`, `FILE_NOT_READY`, …, see docs/api.md) pass through unchanged; the codes below are
 * the client's own. `haul get` maps each code to an exit code (docs/client.md).
 */
export const ClientErrorCodes = {
  /** Stopped through `signal` (Ctrl-C): in-flight requests ended, journal flushed, session paused. */
  ABORTED: { exit: 130, retryable: false },
  /** The session was paused from elsewhere (`haul pause`, another device) while downloading. */
  PAUSED: { exit: 130, retryable: false },
  /** A connection failed: refused, reset, timed out, or a body ended early. Retried first. */
  NETWORK: { exit: 1, retryable: true },
  /** The data plane answered a status the client cannot use (`status` says which). 5xx/429 are retried first. */
  HTTP_STATUS: { exit: 1, retryable: false },
  /** A protocol violation: a 200 to a range request after bytes arrived, a wrong Content-Range, a changing ETag. */
  BAD_RESPONSE: { exit: 1, retryable: true },
  /** The data plane kept refusing the URL (403) even after fresh URLs, or a bare URL expired. */
  URL_REFUSED: { exit: 3, retryable: false },
  /** The file kept changing on the server (412/410/416) across every restart allowed. */
  FILE_CHANGED: { exit: 1, retryable: false },
  /** One chunk failed its SHA-256 again and again: a source keeps sending wrong bytes. */
  CORRUPT_SOURCE: { exit: 4, retryable: false },
  /** The whole file's SHA-256 (or the URL's Repr-Digest) does not match after every chunk verified. */
  CHECKSUM_MISMATCH: { exit: 4, retryable: false },
  /** A bare URL answers without byte ranges and cannot be resumed (only when resuming is required). */
  RANGE_NOT_SUPPORTED: { exit: 1, retryable: false },
  /** The manifest is inconsistent (tiling or Merkle root) even after reading it again. */
  BAD_MANIFEST: { exit: 4, retryable: false },
  /** The output exists already (pass `overwrite`). */
  OUTPUT_EXISTS: { exit: 2, retryable: false },
  /** Local disk: cannot create, write, or rename the output; not enough free space. */
  IO: { exit: 1, retryable: false },
} as const satisfies Record<string, { exit: number; retryable: boolean }>;

export type ClientErrorCode = keyof typeof ClientErrorCodes;

/** API codes that mean the caller asked for something it may not have (exit 3 in `haul get`). */
const API_REFUSALS = new Set(['UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'SESSION_EXPIRED', 'INVALID_TRANSITION']);

export interface HaulClientErrorInit {
  status?: number | undefined;
  attempt?: number | undefined;
  /** The origin (`scheme://host:port`) that answered, for data-plane errors. */
  source?: string | undefined;
  /** Milliseconds the server asked to wait (`Retry-After`). */
  retryAfterMs?: number | undefined;
  cause?: unknown;
}

export class HaulClientError extends Error {
  override readonly name = 'HaulClientError';
  readonly status: number | undefined;
  /** 1 for the first try; how many tries this operation had made when it failed. */
  attempt: number;
  readonly source: string | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(
    /** A client code (ClientErrorCodes) or an API code passed through. */
    readonly code: ClientErrorCode | (string & {}),
    message: string,
    init: HaulClientErrorInit = {},
  ) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.status = init.status;
    this.attempt = init.attempt ?? 1;
    this.source = init.source;
    this.retryAfterMs = init.retryAfterMs;
  }

  /** Whether retrying the same operation later may succeed. */
  get retryable(): boolean {
    if (this.code in ClientErrorCodes) {
      if (this.code === 'HTTP_STATUS') return this.status === 429 || (this.status !== undefined && this.status >= 500);
      return ClientErrorCodes[this.code as ClientErrorCode].retryable;
    }
    return this.code === 'UNAVAILABLE' || this.code === 'INTERNAL' || this.code === 'FILE_NOT_READY';
  }

  /** The `haul get` exit code for this failure (docs/client.md). */
  get exitCode(): number {
    if (this.code in ClientErrorCodes) return ClientErrorCodes[this.code as ClientErrorCode].exit;
    return API_REFUSALS.has(this.code) ? 3 : 1;
  }

  toJSON() {
    return { code: this.code, message: this.message, status: this.status, attempt: this.attempt, source: this.source };
  }
}

export const isHaulClientError = (e: unknown): e is HaulClientError => e instanceof HaulClientError;

/** Wraps anything thrown by the file system as an IO error (ENOSPC keeps its own message). */
export function ioError(e: unknown, what: string): HaulClientError {
  if (e instanceof HaulClientError) return e;
  const err = e as NodeJS.ErrnoException;
  const detail = err.code === 'ENOSPC' ? 'no space left on the device' : (err.message ?? String(e));
  return new HaulClientError('IO', `${what}: ${detail}`, { cause: e });
}
