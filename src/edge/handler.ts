/**
 * The data-plane handler: serves signed download URLs (`/d/...`) from an `Origin` (DESIGN §6).
 * Status codes, limits and version semantics are documented in docs/edge.md; the rules live in
 * pure modules: `range.ts` (Range), `conditionals.ts` (preconditions and the URL's version),
 * `multipart.ts` (multipart/byteranges framing).
 *
 * - GET and HEAD only (anything else: 405 with `Allow`); a request target longer than
 *   `limits.maxUrlBytes` is 414.
 * - The request target (path + query; scheme and host are not signed) is verified with
 *   `verifyDownloadUrl` (targets that verified are remembered, `verified-urls.ts`); a refusal is 403 `{ error: { code: URL_…, message } }`. Keys under the
 *   reserved `.haul/` prefix are 404 whatever the signature. Error bodies never carry the path.
 * - Bytes are read only through the Origin: `head()` for size, version and modification time,
 *   `read()` per range. The origin refuses (NOT_FOUND) a version that is no longer current, so an
 *   object replaced between head and read is answered from a fresh head, never spliced.
 * - The first origin stream is opened before the headers go out, so a failure there is still a
 *   clean status. After the headers any failure destroys the socket: a client never mistakes a
 *   truncated body for a complete one. A client that goes away (or stops reading for
 *   `limits.idleTimeoutMs`) destroys the origin streams.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { isHaulError } from '../errors.ts';
import { contentDisposition } from '../storage/content-disposition.ts';
import { isReservedKey } from '../storage/versions.ts';
import { type ByteCounter, multipartBody, sendChunks, sendExact } from './body.ts';
import { type ConditionalHeaders, effectiveLastModified, evaluatePreconditions } from './conditionals.ts';
import { planMultipart } from './multipart.ts';
import type { ChunkSource, ObjectMeta, ObjectRef, Origin } from './origin.ts';
import {
  contentRange,
  DEFAULT_MAX_RANGE_ITEMS,
  DEFAULT_MAX_RANGE_PARTS,
  parseRange,
  resolveRanges,
  type SatisfiableRange,
  unsatisfiedContentRange,
} from './range.ts';
import { EdgeRefusal, notFound, originRefusal, REFUSAL_MESSAGES, sendRefusal, unavailable } from './refusals.ts';
import type { Keyring, VerifiedDownloadUrl } from './signing.ts';
import { VerifiedUrlCache } from './verified-urls.ts';

export interface EdgeLimits {
  /** Longest request target (path and query) accepted, in bytes; longer is 414. Default 8192. */
  maxUrlBytes?: number | undefined;
  /** More range-specs than this in one Range header: the header is ignored (200). Default 100. */
  maxRangeItems?: number | undefined;
  /** More parts than this after coalescing: the Range header is ignored (200). Default 16. */
  maxRangeParts?: number | undefined;
  /** A response that makes no progress for this long (a client that stopped reading) is aborted, in ms; 0 disables. Default 60,000. */
  idleTimeoutMs?: number | undefined;
}

/** What one request did, for metrics (reported once, when the response is over). */
export interface EdgeResponseInfo {
  method: string;
  status: number;
  /** Bytes of the file (and multipart framing) handed to the socket; error bodies are not counted. */
  bytes: number;
  /** Milliseconds from the request to its response headers, or undefined if none were sent. */
  headersMs: number | undefined;
  totalMs: number;
  /** The response ended before its whole body was sent (client gone, origin failure). */
  aborted: boolean;
}

export interface EdgeHandlerOptions {
  keyring: Keyring;
  /** Where bytes come from: the store (`StoreOrigin`), an upstream edge, or either behind the cache. */
  origin: Origin;
  log?: Logger | undefined;
  /** Clock for URL expiry, Cache-Control and If-Range; tests may pin it. */
  now?: (() => Date) | undefined;
  limits?: EdgeLimits | undefined;
  /** Called once per request when its response is over (metrics). Must not throw. */
  onResponse?: ((info: EdgeResponseInfo) => void) | undefined;
}

