import { HaulClientError } from './errors.ts';
import { type RangeDispatcher, RawHttpPool } from './raw-http.ts';
import { parseRetryAfter } from './retry.ts';
import { type Dispatcher, type Pool, undiciPool } from './undici.ts';

/**
 * One ranged GET against the data plane, checked the way undici's retry handler checks a
 * resumed request (STYLE habit 10): 206 with exactly the asked `Content-Range`, the expected
 * strong ETag, and a 200 refused unless the caller can use the whole representation from byte 0.
 * Failures come back as `HaulClientError`s whose codes `classifyFailure` (retry.ts) sorts.
 */

export interface PoolOptions {
  /** Sockets per origin. */
  connections: number;
  /** Waiting for response headers, ms. */
  headersTimeoutMs: number;
  /** Silence inside a body, ms. */
  bodyTimeoutMs: number;
  connectTimeoutMs: number;
  /** Stream plain-HTTP ranges with RawHttpPool (default) rather than undici. */
  rawHttp?: boolean;
  /** How long undici keeps an idle connection when the server does not say, ms. Default 30,000. */
  keepAliveTimeoutMs?: number;
}

/**
 * Keep-alive pools, one per origin (a refreshed URL may point elsewhere): undici for requests
 * and HTTPS, and for streaming ranges from a plain-HTTP origin the leaner RawHttpPool (raw-http.ts).
 */
export class PoolSet {
  readonly #pools = new Map<string, Pool>();
  readonly #raw = new Map<string, RangeDispatcher>();
  constructor(private readonly opts: PoolOptions) {}

  get(origin: string): Pool {
    let pool = this.#pools.get(origin);
    if (!pool) {
      pool = new (undiciPool())(origin, {
        connections: this.opts.connections,
        pipelining: 1,
        headersTimeout: this.opts.headersTimeoutMs,
        bodyTimeout: this.opts.bodyTimeoutMs,
        connectTimeout: this.opts.connectTimeoutMs,
        keepAliveTimeout: this.opts.keepAliveTimeoutMs ?? 30_000,
      });
      this.#pools.set(origin, pool);
    }
    return pool;
  }

  /** The dispatcher that streams response bodies from `origin` (ranges, and the API's answers). */
  stream(origin: string): RangeDispatcher {
    if (!origin.startsWith('http:') || this.opts.rawHttp === false) return this.get(origin);
    let raw = this.#raw.get(origin);
    if (!raw) {
      raw = new RawHttpPool(origin, this.opts);
      this.#raw.set(origin, raw);
    }
    return raw;
  }

  async close(): Promise<void> {
    const pools = [...this.#pools.values(), ...this.#raw.values()];
    this.#pools.clear();
    this.#raw.clear();
    await Promise.all(pools.map((p) => p.destroy().catch(() => {})));
  }
}

export interface RangeRequest {
  url: string;
  /** First and last byte, inclusive (HTTP Range). */
  start: number;
  end: number;
  /** The representation's size when known: Content-Range must agree, else the file changed. */
  size?: number | undefined;
  /** Quoted strong ETag sent as If-Match, and required on the answer. */
  etag?: string | undefined;
  /** Sent as If-Unmodified-Since when there is no strong ETag to match. */
  lastModified?: string | undefined;
  /** Accept a 200 (the whole representation) for a range from byte 0; the caller reads what it needs. */
  allowWhole?: boolean;
  signal: AbortSignal;
}

export interface RangeResponse {
  status: 200 | 206;
  body: Dispatcher.ResponseData['body'];
  /** Total size from Content-Range (206) or Content-Length (200); undefined if the server did not say. */
  size: number | undefined;
  etag: string | undefined;
  lastModified: string | undefined;
  /** `Repr-Digest` sha-256 as hex, when the server sent one. */
  reprSha256: string | undefined;
  contentDisposition: string | undefined;
  /** `scheme://host:port` that answered. */
  source: string;
}

const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

/** `Repr-Digest: sha-256=:<base64>:` (RFC 9530) → hex; other algorithms are ignored. */
export function reprDigestSha256(header: string | undefined): string | undefined {
  const m = header && /(?:^|,)\s*sha-256=:([A-Za-z0-9+/=]+):/.exec(header);
  if (!m?.[1]) return undefined;
  const hex = Buffer.from(m[1], 'base64').toString('hex');
  return hex.length === 64 ? hex : undefined;
}

const isStrongEtag = (etag: string | undefined): etag is string => etag !== undefined && /^"[^"]*"$/.test(etag);

export type RangeInfo = Omit<RangeResponse, 'body'>;

