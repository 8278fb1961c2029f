import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
// The printer alone: importing `graphql` loads the whole library (~10 MB) that clients do not need.
import { print } from 'graphql/language/printer.js';
import { Pool } from './undici.ts';

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

const pools = new Map<string, Pool>();

/** A few keep-alive connections per API origin, shared by every call (idle sockets do not hold the process). */
function poolFor(origin: string): Pool {
  let pool = pools.get(origin);
  if (!pool) {
    pool = new Pool(origin, { connections: 4, keepAliveTimeout: 10_000 });
    pools.set(origin, pool);
  }
  return pool;
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
  // undici's Pool, not the global fetch: the download engine loads it anyway, and Node's bundled
  // copy of undici behind fetch would be a second HTTP stack in memory.
  let status: number;
  let body: { data?: T | null; errors?: { message: string; extensions?: { code?: string } }[] };
  try {
    const url = new URL(`${apiUrl.replace(/\/$/, '')}/graphql`);
    const res = await poolFor(url.origin).request({
      path: `${url.pathname}${url.search}`,
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: print(doc), variables }),
      signal: opts.signal,
    });
    status = res.statusCode;
    try {
      body = (await res.body.json()) as typeof body;
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
