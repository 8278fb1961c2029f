import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
// The printer alone: importing `graphql` loads the whole library (~10 MB) that clients do not need.
import { print } from 'graphql/language/printer.js';
import { PoolSet } from './range-request.ts';
import type { Dispatcher } from './undici.ts';

/** A failed API call: the server's stable error code (or UNAVAILABLE when it could not be reached). */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly code: string,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** How long an API call may wait for the server's answer. */
const API_TIMEOUT_MS = 300_000;

/**
 * A few keep-alive connections per API origin, shared by every call (idle sockets do not hold the
 * process): like the engine's ranges, a plain-HTTP API goes through raw-http.ts, so that `haul
 * get` from a plain-HTTP service never loads undici; HTTPS through undici's Pool (not the global
 * fetch: Node's bundled copy of undici behind it would be a second HTTP stack in memory).
 */
const pools = new PoolSet({
  connections: 4,
  headersTimeoutMs: API_TIMEOUT_MS,
  bodyTimeoutMs: API_TIMEOUT_MS,
  connectTimeoutMs: 10_000,
  keepAliveTimeoutMs: 10_000,
});

/** The response of one POST: status and body. */
interface Answer {
  status: number;
  body: Buffer;
}

/** POSTs `body` and collects the answer. */
function post(url: URL, headers: Record<string, string>, body: string, signal: AbortSignal | undefined): Promise<Answer> {
  const path = `${url.pathname}${url.search}`;
  const pool = pools.stream(url.origin);
  return new Promise<Answer>((resolve, reject) => {
    let status = 0;
    const parts: Buffer[] = [];
    let controller: Dispatcher.DispatchController | undefined;
    const onAbort = () => controller?.abort(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    signal?.addEventListener('abort', onAbort, { once: true });
    const done = () => signal?.removeEventListener('abort', onAbort);
    pool.dispatch(
      { path, method: 'POST', headers, body },
      {
        onRequestStart(c) {
          controller = c;
          if (signal?.aborted) onAbort();
        },
        onResponseStart(_c, code) {
          status = code;
        },
        onResponseData(_c, data) {
          // Possibly a view of the socket's read buffer (raw-http): copied.
          parts.push(Buffer.from(data));
        },
        onResponseEnd() {
          done();
          resolve({ status, body: Buffer.concat(parts) });
        },
        onResponseError(_c, e) {
          done();
          reject(e);
        },
      },
    );
  });
}

/**
 * One GraphQL operation over HTTP POST with a bearer token, typed by its generated document
 * (src/client/generated). Resolves with `data`; any GraphQL error rejects with its code.
 */
export async function graphqlRequest<T, V>(
  apiUrl: string,
  token: string,
  doc: TypedDocumentNode<T, V>,
  variables: V,
  opts: { signal?: AbortSignal } = {},
): Promise<T> {
  let status: number;
  let body: { data?: T | null; errors?: { message: string; extensions?: { code?: string } }[] };
  try {
    const url = new URL(`${apiUrl.replace(/\/$/, '')}/graphql`);
    const res = await post(
      url,
      { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      JSON.stringify({ query: print(doc), variables }),
      opts.signal,
    );
    status = res.status;
    try {
      body = JSON.parse(res.body.toString('utf8')) as typeof body;
    } catch {
      throw new ApiError('INTERNAL', `${apiUrl} answered ${status} without a GraphQL body`, status);
    }
  } catch (e) {
    if (e instanceof ApiError) throw e;
    const err = e as { code?: string; message?: string; cause?: { code?: string } };
    throw new ApiError('UNAVAILABLE', `cannot reach ${apiUrl}: ${err.code ?? err.cause?.code ?? err.message ?? String(e)}`);
  }
  const first = body.errors?.[0];
  if (first) throw new ApiError(first.extensions?.code ?? 'INTERNAL', first.message, status);
  if (!body.data) throw new ApiError('INTERNAL', `${apiUrl} answered ${status} without data`, status);
  return body.data;
}
