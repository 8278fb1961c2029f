/**
 * The edge's refusals: answers given before any byte of a body, each with a stable code in a
 * JSON body and in `X-Haul-Error` (see the status table in docs/edge.md), and the mapping of
 * origin failures (store, upstream edge) onto them.
 */
import type { ServerResponse } from 'node:http';
import { isHaulError } from '../errors.ts';
import type { UrlRefusalCode } from './signing.ts';

/** Codes in edge error bodies: the URL refusals plus these. */
export type EdgeErrorCode =
  | UrlRefusalCode
  | 'URL_TOO_LONG'
  | 'NOT_FOUND'
  | 'VERSION_GONE'
  | 'METHOD_NOT_ALLOWED'
  | 'PRECONDITION_FAILED'
  | 'RANGE_NOT_SATISFIABLE'
  | 'UNAVAILABLE'
  | 'BAD_GATEWAY'
  | 'INTERNAL';

export const REFUSAL_MESSAGES: Record<UrlRefusalCode, string> = {
  URL_MISSING_SIGNATURE: 'the download URL has no signature',
  URL_BAD_SIGNATURE: 'the download URL signature is not valid',
  URL_EXPIRED: 'the download URL has expired',
  URL_UNKNOWN_KEY: 'the download URL was signed with an unknown key',
  URL_RETIRED_KEY: 'the download URL was signed with a retired key',
  URL_MALFORMED: 'the download URL is malformed',
};

/** Failures of the store's network or host: retryable, so 503 rather than 500. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'EPIPE', 'EMFILE', 'ENFILE']);

/** An expected refusal, answered before any byte of the body. */
export class EdgeRefusal extends Error {
  constructor(
    readonly status: number,
    readonly code: EdgeErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const notFound = () => new EdgeRefusal(404, 'NOT_FOUND', 'no such file');
export const unavailable = (message: string) => new EdgeRefusal(503, 'UNAVAILABLE', message, { 'retry-after': '1' });

/** Maps an origin failure to a refusal; unknown failures are rethrown (→ 500, logged). */
export function originRefusal(e: unknown): EdgeRefusal {
  if (e instanceof EdgeRefusal) return e;
  // An upstream edge (the shield tier) refused or failed: its HaulError carries the upstream
  // status, and the refusal code when it sent one (see upstream-origin.ts).
  const upstreamStatus = isHaulError(e) ? e.details?.upstreamStatus : undefined;
  if (typeof upstreamStatus === 'number') {
    const code = isHaulError(e) ? e.details?.upstreamCode : undefined;
    // The URL expired (or was refused) on its way to the shield: the client needs a new one.
    if ((upstreamStatus === 401 || upstreamStatus === 403) && typeof code === 'string' && code in REFUSAL_MESSAGES)
      return new EdgeRefusal(403, code as UrlRefusalCode, REFUSAL_MESSAGES[code as UrlRefusalCode]);
    return new EdgeRefusal(502, 'BAD_GATEWAY', 'the upstream edge failed, retry later', { 'retry-after': '1' });
  }
  if (isHaulError(e)) {
    // BAD_USER_INPUT: a key the store refuses (signing allows more than every backend stores).
    if (e.code === 'NOT_FOUND' || e.code === 'BAD_USER_INPUT') return notFound();
    if (e.code === 'UNAVAILABLE') return unavailable('storage is unavailable, retry later');
  }
  const code = (e as NodeJS.ErrnoException | null)?.code;
  const upstream = (e as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
  if ((code !== undefined && UNREACHABLE.has(code)) || (upstream !== undefined && upstream >= 500))
    return unavailable('storage is unavailable, retry later');
  throw e;
}

export function sendRefusal(res: ServerResponse, r: EdgeRefusal): void {
  const body = JSON.stringify({ error: { code: r.code, message: r.message } });
  res.writeHead(r.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    // The code again, for HEAD answers (no body) and for an edge reading this one as its upstream.
    'x-haul-error': r.code,
    ...r.headers,
  });
  // Node drops the body of a HEAD response by itself.
  res.end(body);
}
