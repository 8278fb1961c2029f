/**
 * haul's one error vocabulary. Every expected failure carries one of these codes, on every
 * transport: GraphQL `extensions.code`, REST `{ error: { code, message } }`, edge 4xx bodies.
 * Unexpected errors are masked as INTERNAL.
 */
export const ErrorCodes = {
  BAD_REQUEST: { http: 400, retryable: false },
  BAD_USER_INPUT: { http: 400, retryable: false },
  UNAUTHENTICATED: { http: 401, retryable: false },
  FORBIDDEN: { http: 403, retryable: false },
  NOT_FOUND: { http: 404, retryable: false },
  INVALID_TRANSITION: { http: 409, retryable: false },
  SESSION_EXPIRED: { http: 410, retryable: false },
  FILE_NOT_READY: { http: 409, retryable: true },
  INVALID_PROGRESS: { http: 422, retryable: false },
  CHECKSUM_MISMATCH: { http: 422, retryable: false },
  PAYLOAD_TOO_LARGE: { http: 413, retryable: false },
  QUERY_TOO_COMPLEX: { http: 400, retryable: false },
  UNAVAILABLE: { http: 503, retryable: true },
  INTERNAL: { http: 500, retryable: true },
} as const satisfies Record<string, { http: number; retryable: boolean }>;

export type ErrorCode = keyof typeof ErrorCodes;

/** An expected failure: safe to show to the caller, with a stable code. */
export class HaulError extends Error {
  override readonly name = 'HaulError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }

  get httpStatus(): number {
    return ErrorCodes[this.code].http;
  }

  get retryable(): boolean {
    return ErrorCodes[this.code].retryable;
  }
}

export const isHaulError = (e: unknown): e is HaulError => e instanceof HaulError;
