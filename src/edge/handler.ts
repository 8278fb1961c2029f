/**
 * The data-plane handler: serves signed download URLs (`/d/...`) from a BlobStore (DESIGN §6).
 *
 * This is the base the full edge builds on (slice cache, multipart ranges, the remaining
 * conditionals, Repr-Digest, metrics). What it does now:
 *
 * - GET and HEAD only (anything else: 405 with `Allow`).
 * - The request target (path + query, against a dummy origin; scheme and host are not signed) is
 *   verified with `verifyDownloadUrl`; a refusal is 403 `{ error: { code: URL_…, message } }`.
 * - The object is stat-ed; no object (or a key the store refuses) is 404 NOT_FOUND. Error bodies
 *   never contain the object path.
 * - The URL's `v` (the file's SHA-256) is the strong ETag. **This version does not check that the
 *   stored bytes are that version**: the BlobStore has no digest and hashing on every request is
 *   out of the question. The edge issue adds the check from object metadata (the version recorded
 *   at ingest); until then a URL for an overwritten key serves the new bytes under the old ETag.
 *   Keys are content-addressed by ingest, so this does not happen in normal operation.
 * - Preconditions, RFC 9110 §13.2.2 order: `If-Match` (strong comparison against the URL's
 *   version; `*` matches since the object exists; mismatch → 412), then `If-Range` (GET with a
 *   Range only; an entity-tag must match strongly, a date must equal Last-Modified and be at
 *   least 60 s old to count as strong; otherwise the Range is ignored and the whole file sent).
 *   `If-None-Match`, `If-Modified-Since` and `If-Unmodified-Since` come with the edge issue.
 * - Ranges (GET only; RFC 9110 §14.2 defines them for GET alone): see `range.ts`. Several ranges
 *   are answered with the whole file as 200 until multipart/byteranges exists.
 * - Bytes stream with `pipeline(origin, lengthGuard, res)`: back-pressure end to end, and a client
 *   that goes away destroys the origin stream. The guard fails the response if the origin sends
 *   more or fewer bytes than the Content-Length promised (the object changed under us). Any error
 *   after the headers went out destroys the socket, so a client never mistakes a truncated body
 *   for a complete one.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline, type Readable, Transform, type TransformCallback } from 'node:stream';
import type { Logger } from 'pino';
import { isHaulError } from '../errors.ts';
import type { BlobStat, BlobStore, ByteRange } from '../storage/blob-store.ts';
import { contentDisposition } from '../storage/s3-presign.ts';
import { contentRange, parseRange, resolveRanges, unsatisfiedContentRange } from './range.ts';
import { type Keyring, type UrlRefusalCode, type VerifiedDownloadUrl, verifyDownloadUrl } from './signing.ts';

export interface EdgeHandlerOptions {
  keyring: Keyring;
  store: BlobStore;
  log?: Logger | undefined;
  /** Clock for URL expiry and Cache-Control; tests may pin it. */
  now?: (() => Date) | undefined;
}

export type EdgeHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** Codes in edge error bodies: the URL refusals plus these. */
export type EdgeErrorCode =
  | UrlRefusalCode
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'PRECONDITION_FAILED'
  | 'RANGE_NOT_SATISFIABLE'
  | 'UNAVAILABLE'
  | 'INTERNAL';

export const EDGE_ALLOWED_METHODS = 'GET, HEAD';

const REFUSAL_MESSAGES: Record<UrlRefusalCode, string> = {
  URL_MISSING_SIGNATURE: 'the download URL has no signature',
  URL_BAD_SIGNATURE: 'the download URL signature is not valid',
  URL_EXPIRED: 'the download URL has expired',
  URL_UNKNOWN_KEY: 'the download URL was signed with an unknown key',
  URL_RETIRED_KEY: 'the download URL was signed with a retired key',
  URL_MALFORMED: 'the download URL is malformed',
};

/** Stream errors that mean the client went away (not worth a warning). */
const CLIENT_GONE = new Set(['ERR_STREAM_PREMATURE_CLOSE', 'ERR_STREAM_DESTROYED', 'ECONNRESET', 'EPIPE']);

