/**
 * An Origin that is another haul edge: the shield tier (issue 3 part 7). An edge started with
 * `--upstream URL` reads through `CachedOrigin(UpstreamOrigin({ baseUrl: URL }))`, so a two-tier
 * edge → shield → store chain caches at both tiers.
 *
 * ## The hop
 *
 * - Requests forward the client's verified signed path (`ref.signedPath`) unchanged, so the
 *   shield verifies the same signature, key and expiry on its own: an edge can never obtain bytes
 *   it could not have served to a client holding that URL.
 * - With `hopSecret` set, each request also carries `X-Haul-Hop: t=<unix s>,mac=<base64url>`, an
 *   HMAC-SHA256 over ("haul-hop-v1", t, request path and query). A shield configured with hop
 *   secrets answers 403 to requests without a valid one (`verifyHop`), so only edges reach it,
 *   even with a leaked signed URL. The MAC binds the path, and `t` must be within `maxSkewMs` of
 *   the shield's clock (default 60 s), so a captured header is good for one URL, briefly.
 * - head(): `HEAD <base><signedPath>`: 200 → size (Content-Length), version (strong ETag),
 *   Last-Modified; 404 → null; 410 → `{ version: null }` (the URL's version is gone; size and
 *   date are then meaningless, 0 and the epoch).
 * - read(): `GET` with `Range: bytes=a-b` and `If-Match: "<version>"`. Only a 206 whose
 *   Content-Range is exactly the range asked (end clipped to the size, as HTTP does), whose
 *   Content-Length agrees and whose ETag (when sent) is the version is accepted; 404/410/412 →
 *   HaulError NOT_FOUND (the version is gone: bytes of another version are never spliced in);
 *   416 → BAD_USER_INPUT; anything else → `UpstreamError`.
 *
 * ## A URL that expires between the client's request and the hop
 *
 * The edge verified the URL when the request arrived; a slice fetched later (a cold slice of a
 * long range, or a request that arrived a moment before `exp`) may reach the shield after `exp`.
 * The shield then answers 403 `URL_EXPIRED`, and read()/head() reject with an `UpstreamError`
 * carrying `status: 403` and `upstreamCode: 'URL_EXPIRED'`. The handler maps it: before the
 * headers, answer 403 with the upstream code (the URL is now expired, the client must get a new
 * one, which haul's client does on URL_EXPIRED); after the headers, the body fails (socket
 * destroyed) and the client's resume hits the edge's own expiry check. Other UpstreamErrors
 * (5xx, network failure, protocol violation) should map to 502.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { type Dispatcher, Pool } from 'undici';
import { HaulError } from '../errors.ts';
import type { ObjectMeta, ObjectRef, Origin } from './origin.ts';

export const HOP_HEADER = 'x-haul-hop';
/** Where a haul edge may put its refusal code so that HEAD answers carry it too (optional). */
export const ERROR_HEADER = 'x-haul-error';
const HOP_VERSION = 'haul-hop-v1';
const VERSION_RE = /^[0-9a-f]{64}$/;
const HOP_RE = /^t=(0|[1-9][0-9]{0,11}),mac=([A-Za-z0-9_-]{43})$/;
const MAX_ERROR_BODY = 4096;
const noop = () => {};

type ResponseBody = Dispatcher.ResponseData['body'];

export interface UpstreamOriginOptions {
  /** The shield's base URL (scheme, host, port and an optional path prefix), e.g. `http://shield:8081`. */
  baseUrl: string;
  /** Shared secret for `X-Haul-Hop` (16+ characters); without it no hop header is sent. */
  hopSecret?: string | undefined;
  /** Keep-alive connections to the shield at most. Default 128. */
  connections?: number | undefined;
  /** Time to wait for response headers, ms. Default 30 s. */
  headersTimeout?: number | undefined;
  /** Time a body may stall between chunks, ms. Default 30 s. */
  bodyTimeout?: number | undefined;
  /** Clock for the hop timestamp. */
  now?: (() => Date) | undefined;
}

/**
 * The shield refused or failed a request in a way the Origin contract has no word for. `status`
 * is the upstream HTTP status (0: no response: network error, timeout, protocol violation);
 * `upstreamCode` the `error.code` of its body when it sent one (e.g. `URL_EXPIRED`).
 * The HaulError code is FORBIDDEN for 401/403, UNAVAILABLE otherwise.
 */