export type EdgeHandler = (req: IncomingMessage, res: ServerResponse) => void;

export type { EdgeErrorCode } from './refusals.ts';

export const EDGE_ALLOWED_METHODS = 'GET, HEAD';
export const DEFAULT_MAX_URL_BYTES = 8192;
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;

/** Stream errors that mean the client went away (not worth a warning). */
const CLIENT_GONE = new Set(['ERR_STREAM_PREMATURE_CLOSE', 'ERR_STREAM_DESTROYED', 'ECONNRESET', 'EPIPE', 'ABORT_ERR']);

/** A header that must occur once; a repeated one is treated as absent (ignored). */
function single(req: IncomingMessage, name: string): string | undefined {
  const v = req.headersDistinct[name];
  return v?.length === 1 ? v[0] : undefined;
}

/** A header that may occur several times; the lines are one comma-separated list (RFC 9110 §5.3). */
function list(req: IncomingMessage, name: string): string | undefined {
  return req.headersDistinct[name]?.join(', ');
}

/** The request target without the query: signed URLs carry signatures, never logged. */
const pathOf = (req: IncomingMessage): string => (req.url ?? '/').split('?')[0] ?? '/';

/** Creates the `/d/...` handler. It never throws and never rejects; failures become responses. */
export function createEdgeHandler(opts: EdgeHandlerOptions): EdgeHandler {
  const { keyring, origin, log, onResponse } = opts;
  const clock = opts.now ?? (() => new Date());
  const maxUrlBytes = opts.limits?.maxUrlBytes ?? DEFAULT_MAX_URL_BYTES;
  const idleTimeoutMs = opts.limits?.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  const verified = new VerifiedUrlCache(keyring);
  const rangeLimits = {
    maxItems: opts.limits?.maxRangeItems ?? DEFAULT_MAX_RANGE_ITEMS,
    maxParts: opts.limits?.maxRangeParts ?? DEFAULT_MAX_RANGE_PARTS,
  };

  interface Ctx {
    /** Aborts when the client's connection closes (see `connectionSignal`). */
    signal: AbortSignal;
    counter: ByteCounter;
    started: number;
    headersAt?: number;
  }

  const writeHead = (res: ServerResponse, ctx: Ctx, status: number, headers: Record<string, string>) => {
    ctx.headersAt = performance.now();
    res.writeHead(status, headers);
  };

  async function handle(req: IncomingMessage, res: ServerResponse, ctx: Ctx, retried = false): Promise<void> {
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD')
      throw new EdgeRefusal(405, 'METHOD_NOT_ALLOWED', `method ${method} is not allowed`, { allow: EDGE_ALLOWED_METHODS });
    const target = req.url ?? '/';
    // A request target is latin1 (one byte per character).
    if (target.length > maxUrlBytes)
      throw new EdgeRefusal(414, 'URL_TOO_LONG', `the request target is longer than ${maxUrlBytes} bytes`);

    const now = clock();
    const url = verified.verify(target, now);
    if (!url.ok) throw new EdgeRefusal(403, url.code, REFUSAL_MESSAGES[url.code]);
    if (isReservedKey(url.objectPath)) throw notFound();
    const ref: ObjectRef = { objectPath: url.objectPath, version: url.version, signedPath: target };

    let meta: ObjectMeta | null;
    try {
      meta = await origin.head(ref, ctx.signal);
    } catch (e) {
      throw originRefusal(e);
    }
    if (meta === null) throw notFound();

    const rangeHeader = method === 'GET' ? single(req, 'range') : undefined;
    const conditional: ConditionalHeaders = {
      ifMatch: list(req, 'if-match'),
      ifNoneMatch: list(req, 'if-none-match'),
      ifModifiedSince: single(req, 'if-modified-since'),
      ifUnmodifiedSince: single(req, 'if-unmodified-since'),
      ifRange: list(req, 'if-range'),
    };
    const outcome = evaluatePreconditions(conditional, meta, url.version, rangeHeader !== undefined, now);
    if (outcome.kind === 'precondition-failed')
      throw new EdgeRefusal(412, 'PRECONDITION_FAILED', 'a precondition of the request does not hold');
    if (outcome.kind === 'gone')
      throw new EdgeRefusal(410, 'VERSION_GONE', 'the file version this URL names is no longer available');
    const headers = representationHeaders(url, meta, now);
    if (outcome.kind === 'not-modified') {
      writeHead(res, ctx, 304, { etag: headers.etag ?? '', 'cache-control': headers['cache-control'] ?? 'no-store' });
      res.end();
      return;
    }

    const { size } = meta;
    const resolved = outcome.useRange ? resolveRanges(parseRange(rangeHeader), size, rangeLimits) : { kind: 'full' as const };
    if (resolved.kind === 'unsatisfiable')
      throw new EdgeRefusal(416, 'RANGE_NOT_SATISFIABLE', 'the requested range is not satisfiable', {
        'content-range': unsatisfiedContentRange(size),
        'accept-ranges': 'bytes',
      });

    let status = 200;
    let ranges: SatisfiableRange[] = size > 0 ? [{ start: 0, end: size - 1 }] : [];
    let length = size;
    let plan: ReturnType<typeof planMultipart> | undefined;
    if (resolved.kind === 'partial') {
      status = 206;
      ranges = [{ start: resolved.start, end: resolved.end }];
      length = resolved.end - resolved.start + 1;
      headers['content-range'] = contentRange(resolved, size);
    } else if (resolved.kind === 'multi') {
      status = 206;
      ranges = resolved.ranges;
      plan = planMultipart(ranges, size, headers['content-type'] ?? 'application/octet-stream');
      length = plan.contentLength;
      headers['content-type'] = plan.contentType;
    }
    headers['content-length'] = String(length);

    const [firstRange] = ranges;
    if (method === 'HEAD' || firstRange === undefined) {
      writeHead(res, ctx, status, headers);
      res.end();
      return;
    }

    // One range from an origin that offers chunks (the slice cache, a folder store): no streams.
    const chunked = plan === undefined && origin.chunks !== undefined;
    let first: Readable | ChunkSource;
    try {
      first = chunked
        ? await (origin.chunks as NonNullable<Origin['chunks']>).call(origin, ref, firstRange, ctx.signal)
        : await origin.read(ref, firstRange, ctx.signal);
    } catch (e) {
      if (ctx.signal.aborted) return;
      // The version vanished since head(): answer from a fresh look (410, 404…), once.
      if (isHaulError(e) && e.code === 'NOT_FOUND') {
        if (!retried) return handle(req, res, ctx, true);
        throw unavailable('the file changed while being read, retry');
      }
      throw originRefusal(e);
    }
    if (ctx.signal.aborted || res.destroyed) {
      if (chunked) (first as ChunkSource).close();
      else (first as Readable).destroy();
      return;
    }
    writeHead(res, ctx, status, headers);
    if (chunked) {
      sendChunks(first as ChunkSource, res, length, ctx.counter, (err) => bodyFailed(req, err));
      return;
    }
    const stream = first as Readable;
    const done = (err?: Error) => {
      // Both ends are destroyed; `first` too, which the multipart body may not have reached.
      if (err) stream.destroy();
      bodyFailed(req, err);
    };
    // The multipart body counts its own bytes (framing included).
    const open = (r: SatisfiableRange) => origin.read(ref, r, ctx.signal);
    const body = plan ? multipartBody(plan, stream, open, ctx.counter) : stream;
    sendExact(body, res, length, plan ? { bytes: 0 } : ctx.counter, done);
  }

  /** A body that failed after its headers went out (the socket is destroyed by then): logged. */
  function bodyFailed(req: IncomingMessage, err: Error | undefined): void {
    if (!err) return;
    if (CLIENT_GONE.has((err as NodeJS.ErrnoException).code ?? '')) log?.debug({ path: pathOf(req) }, 'edge: client went away');
    else log?.warn({ err, path: pathOf(req) }, 'edge: response aborted after headers were sent');
  }

  return (req, res) => {
    const ctx: Ctx = { signal: connectionSignal(req), counter: { bytes: 0 }, started: performance.now() };
    if (idleTimeoutMs > 0) res.setTimeout(idleTimeoutMs, destroyOnIdle);
    res.once('close', () => {
      const aborted = !res.writableFinished;
      if (!onResponse) return;
      const end = performance.now();
      onResponse({
        method: req.method ?? 'GET',
        status: res.statusCode,
        bytes: ctx.counter.bytes,
        headersMs: ctx.headersAt === undefined ? undefined : ctx.headersAt - ctx.started,
        totalMs: end - ctx.started,
        aborted,
      });
    });
    handle(req, res, ctx).catch((e: unknown) => {
      if (res.headersSent || res.destroyed) {
        res.destroy();
        return;
      }
      ctx.headersAt ??= performance.now();
      if (e instanceof EdgeRefusal) return sendRefusal(res, e);
      if (ctx.signal.aborted) return;
      log?.error({ err: e, path: pathOf(req) }, 'edge: unexpected error');
      sendRefusal(res, new EdgeRefusal(500, 'INTERNAL', 'unexpected error'));
    });
  };
}

