/**
 * Shared by the cache, shield and metrics tests: a real folder store behind StoreOrigin, an
 * Origin wrapper that counts what reaches it, an in-memory origin for property tests, and a
 * minimal test-local edge HTTP server (NOT src/edge/handler.ts, which evolves on its own): it
 * verifies the signed URL, optionally the hop header, and serves HEAD or one `Range` through an
 * Origin.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline, Readable } from 'node:stream';
import type { ObjectMeta, ObjectRef, Origin } from '../../src/edge/origin.ts';
import { type Keyring, signDownloadUrl, verifyDownloadUrl } from '../../src/edge/signing.ts';
import { StoreOrigin } from '../../src/edge/store-origin.ts';
import { isUpstreamError, requireHop } from '../../src/edge/upstream-origin.ts';
import { HaulError, isHaulError } from '../../src/errors.ts';
import { FsBlobStore } from '../../src/storage/fs.ts';
import { writeVersion } from '../../src/storage/versions.ts';

export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) parts.push(chunk);
  return Buffer.concat(parts);
}

export const refOf = (objectPath: string, bytes: Buffer, signedPath = `/d/${objectPath}`): ObjectRef => ({
  objectPath,
  version: sha256(bytes),
  signedPath,
});

export interface TestStore extends AsyncDisposable {
  store: FsBlobStore;
  origin: StoreOrigin;
  /** Writes the object and its version record (what ingest does); returns a ref to it. */
  put(key: string, bytes: Buffer): Promise<ObjectRef>;
}

