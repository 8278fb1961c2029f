import { describe, expect, it } from 'vitest';
import { DownloadSessionDocument, StartDownloadDocument } from '../../src/client/generated/graphql.ts';
import { createTestDatabase, PG_ADMIN_URL } from '../helpers/pg.ts';
import { codeOf, gql, rest, startTestServer } from '../helpers/server.ts';
import { startTcpProxy } from '../helpers/tcp-proxy.ts';

describe('PostgreSQL down', () => {
  it('calls fail fast with the retryable UNAVAILABLE, the process keeps serving, and recovers', async () => {
    await using db = await createTestDatabase();
    const pgUrl = new URL(PG_ADMIN_URL);
    const proxy = await startTcpProxy({ host: pgUrl.hostname, port: Number(pgUrl.port || 5432) });
    const viaProxy = new URL(db.url);
    viaProxy.port = String(proxy.port);
    try {
      await using srv = await startTestServer({ role: 'api', databaseUrl: viaProxy.toString() });
      const token = await srv.token('alice');
      const fileId = await srv.addFile('x.bin', Buffer.alloc(1000, 1));
      const id = (await gql(srv.url, token, StartDownloadDocument, { fileId })).data!.startDownload.session.id;

      await proxy.down();
      const started = Date.now();
      const r = await gql(srv.url, token, DownloadSessionDocument, { id });
      expect(codeOf(r)).toBe('UNAVAILABLE');
      expect(r.errors?.[0]?.extensions).toMatchObject({ retryable: true });
      const viaRest = await rest(srv.url, token, 'GET', `/downloads/${id}`);
      expect(viaRest.status).toBe(503);
      expect(viaRest.body.error.code).toBe('UNAVAILABLE');
      expect(Date.now() - started).toBeLessThan(10_000);
      expect((await fetch(`${srv.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${srv.url}/readyz`)).status).toBe(503);

      await proxy.up();
      await expect
        .poll(async () => (await gql(srv.url, token, DownloadSessionDocument, { id })).data?.downloadSession.status, {
          timeout: 15_000,
          interval: 500,
        })
        .toBe('ACTIVE');
    } finally {
      await proxy.close();
    }
  });
});
