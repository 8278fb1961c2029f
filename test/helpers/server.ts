import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { pino } from 'pino';
import { mintToken } from '../../src/auth/jwt.ts';
import { type Config, loadConfig } from '../../src/config/index.ts';
import { ingestObject } from '../../src/files/ingest.ts';
import { type Runtime, startRuntime } from '../../src/runtime.ts';
import { createTestDatabase, type TestDatabase } from './pg.ts';

export const TEST_JWT_SECRET = 'test-secret-test-secret-test-secret-0123';

export interface TestServer extends AsyncDisposable {
  runtime: Runtime;
  config: Config;
  url: string;
  token(sub: string, opts?: { role?: 'admin' | 'user'; ttlMs?: number }): Promise<string>;
  /** Puts bytes into the store and ingests them as a READY file; returns its id. */
  addFile(name: string, bytes: Buffer, opts?: { chunkSize?: number; contentType?: string }): Promise<string>;
}

/**
 * Starts haul on port 0 against a fresh PostgreSQL database (default) or an in-memory PGlite,
 * with a temp folder store. Dispose it with `await using`.
 */
export async function startTestServer(
  opts: {
    db?: 'postgres' | 'pglite';
    role?: 'serve' | 'api';
    env?: Record<string, string>;
    /** Share another server's PostgreSQL database instead of creating one (not dropped on dispose). */
    databaseUrl?: string;
  } = {},
): Promise<TestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'haul-test-'));
  let pg: TestDatabase | undefined;
  if ((opts.db ?? 'postgres') === 'postgres' && !opts.databaseUrl) pg = await createTestDatabase();
  const databaseUrl = opts.databaseUrl ?? pg?.url;
  const config = loadConfig({
    HAUL_DATA_DIR: dir,
    HAUL_JWT_SECRET: TEST_JWT_SECRET,
    HAUL_SIGNING_KEYS: 'k1:signing-secret-0123456789',
    PORT: '0',
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    ...opts.env,
  });
  if (!databaseUrl) config.database = { kind: 'pglite', dir: 'memory://' };
  const runtime = await startRuntime(config, pino({ level: 'silent' }), { role: opts.role ?? 'serve' });
  let n = 0;
  return {
    runtime,
    config,
    url: runtime.baseUrl,
    token: (sub, o = {}) => mintToken(TEST_JWT_SECRET, { sub, role: o.role, ttlMs: o.ttlMs ?? 3_600_000 }),
    async addFile(name, bytes, o = {}) {
      const key = `test/${++n}-${name}`;
      await runtime.store.put(key, bytes);
      const f = await ingestObject(
        { prisma: runtime.db.prisma, store: runtime.store },
        { storageKey: key, name, contentType: o.contentType ?? 'application/octet-stream', chunkSize: o.chunkSize ?? 64 * 1024 },
      );
      return f.id;
    },
    async [Symbol.asyncDispose]() {
      await runtime.stop();
      await pg?.[Symbol.asyncDispose]();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface GraphQLResult<T> {
  status: number;
  data?: T | null;
  errors?: Array<{ message: string; extensions?: { code?: string } }>;
}

/** A plain GraphQL-over-HTTP client: POST application/json with a typed document. */
export async function gql<T, V>(
  url: string,
  token: string | undefined,
  doc: TypedDocumentNode<T, V>,
  variables?: V,
): Promise<GraphQLResult<T>> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query: print(doc), variables }),
  });
  return { status: res.status, ...((await res.json()) as Omit<GraphQLResult<T>, 'status'>) };
}

/** The first error code of a GraphQL result. */
export const codeOf = (r: GraphQLResult<unknown>) => r.errors?.[0]?.extensions?.code;

/** REST call with JSON in and out. */
export async function rest(url: string, token: string | undefined, method: string, path: string, body?: unknown) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, body: json };
}
