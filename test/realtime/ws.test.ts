import { print } from 'graphql';
import { type Client, createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { DownloadSessionDocument, StartDownloadDocument } from '../../src/client/generated/graphql.ts';
import { gql, startTestServer, type TestServer } from '../helpers/server.ts';

let srv: TestServer;
let sessionId: string;
const clients: Client[] = [];

function wsClient(connectionParams: Record<string, unknown> | undefined) {
  const client = createClient({
    url: `${srv.url.replace('http', 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams,
    retryAttempts: 0,
    lazy: true,
  });
  clients.push(client);
  return client;
}

/** Runs one operation over graphql-ws; resolves with its result, or rejects with the close event. */
function run(client: Client, query: string, variables: Record<string, unknown>) {
  return new Promise<{ data?: any; errors?: any[] }>((resolve, reject) => {
    let result: { data?: any; errors?: any[] } = {};
    client.subscribe(
      { query, variables },
      {
        next: (r) => {
          result = r as typeof result;
        },
        error: (e) => (Array.isArray(e) ? resolve({ errors: e }) : reject(e)),
        complete: () => resolve(result),
      },
    );
  });
}

beforeAll(async () => {
  srv = await startTestServer({ db: 'pglite' });
  const fileId = await srv.addFile('ws.bin', Buffer.alloc(200_000, 7));
  const r = await gql(srv.url, await srv.token('alice'), StartDownloadDocument, { fileId, clientId: 'laptop' });
  sessionId = r.data!.startDownload.session.id;
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  await srv?.[Symbol.asyncDispose]();
});

describe('GraphQL over WebSocket (graphql-ws) on /graphql', () => {
  it('runs an operation with the token from connectionParams', async () => {
    const client = wsClient({ authorization: `Bearer ${await srv.token('alice')}` });
    const r = await run(client, print(DownloadSessionDocument), { id: sessionId });
    expect(r.errors).toBeUndefined();
    expect(r.data.downloadSession).toMatchObject({ id: sessionId, status: 'ACTIVE', totalBytes: 200_000 });
  });

  it('applies the same ownership check as HTTP', async () => {
    const client = wsClient({ token: await srv.token('bob') });
    const r = await run(client, print(DownloadSessionDocument), { id: sessionId });
    expect(r.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it('closes a connection without a valid token with 4403', async () => {
    for (const params of [undefined, { token: 'not-a-jwt' }]) {
      const client = wsClient(params);
      const err = await run(client, print(DownloadSessionDocument), { id: sessionId }).then(
        () => undefined,
        (e: { code?: number }) => e,
      );
      expect(err?.code).toBe(4403);
    }
  });
});
