import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';

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
  let res: Response;
  try {
    res = await fetch(`${apiUrl.replace(/\/$/, '')}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: print(doc), variables }),
      signal: opts.signal,
    });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw new ApiError('UNAVAILABLE', `cannot reach ${apiUrl}: ${cause?.code ?? cause?.message ?? (e as Error).message}`);
  }
  let body: { data?: T | null; errors?: { message: string; extensions?: { code?: string } }[] };
  try {
    body = (await res.json()) as typeof body;
  } catch {
    throw new ApiError('INTERNAL', `${apiUrl} answered ${res.status} without a GraphQL body`, res.status);
  }
  const first = body.errors?.[0];
  if (first) throw new ApiError(first.extensions?.code ?? 'INTERNAL', first.message, res.status);
  if (!body.data) throw new ApiError('INTERNAL', `${apiUrl} answered ${res.status} without data`, res.status);
  return body.data;
}