/** The request headers for `req`: the range, and If-Match (or If-Unmodified-Since) to pin the version. */
export function rangeHeaders(req: Omit<RangeRequest, 'url' | 'signal'>): Record<string, string> {
  const headers: Record<string, string> = { range: `bytes=${req.start}-${req.end}`, 'accept-encoding': 'identity' };
  if (req.etag) headers['if-match'] = req.etag;
  else if (req.lastModified) headers['if-unmodified-since'] = req.lastModified;
  return headers;
}

/**
 * Checks an answer to a ranged GET (status, Content-Range, ETag, size) and describes it; throws
 * the HaulClientError that says what to do otherwise (see classifyFailure).
 */
export function checkRangeResponse(
  req: Omit<RangeRequest, 'url' | 'signal'>,
  status: number,
  h: Record<string, string | string[] | undefined>,
  source: string,
): RangeInfo {
  const fail = (code: string, message: string) =>
    new HaulClientError(code, message, { status, source, retryAfterMs: parseRetryAfter(h['retry-after']) });
  if (status === 403) throw fail('URL_REFUSED', `the data plane refused the URL (403 ${one(h['x-haul-error']) ?? ''})`.trim());
  if (status === 412 || status === 410 || status === 416)
    throw fail('FILE_CHANGED', `the file changed on the server (${status} ${one(h['x-haul-error']) ?? ''})`.trim());
  if (status !== 200 && status !== 206) throw fail('HTTP_STATUS', `the data plane answered ${status}`);
  const etag = one(h.etag);
  if (req.etag && etag !== undefined && etag !== req.etag)
    throw fail('FILE_CHANGED', `the file changed on the server (ETag ${etag}, expected ${req.etag})`);
  const common = {
    etag,
    lastModified: one(h['last-modified']),
    reprSha256: reprDigestSha256(one(h['repr-digest'])),
    contentDisposition: one(h['content-disposition']),
    source,
  };
  if (status === 200) {
    // The server ignored Range. Usable only as the start of the whole file, never to resume.
    if (!req.allowWhole || req.start !== 0) throw fail('BAD_RESPONSE', `asked for bytes ${req.start}-${req.end}, got 200`);
    const len = one(h['content-length']);
    const size = len !== undefined && /^\d+$/.test(len) ? Number(len) : undefined;
    if (req.size !== undefined && size !== undefined && size !== req.size)
      throw fail('FILE_CHANGED', `the file changed on the server (size ${size}, expected ${req.size})`);
    return { status, size, ...common };
  }
  const cr = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(one(h['content-range']) ?? '');
  if (!cr) throw fail('BAD_RESPONSE', `206 without a usable Content-Range (${one(h['content-range']) ?? 'none'})`);
  const size = cr[3] === '*' ? undefined : Number(cr[3]);
  if (req.size !== undefined && size !== undefined && size !== req.size)
    throw fail('FILE_CHANGED', `the file changed on the server (size ${size}, expected ${req.size})`);
  if (Number(cr[1]) !== req.start || Number(cr[2]) !== Math.min(req.end, (size ?? Number.POSITIVE_INFINITY) - 1))
    throw fail('BAD_RESPONSE', `asked for bytes ${req.start}-${req.end}, got ${cr[1]}-${cr[2]}`);
  return { status, size, ...common };
}

/** One ranged GET with its body as a stream (the probe of a bare URL; the engine streams with `dispatch`, fetcher.ts). */
export async function openRange(pools: PoolSet, req: RangeRequest): Promise<RangeResponse> {
  const u = new URL(req.url);
  const source = u.origin;
  let res: Dispatcher.ResponseData;
  try {
    res = await pools
      .get(source)
      .request({ path: `${u.pathname}${u.search}`, method: 'GET', headers: rangeHeaders(req), signal: req.signal });
  } catch (e) {
    if (req.signal.aborted) throw req.signal.reason;
    throw networkError(e, source);
  }
  try {
    return { ...checkRangeResponse(req, res.statusCode, res.headers, source), body: res.body };
  } catch (e) {
    res.body.dump().catch(() => {});
    throw e;
  }
}

/** Undici's errors (reset, refused, timeouts, "other side closed") as one retryable code. */
export function networkError(e: unknown, source: string): HaulClientError {
  if (e instanceof HaulClientError) return e;
  const err = e as { code?: string; message?: string };
  return new HaulClientError('NETWORK', `${source}: ${err.code ?? ''} ${err.message ?? String(e)}`.trim(), { source, cause: e });
}

export { isStrongEtag };