/** A Last-Modified this old is a strong validator (RFC 9110 §8.8.2.2). */
const STRONG_DATE_AGE_MS = 60_000;

/** An expected refusal, answered before any byte of the body. */
class EdgeRefusal extends Error {
  constructor(
    readonly status: number,
    readonly code: EdgeErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

function sendRefusal(res: ServerResponse, r: EdgeRefusal): void {
  const body = JSON.stringify({ error: { code: r.code, message: r.message } });
  res.writeHead(r.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...r.headers,
  });
  // Node drops the body of a HEAD response by itself.
  res.end(body);
}

/** The strong entity-tags (opaque part) of an `If-Match`-style list, or `any` for `*`. Weak tags never match. */
function entityTags(value: string): { any: boolean; strong: string[] } {
  if (value.trim() === '*') return { any: true, strong: [] };
  const strong: string[] = [];
  for (const m of value.matchAll(/(W\/)?"([\x21\x23-\x7e\x80-\xff]*)"/g)) {
    if (m[1] === undefined && m[2] !== undefined) strong.push(m[2]);
  }
  return { any: false, strong };
}

/** If-Match (RFC 9110 §13.1.1): strong comparison; the object exists, so `*` matches. */
function ifMatchPasses(header: string | undefined, etagValue: string): boolean {
  if (header === undefined) return true;
  const tags = entityTags(header);
  return tags.any || tags.strong.includes(etagValue);
}

/** If-Range (RFC 9110 §13.1.5): true when the Range may be applied. */
function ifRangePasses(header: string | undefined, etag: string, lastModified: Date, now: Date): boolean {
  if (header === undefined) return true;
  const v = header.trim();
  if (v.startsWith('"') || v.startsWith('W/')) return v === etag;
  const date = Date.parse(v);
  if (Number.isNaN(date)) return false;
  const lm = Math.floor(lastModified.getTime() / 1000) * 1000;
  return date === lm && now.getTime() - lm >= STRONG_DATE_AGE_MS;
}

/**
 * Passes exactly `expected` bytes; errors if the origin sends more, or ends with fewer, so a
 * response never silently disagrees with its Content-Length.
 */
function lengthGuard(expected: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      seen += chunk.length;
      if (seen > expected) cb(new Error(`origin sent more than the ${expected} bytes announced`));
      else cb(null, chunk);
    },
    flush(cb: TransformCallback) {
      cb(seen === expected ? null : new Error(`origin ended after ${seen} of ${expected} bytes`));
    },
  });
}

/** Maps a BlobStore failure to a refusal; unknown failures are rethrown (→ 500, logged). */
function storeRefusal(e: unknown): EdgeRefusal {
  if (isHaulError(e)) {
    // BAD_USER_INPUT: a key the store refuses (signing allows more than every backend stores).
    if (e.code === 'NOT_FOUND' || e.code === 'BAD_USER_INPUT') return new EdgeRefusal(404, 'NOT_FOUND', 'no such file');
    if (e.code === 'UNAVAILABLE')
      return new EdgeRefusal(503, 'UNAVAILABLE', 'storage is unavailable, retry later', { 'retry-after': '1' });
  }
  throw e;
}

const header = (req: IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
};