const connectionSignals = new WeakMap<Socket, AbortSignal>();

/**
 * The abort signal of a request: it aborts when the client's connection closes. A response ends
 * unfinished only when its connection closes (the client left, the idle timeout, a failure after
 * the headers destroys the socket), and then every request of that connection is gone, so one
 * signal per connection serves them all: a request on a kept-alive connection allocates no
 * AbortController. (Whatever listens on it stops listening when its own work is done.)
 */
function connectionSignal(req: IncomingMessage): AbortSignal {
  const socket = req.socket;
  let signal = connectionSignals.get(socket);
  if (signal === undefined) {
    const ac = new AbortController();
    signal = ac.signal;
    connectionSignals.set(socket, signal);
    if (socket.destroyed) ac.abort();
    else socket.once('close', () => ac.abort());
  }
  return signal;
}

/** A response that made no progress for the idle timeout ('timeout' listener: `this` is the response). */
function destroyOnIdle(this: ServerResponse): void {
  this.destroy();
}

/** The parts of the representation headers that depend only on the URL, computed once per verified URL. */
interface UrlHeaders {
  etag: string;
  contentType: string;
  disposition: string;
  digest: string;
}
const urlHeaders = new WeakMap<VerifiedDownloadUrl, UrlHeaders>();

/** The last Last-Modified value formatted (a hot file is asked for over and over). */
let lastModifiedMemo = { at: Number.NaN, text: '' };

