import { createHash } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { PrismaClient } from '../../src/db/client.ts';
import type { GraphQLResult } from './server.ts';

/** SHA-256 hex of some bytes: a file's checksum as ingest computes it. */
export const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** Deterministic pseudo-random bytes (so a failing test reproduces with the same data). */
export function bytesOf(size: number, seed = 1): Buffer {
  const out = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** GraphQL over HTTP with a hand-written document (for what typed documents cannot express). */
export async function rawGql(
  url: string,
  token: string | undefined,
  query: string,
  variables?: Record<string, unknown>,
): Promise<GraphQLResult<any>> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, ...((await res.json()) as Omit<GraphQLResult<any>, 'status'>) };
}

/** A POST with a raw body, optionally without Content-Length (chunked), so the server has to count. */
export function postRaw(
  url: string,
  path: string,
  token: string | undefined,
  body: Buffer,
  opts: { chunked?: boolean } = {},
): Promise<{ status: number; headers: IncomingHttpHeaders; body: any }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    if (!opts.chunked) headers['content-length'] = String(body.length);
    const req = httpRequest(`${url}${path}`, { method: 'POST', headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        let json: unknown = text;
        try {
          json = JSON.parse(text);
        } catch {}
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: json });
      });
      res.on('error', reject);
    });
    // The server may answer (413) and stop reading before the whole body is sent.
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE' && e.code !== 'ECONNRESET') reject(e);
    });
    if (opts.chunked) {
      // Several writes: a chunked body arrives in pieces and the limit is counted while streaming.
      const step = 16 * 1024;
      for (let i = 0; i < body.length; i += step) req.write(body.subarray(i, i + step));
      req.end();
    } else req.end(body);
  });
}

/** The full stored row of a session (BigInts, arrays and dates included), for before/after equality. */
export const sessionRow = (prisma: PrismaClient, id: string) => prisma.downloadSession.findUniqueOrThrow({ where: { id } });

/** Every session row of the database, ordered by id: proves an operation wrote nothing anywhere. */
export const allSessionRows = (prisma: PrismaClient) => prisma.downloadSession.findMany({ orderBy: { id: 'asc' } });

/** An unsigned JWT (`alg: none`), or any hand-made header/payload/signature triple. */
export function handMadeJwt(header: Record<string, unknown>, payload: Record<string, unknown>, signature = ''): string {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64(header)}.${b64(payload)}.${signature}`;
}

/** A UUID that names nothing. */
export const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';