/** Creates the `/d/...` handler. It never throws and never rejects; failures become responses. */
export function createEdgeHandler(opts: EdgeHandlerOptions): EdgeHandler {
  const { keyring, store, log } = opts;
  const clock = opts.now ?? (() => new Date());

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD')
      throw new EdgeRefusal(405, 'METHOD_NOT_ALLOWED', `method ${method} is not allowed`, { allow: EDGE_ALLOWED_METHODS });

    const now = clock();
    const url = verifyDownloadUrl(keyring, req.url ?? '/', now);
    if (!url.ok) throw new EdgeRefusal(403, url.code, REFUSAL_MESSAGES[url.code]);

    const stat = await store.stat(url.objectPath).catch((e: unknown) => {
      throw storeRefusal(e);
    });
    if (stat === null) throw new EdgeRefusal(404, 'NOT_FOUND', 'no such file');

    const etag = `"${url.version}"`;
    if (!ifMatchPasses(header(req, 'if-match'), url.version))
      throw new EdgeRefusal(412, 'PRECONDITION_FAILED', 'If-Match does not match the current version', { etag });

    const headers = representationHeaders(url, stat, now);
    const { size } = stat;
    let status = 200;
    let range: ByteRange | undefined;
    const rangeHeader = method === 'GET' ? header(req, 'range') : undefined;
    if (rangeHeader !== undefined && ifRangePasses(header(req, 'if-range'), etag, stat.lastModified, now)) {
      const resolved = resolveRanges(parseRange(rangeHeader), size);
      if (resolved.kind === 'unsatisfiable')
        throw new EdgeRefusal(416, 'RANGE_NOT_SATISFIABLE', 'the requested range is not satisfiable', {
          'content-range': unsatisfiedContentRange(size),
          'accept-ranges': 'bytes',
        });
      if (resolved.kind === 'partial') {
        status = 206;
        range = { start: resolved.start, end: resolved.end };
        headers['content-range'] = contentRange(range, size);
      }
      // 'full' (and 'multi', which is not enabled here): the whole file as 200.
    }
    const length = range ? range.end - range.start + 1 : size;
    headers['content-length'] = String(length);

    if (method === 'HEAD' || length === 0) {
      res.writeHead(status, headers);
      res.end();
      return;
    }

    // Open before the headers go out, so an object deleted since the stat is still a clean 404.
    // A whole-file read is bounded too, so an object that grew still yields the announced length;
    // the guard catches one that shrank (and a store that ignores the bound).
    const body: Readable = await store.read(url.objectPath, range ?? { start: 0, end: size - 1 }).catch((e: unknown) => {
      if (isHaulError(e) && e.code === 'BAD_USER_INPUT')
        // The range start is now past the end: the object shrank since the stat.
        throw new EdgeRefusal(503, 'UNAVAILABLE', 'the file changed while being read, retry', { 'retry-after': '1' });
      throw storeRefusal(e);
    });
    if (res.destroyed || res.socket?.destroyed === true) {
      body.destroy();
      return;
    }
    res.writeHead(status, headers);
    pipeline(body, lengthGuard(length), res, (err) => {
      if (!err) return;
      // pipeline has destroyed every stream, the response (and so the socket) included.
      if (!res.destroyed) res.destroy();
      if (CLIENT_GONE.has((err as NodeJS.ErrnoException).code ?? '')) log?.debug({ path: pathOf(req) }, 'edge: client went away');
      else log?.warn({ err, path: pathOf(req) }, 'edge: response aborted after headers were sent');
    });
  }

  return (req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (e instanceof EdgeRefusal) return sendRefusal(res, e);
      log?.error({ err: e, path: pathOf(req) }, 'edge: unexpected error');
      sendRefusal(res, new EdgeRefusal(500, 'INTERNAL', 'unexpected error'));
    });
  };
}

/** Headers describing the selected representation (shared by 200, 206, HEAD and 416). */
function representationHeaders(url: VerifiedDownloadUrl, stat: BlobStat, now: Date): Record<string, string> {
  const maxAge = Math.max(0, Math.floor((url.expiresAt.getTime() - now.getTime()) / 1000));
  return {
    'accept-ranges': 'bytes',
    etag: `"${url.version}"`,
    'last-modified': stat.lastModified.toUTCString(),
    'content-type': url.contentType ?? 'application/octet-stream',
    'content-disposition': url.filename !== undefined ? contentDisposition(url.filename) : 'attachment',
    'cache-control': `private, max-age=${maxAge}`,
    'x-content-type-options': 'nosniff',
  };
}

/** The request path without the query: signed URLs carry signatures, never logged. */
const pathOf = (req: IncomingMessage): string => (req.url ?? '/').split('?')[0] ?? '/';