/** Headers describing the selected representation (200, 206, HEAD). */
function representationHeaders(url: VerifiedDownloadUrl, meta: ObjectMeta, now: Date): Record<string, string> {
  let fixed = urlHeaders.get(url);
  if (fixed === undefined) {
    fixed = {
      etag: `"${url.version}"`,
      contentType: url.contentType ?? 'application/octet-stream',
      disposition: url.filename !== undefined ? contentDisposition(url.filename) : 'attachment',
      // RFC 9530: the digest of the whole selected representation, whatever range is sent.
      digest: `sha-256=:${Buffer.from(url.version, 'hex').toString('base64')}:`,
    };
    urlHeaders.set(url, fixed);
  }
  const modified = effectiveLastModified(meta.lastModified, now);
  if (lastModifiedMemo.at !== modified) lastModifiedMemo = { at: modified, text: new Date(modified).toUTCString() };
  const maxAge = Math.max(0, Math.floor((url.expiresAt.getTime() - now.getTime()) / 1000));
  return {
    'accept-ranges': 'bytes',
    etag: fixed.etag,
    'last-modified': lastModifiedMemo.text,
    'content-type': fixed.contentType,
    'content-disposition': fixed.disposition,
    'repr-digest': fixed.digest,
    'cache-control': `private, max-age=${maxAge}`,
    'x-content-type-options': 'nosniff',
  };
}