export class UpstreamError extends HaulError {
  constructor(
    readonly status: number,
    message: string,
    readonly upstreamCode?: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(status === 401 || status === 403 ? 'FORBIDDEN' : 'UNAVAILABLE', message, {
      upstreamStatus: status,
      ...(upstreamCode !== undefined ? { upstreamCode } : {}),
    });
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

export const isUpstreamError = (e: unknown): e is UpstreamError => e instanceof UpstreamError;

const hopMac = (secret: string, t: string, path: string) =>
  createHmac('sha256', secret).update(`${HOP_VERSION}\n${t}\n${path}`, 'utf8').digest('base64url');

/** The `X-Haul-Hop` value for a request to `path` (path and query, as sent) at `now`. */
export function signHop(path: string, secret: string, now: Date = new Date()): string {
  const t = String(Math.floor(now.getTime() / 1000));
  return `t=${t},mac=${hopMac(secret, t, path)}`;
}

export type HopRefusal = 'HOP_MISSING' | 'HOP_MALFORMED' | 'HOP_STALE' | 'HOP_BAD_MAC';
export type HopResult = { ok: true } | { ok: false; code: HopRefusal };

export interface VerifyHopOptions {
  now?: Date | undefined;
  /** Largest accepted distance between the hop's timestamp and now, ms. Default 60 s. */
  maxSkewMs?: number | undefined;
}

/**
 * Checks a request's `X-Haul-Hop` against the shield's secret(s) (several during a rotation).
 * The MAC covers `req.url` as received, so nothing between edge and shield may rewrite the path.
 */
export function verifyHop(
  req: { url?: string | undefined; headers: IncomingHttpHeaders },
  secret: string | readonly string[],
  opts: VerifyHopOptions = {},
): HopResult {
  const value = req.headers[HOP_HEADER];
  if (value === undefined) return { ok: false, code: 'HOP_MISSING' };
  const m = typeof value === 'string' ? HOP_RE.exec(value) : null;
  if (!m) return { ok: false, code: 'HOP_MALFORMED' };
  const t = m[1]!;
  const now = (opts.now ?? new Date()).getTime();
  if (Math.abs(now - Number(t) * 1000) > (opts.maxSkewMs ?? 60_000)) return { ok: false, code: 'HOP_STALE' };
  const given = Buffer.from(m[2]!, 'utf8');
  let ok = false;
  // Every secret is tried (no early exit), each comparison constant-time.
  for (const s of typeof secret === 'string' ? [secret] : secret) {
    const expected = Buffer.from(hopMac(s, t, req.url ?? '/'), 'utf8');
    if (expected.length === given.length && timingSafeEqual(expected, given)) ok = true;
  }
  return ok ? { ok: true } : { ok: false, code: 'HOP_BAD_MAC' };
}

/**
 * Wraps a shield's request handler so that only requests with a valid `X-Haul-Hop` reach it;
 * others get 403 `{ error: { code: HOP_… } }` (the code also in `X-Haul-Error`). Other routes
 * (`/healthz`, `/metrics`) should stay outside the wrapper.
 */
export function requireHop<H extends (req: IncomingMessage, res: ServerResponse) => void>(
  handler: H,
  secret: string | readonly string[],
  opts: { maxSkewMs?: number | undefined; now?: (() => Date) | undefined } = {},
): H {
  return ((req: IncomingMessage, res: ServerResponse) => {
    const hop = verifyHop(req, secret, { maxSkewMs: opts.maxSkewMs, now: opts.now?.() });
    if (hop.ok) return handler(req, res);
    const body = JSON.stringify({ error: { code: hop.code, message: 'this edge only answers authenticated hops' } });
    res.writeHead(403, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
      [ERROR_HEADER]: hop.code,
    });
    res.end(body);
  }) as H;
}

const one = (h: string | string[] | undefined): string | undefined => (Array.isArray(h) ? h[0] : h);

/**
 * The refusal code of an error answer: the `error.code` of a small JSON body, else the
 * `X-Haul-Error` header (the only place a HEAD answer can carry it). Consumes the body; never throws.
 */
async function errorCode(headers: IncomingHttpHeaders, body: ResponseBody): Promise<string | undefined> {
  const fromHeader = one(headers[ERROR_HEADER]);
  const length = Number(one(headers['content-length']));
  try {
    if (Number.isSafeInteger(length) && length > 0 && length <= MAX_ERROR_BODY) {
      const json = JSON.parse(await body.text()) as { error?: { code?: unknown } };
      if (typeof json.error?.code === 'string') return json.error.code;
    } else {
      await body.dump({ limit: MAX_ERROR_BODY });
    }
  } catch {
    // Not JSON, or the connection broke: the status alone will do.
  }
  return fromHeader;
}

/** Drops a body we will not read: the connection is closed rather than drained. */
const discard = (body: ResponseBody) => {
  body.on('error', noop);
  body.destroy();
};

export class UpstreamOrigin implements Origin, AsyncDisposable {
  readonly baseUrl: string;
  readonly #pool: Pool;
  readonly #prefix: string;
  readonly #hopSecret: string | undefined;
  readonly #now: () => Date;

