import { createHash } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { createEdgeHandler, type EdgeHandlerOptions } from '../../src/edge/handler.ts';
import type { ObjectMeta, ObjectRef, Origin } from '../../src/edge/origin.ts';
import { Keyring, type SignDownloadUrlInput, signDownloadUrl } from '../../src/edge/signing.ts';
import type { BlobStore } from '../../src/storage/blob-store.ts';
import { versionOf, writeVersion } from '../../src/storage/versions.ts';

export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
export const HOUR = 3_600_000;
export const testKeyring = new Keyring({ keys: { t1: 'test-secret-0123456789abcdef' }, activeKid: 't1', retired: [] });

/** Stores bytes and records their version, as ingest would (without the database). */
export async function putVersioned(store: BlobStore, key: string, bytes: Buffer): Promise<string> {
  await store.put(key, bytes);
  const stat = await store.stat(key);
  if (!stat) throw new Error(`putVersioned: ${key} vanished`);
  const v = sha256(bytes);
  await writeVersion(store, key, versionOf(v, stat));
  return v;
}

export interface TestEdge extends AsyncDisposable {
  server: Server;
  base: string;
  sign(input: Omit<SignDownloadUrlInput, 'baseUrl' | 'expiresAt'> & { expiresAt?: Date }): string;
  close(): Promise<void>;
}

/** The edge handler alone on a real socket, port 0. */
export async function startEdge(opts: Omit<EdgeHandlerOptions, 'keyring'> & { keyring?: Keyring }): Promise<TestEdge> {
  const keyring = opts.keyring ?? testKeyring;
  const server = createServer(createEdgeHandler({ ...opts, keyring }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return {
    server,
    base,
    sign: (input) => signDownloadUrl(keyring, { baseUrl: base, expiresAt: new Date(Date.now() + HOUR), ...input }),
    close,
    [Symbol.asyncDispose]: close,
  };
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * One HTTP request with exactly the given headers (fetch adds and normalises some), on a fresh
 * connection. The path may be anything, even what `new URL` would refuse.
 */
export function rawRequest(
  base: string,
  path: string,
  opts: { method?: string; headers?: Record<string, string | string[]> } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const u = new URL(base);
    const req = httpRequest(
      { host: u.hostname, port: u.port, path, method: opts.method ?? 'GET', headers: opts.headers ?? {}, agent: false },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** The request target (path and query) of an absolute URL. */
export const targetOf = (url: string) => {
  const u = new URL(url);
  return `${u.pathname}${u.search}`;
};

export interface Part {
  headers: Record<string, string>;
  body: Buffer;
}

/** Parses a multipart/byteranges body strictly (the exact framing haul sends). */
export function parseMultipart(contentType: string | undefined, body: Buffer): Part[] {
  const m = /^multipart\/byteranges; boundary=(\S+)$/.exec(contentType ?? '');
  if (!m) throw new Error(`not multipart/byteranges: ${contentType}`);
  const delimiter = Buffer.from(`--${m[1]}`);
  const parts: Part[] = [];
  let at = 0;
  for (let first = true; ; first = false) {
    const lead = first ? delimiter : Buffer.concat([Buffer.from('\r\n'), delimiter]);
    if (!body.subarray(at, at + lead.length).equals(lead)) throw new Error(`expected a delimiter at ${at}`);
    at += lead.length;
    if (body.subarray(at, at + 4).toString() === '--\r\n') {
      if (at + 4 !== body.length) throw new Error('bytes after the close delimiter');
      return parts;
    }
    const headEnd = body.indexOf('\r\n\r\n', at);
    const headers: Record<string, string> = {};
    for (const line of body
      .subarray(at + 2, headEnd)
      .toString('latin1')
      .split('\r\n')) {
      const i = line.indexOf(':');
      headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
    }
    const r = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(headers['content-range'] ?? '');
    if (!r) throw new Error(`bad part Content-Range ${headers['content-range']}`);
    const len = Number(r[2]) - Number(r[1]) + 1;
    at = headEnd + 4;
    parts.push({ headers, body: body.subarray(at, at + len) });
    at += len;
  }
}

/** An origin wrapper that counts open streams, to prove every one is released. */
export class CountingOrigin implements Origin {
  opened = 0;
  closed = 0;
  heads = 0;
  constructor(readonly inner: Origin) {}
  get open(): number {
    return this.opened - this.closed;
  }
  head(ref: ObjectRef, signal?: AbortSignal): Promise<ObjectMeta | null> {
    this.heads++;
    return this.inner.head(ref, signal);
  }
  async read(ref: ObjectRef, range: { start: number; end: number }, signal?: AbortSignal): Promise<Readable> {
    const s = await this.inner.read(ref, range, signal);
    this.opened++;
    s.once('close', () => this.closed++);
    return s;
  }
}

/** Open file descriptors of this process (Linux). */
export async function openFds(): Promise<number> {
  const { readdir } = await import('node:fs/promises');
  return (await readdir('/proc/self/fd')).length;
}
