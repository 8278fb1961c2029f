import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCodes, HaulError } from '../errors.ts';

/** Reads a request body, refusing more than `limit` bytes (413) without buffering the excess. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new HaulError('PAYLOAD_TOO_LARGE', `request body over ${limit} bytes`);
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      req.resume();
      throw new HaulError('PAYLOAD_TOO_LARGE', `request body over ${limit} bytes`);
    }
    parts.push(chunk);
  }
  return Buffer.concat(parts);
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

/** `{ error: { code, message } }` with the code's HTTP status (DESIGN §5). */
export function sendError(res: ServerResponse, e: HaulError): void {
  const headers: Record<string, string> = {};
  if (e.code === 'UNAUTHENTICATED') headers['www-authenticate'] = 'Bearer';
  if (e.code === 'UNAVAILABLE') headers['retry-after'] = '1';
  sendJson(res, ErrorCodes[e.code].http, { error: { code: e.code, message: e.message } }, headers);
}