  constructor(opts: UpstreamOriginOptions) {
    const base = new URL(opts.baseUrl);
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new TypeError('UpstreamOrigin: baseUrl must be http(s)');
    if (base.search || base.hash) throw new TypeError('UpstreamOrigin: baseUrl must not have a query or fragment');
    if (opts.hopSecret !== undefined && opts.hopSecret.length < 16)
      throw new TypeError('UpstreamOrigin: hopSecret must have 16 or more characters');
    this.#prefix = base.pathname.replace(/\/+$/, '');
    this.baseUrl = `${base.origin}${this.#prefix}`;
    this.#hopSecret = opts.hopSecret;
    this.#now = opts.now ?? (() => new Date());
    this.#pool = new Pool(base.origin, {
      connections: opts.connections ?? 128,
      headersTimeout: opts.headersTimeout ?? 30_000,
      bodyTimeout: opts.bodyTimeout ?? 30_000,
    });
  }

  async head(ref: ObjectRef, signal?: AbortSignal): Promise<ObjectMeta | null> {
    const { statusCode: status, headers, body } = await this.#request('HEAD', ref, {}, signal);
    if (status !== 200 && status !== 404 && status !== 410)
      throw new UpstreamError(status, `upstream answered HEAD with ${status}`, await errorCode(headers, body));
    // A HEAD answer has no body: this only hands the connection back to the pool.
    await body.dump().catch(noop);
    if (status === 404) return null;
    if (status === 410) return { size: 0, version: null, lastModified: new Date(0) };
    const size = Number(one(headers['content-length']));
    const etag = /^"([0-9a-f]{64})"$/.exec(one(headers.etag) ?? '');
    const lastModified = new Date(one(headers['last-modified']) ?? 'invalid');
    if (!Number.isSafeInteger(size) || size < 0 || !etag || Number.isNaN(lastModified.getTime()))
      throw new UpstreamError(0, 'upstream HEAD lacks a valid Content-Length, strong ETag or Last-Modified');
    return { size, version: etag[1]!, lastModified };
  }

  async read(ref: ObjectRef, range: { start: number; end: number }, signal?: AbortSignal): Promise<Readable> {
    const { start, end } = range;
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start)
      throw new HaulError('BAD_USER_INPUT', `invalid byte range ${start}-${end}`);
    if (!VERSION_RE.test(ref.version)) throw new HaulError('BAD_USER_INPUT', 'invalid version');
    const res = await this.#request('GET', ref, { range: `bytes=${start}-${end}`, 'if-match': `"${ref.version}"` }, signal);
    const { statusCode: status, headers, body } = res;
    if (status !== 206) {
      const code = await errorCode(headers, body);
      if (status === 404 || status === 410 || status === 412)
        throw new HaulError('NOT_FOUND', 'the object no longer has the requested version');
      if (status === 416) throw new HaulError('BAD_USER_INPUT', `range starts at or past the end of the object`);
      throw new UpstreamError(status, `upstream answered a range GET with ${status}`, code);
    }
    const cr = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(one(headers['content-range']) ?? '');
    const [gotStart, gotEnd, size] = cr ? [Number(cr[1]), Number(cr[2]), Number(cr[3])] : [-1, -1, -1];
    const length = one(headers['content-length']);
    const etag = one(headers.etag);
    const problem =
      !cr || gotStart !== start || gotEnd !== Math.min(end, size - 1)
        ? `Content-Range ${JSON.stringify(one(headers['content-range']) ?? null)} does not answer bytes=${start}-${end}`
        : length !== undefined && Number(length) !== gotEnd - gotStart + 1
          ? `Content-Length ${length} disagrees with Content-Range`
          : etag !== undefined && etag !== `"${ref.version}"`
            ? 'ETag is not the requested version'
            : undefined;
    if (problem) {
      discard(body);
      throw new UpstreamError(0, `upstream 206 refused: ${problem}`);
    }
    return body;
  }

  /** Closes the keep-alive connections (in-flight requests finish first). */
  close(): Promise<void> {
    return this.#pool.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #request(method: 'GET' | 'HEAD', ref: ObjectRef, extra: Record<string, string>, signal?: AbortSignal) {
    if (!ref.signedPath.startsWith('/')) throw new HaulError('BAD_USER_INPUT', 'signedPath must start with "/"');
    const path = `${this.#prefix}${ref.signedPath}`;
    const headers: Record<string, string> = { ...extra };
    if (this.#hopSecret !== undefined) headers[HOP_HEADER] = signHop(path, this.#hopSecret, this.#now());
    try {
      return await this.#pool.request({ method, path, headers, signal: signal ?? null });
    } catch (e) {
      if (signal?.aborted) throw e;
      throw new UpstreamError(0, `upstream ${method} failed: ${(e as Error).message}`, undefined, { cause: e });
    }
  }
}
