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

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  // PostgreSQL: admin shutdown, crash shutdown, cannot connect now, too many connections.
  '57P01',
  '57P02',
  '57P03',
  '53300',
  // Prisma: can't reach the database server, server closed the connection, timed out.
  'P1001',
  'P1002',
  'P1017',
  'P2024',
]);

/**
 * An unexpected error that means "a dependency is away" rather than "a bug": the caller gets
 * UNAVAILABLE (retryable, 503) instead of a masked INTERNAL. Walks `cause` chains, since the
 * driver's error is usually wrapped by Prisma's adapter.
 */
export function asUnavailable(e: unknown): HaulError | undefined {
  let cur: unknown = e;
  for (let depth = 0; cur && depth < 5; depth++) {
    const x = cur as { code?: unknown; message?: unknown; cause?: unknown; kind?: unknown };
    if (typeof x.code === 'string' && UNAVAILABLE_CODES.has(x.code)) break;
    const msg = typeof x.message === 'string' ? x.message : '';
    if (/Connection terminated|connection timeout|Can't reach database|ECONNREFUSED|server closed the connection/i.test(msg))
      break;
    cur = x.cause;
  }
  return cur ? new HaulError('UNAVAILABLE', 'a backing service is unavailable; retry shortly') : undefined;
}