/** A temp-folder store with version records, read through the real StoreOrigin. */
export async function makeStore(): Promise<TestStore> {
  const dir = await mkdtemp(join(tmpdir(), 'haul-edge-cache-'));
  const store = new FsBlobStore(dir);
  return {
    store,
    origin: new StoreOrigin(store),
    async put(key, bytes) {
      await store.put(key, bytes);
      const st = (await store.stat(key))!;
      await writeVersion(store, key, { sha256: sha256(bytes), size: st.size, lastModified: st.lastModified.toISOString() });
      return refOf(key, bytes);
    },
    async [Symbol.asyncDispose]() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface CountingOrigin extends Origin {
  heads: number;
  reads: Array<{ objectPath: string; start: number; end: number }>;
  /** Reads whose stream is open right now, and the most ever open at once. */
  open: number;
  maxOpen: number;
  /** Signals the inner read was given, in call order. */
  signals: Array<AbortSignal | undefined>;
}

/** Counts heads and reads reaching `inner`, and how many read streams are open at once. */
export function countingOrigin(inner: Origin): CountingOrigin {
  const o: CountingOrigin = {
    heads: 0,
    reads: [],
    open: 0,
    maxOpen: 0,
    signals: [],
    head(ref, signal) {
      o.heads++;
      return inner.head(ref, signal);
    },
    async read(ref, range, signal) {
      o.reads.push({ objectPath: ref.objectPath, start: range.start, end: range.end });
      o.signals.push(signal);
      const body = await inner.read(ref, range, signal);
      o.open++;
      o.maxOpen = Math.max(o.maxOpen, o.open);
      body.once('close', () => o.open--);
      return body;
    },
  };
  return o;
}

/**
 * Objects in memory, keyed by path. Reads come out in chunks of random sizes (seeded by the
 * range) so consumers meet arbitrary chunk boundaries.
 */
export function memoryOrigin(files: Map<string, Buffer>): Origin {
  const lastModified = new Date('2026-01-01T00:00:00Z');
  return {
    async head(ref): Promise<ObjectMeta | null> {
      const f = files.get(ref.objectPath);
      return f ? { size: f.length, version: sha256(f), lastModified } : null;
    },
    async read(ref, range) {
      const f = files.get(ref.objectPath);
      if (!f || sha256(f) !== ref.version) throw new HaulError('NOT_FOUND', 'gone');
      if (range.start >= f.length || range.end >= f.length) throw new HaulError('BAD_USER_INPUT', 'outside');
      const bytes = f.subarray(range.start, range.end + 1);
      const chunks: Buffer[] = [];
      let seed = range.start * 31 + range.end;
      for (let at = 0; at < bytes.length; ) {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        const n = 1 + (seed % 97);
        chunks.push(bytes.subarray(at, at + n));
        at += n;
      }
      return Readable.from(chunks);
    },
  };
}

export interface MiniEdge extends AsyncDisposable {
  url: string;
  /** Requests received (every method, every outcome). */
  requests: number;
  server: ReturnType<typeof createServer>;
}

export interface MiniEdgeOptions {
  keyring: Keyring;
  origin: Origin;
  /** Require a valid X-Haul-Hop with this secret. */
  hopSecret?: string;
  now?: () => Date;
  /** Wraps the handler (e.g. withMetrics). */
  wrap?: (h: (req: IncomingMessage, res: ServerResponse) => void) => (req: IncomingMessage, res: ServerResponse) => void;
  /** Extra routes by exact path (e.g. /metrics). */
  routes?: Record<string, (req: IncomingMessage, res: ServerResponse) => void>;
}

function refuse(res: ServerResponse, status: number, code: string): void {
  const body = JSON.stringify({ error: { code, message: code } });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-haul-error': code });
  res.end(body);
}

/** A minimal edge: signed URL (and hop) check, HEAD, If-Match, one `bytes=a-b` / `bytes=a-` range. */
export async function startMiniEdge(opts: MiniEdgeOptions): Promise<MiniEdge> {
  const clock = opts.now ?? (() => new Date());
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = verifyDownloadUrl(opts.keyring, req.url ?? '/', clock());
    if (!url.ok) return refuse(res, 403, url.code);
    const ref: ObjectRef = { objectPath: url.objectPath, version: url.version, signedPath: req.url ?? '/' };
    const meta = await opts.origin.head(ref);
    if (!meta) return refuse(res, 404, 'NOT_FOUND');
    if (meta.version !== url.version) return refuse(res, 410, 'GONE');
    const ifMatch = req.headers['if-match'];
    if (ifMatch !== undefined && ifMatch !== `"${url.version}"`) return refuse(res, 412, 'PRECONDITION_FAILED');
    const headers: Record<string, string> = {
      etag: `"${url.version}"`,
      'last-modified': meta.lastModified.toUTCString(),
      'accept-ranges': 'bytes',
      'content-type': 'application/octet-stream',
    };
    let status = 200;
    let start = 0;
    let end = meta.size - 1;
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (m) {
      start = Number(m[1]);
      end = m[2] ? Math.min(Number(m[2]), meta.size - 1) : meta.size - 1;
      if (start >= meta.size) {
        res.writeHead(416, { 'content-range': `bytes */${meta.size}` });
        res.end();
        return;
      }
      status = 206;
      headers['content-range'] = `bytes ${start}-${end}/${meta.size}`;
    }
    headers['content-length'] = String(end - start + 1);
    if (req.method === 'HEAD' || end < start) {
      res.writeHead(status, headers);
      res.end();
      return;
    }
    const ctl = new AbortController();
    res.once('close', () => ctl.abort());
    const body = await opts.origin.read(ref, { start, end }, ctl.signal);
    res.writeHead(status, headers);
    pipeline(body, res, () => {});
  }
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    edge.requests++;
    handle(req, res).catch((e: unknown) => {
      if (res.headersSent) return void res.destroy();
      if (isUpstreamError(e)) return refuse(res, e.status === 403 ? 403 : 502, e.upstreamCode ?? 'BAD_GATEWAY');
      if (isHaulError(e) && e.code === 'NOT_FOUND') return refuse(res, 410, 'GONE');
      refuse(res, 500, 'INTERNAL');
    });
  };
  const hopChecked = opts.hopSecret !== undefined ? requireHop(handler, opts.hopSecret, { now: clock }) : handler;
  const wrapped = opts.wrap ? opts.wrap(hopChecked) : hopChecked;
  const server = createServer((req, res) => {
    const route = opts.routes?.[req.url ?? ''];
    if (route) route(req, res);
    else wrapped(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const edge: MiniEdge = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: 0,
    server,
    async [Symbol.asyncDispose]() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return edge;
}

export const TEST_KEYRING_CONFIG = { keys: { k1: 'edge-cache-secret-0123456789' }, activeKid: 'k1', retired: [] };

/** A signed URL for `ref` on `baseUrl`, expiring `ttlMs` from now (distinct ttls → distinct URLs). */
export function signedUrl(keyring: Keyring, baseUrl: string, ref: ObjectRef, ttlMs = 3_600_000): string {
  return signDownloadUrl(keyring, {
    baseUrl,
    objectPath: ref.objectPath,
    version: ref.version,
    expiresAt: new Date(Date.now() + ttlMs),
  });
}

export const randomFile = (size: number) => randomBytes(size);
