import { describe, expect, it } from 'vitest';
import { startTestServer } from '../helpers/server.ts';

const REDIS_URL = process.env.HAUL_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * Redis that is down: port 1 is privileged and never handed out by bind(0). (An ephemeral port
 * bound and released here could be bound again at once by a test running alongside.)
 */
const DEAD_REDIS = 'redis://127.0.0.1:1';

describe('health and readiness', () => {
  it('is live and ready on PostgreSQL and Redis, without a token', async () => {
    await using srv = await startTestServer({ role: 'api', env: { REDIS_URL } });
    const live = await fetch(`${srv.url}/healthz`);
    expect(live.status).toBe(200);
    // Redis may still be connecting right after start; readiness settles within a second.
    let body: any;
    for (let i = 0; i < 20; i++) {
      const r = await fetch(`${srv.url}/readyz`);
      body = await r.json();
      if (r.status === 200) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    expect(body).toEqual({ status: 'ready', checks: { database: 'ok', redis: 'ok' } });
  });

  it('starts and serves the API with Redis down, and reports not ready', async () => {
    await using srv = await startTestServer({
      db: 'pglite',
      role: 'api',
      env: { REDIS_URL: DEAD_REDIS },
    });
    const r = await fetch(`${srv.url}/readyz`);
    expect(r.status).toBe(503);
    const body = (await r.json()) as any;
    expect(body.status).toBe('unavailable');
    expect(body.checks.database).toBe('ok');
    expect(body.checks.redis).not.toBe('ok');
    const fileId = await srv.addFile('x.bin', Buffer.alloc(10));
    const api = await fetch(`${srv.url}/downloads`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await srv.token('alice')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ file_id: fileId }),
    });
    expect(api.status).toBe(201);
  });

  it('echoes a sane X-Request-Id and replaces an insane one', async () => {
    await using srv = await startTestServer({ db: 'pglite', role: 'api' });
    const given = await fetch(`${srv.url}/healthz`, { headers: { 'x-request-id': 'trace-42' } });
    expect(given.headers.get('x-request-id')).toBe('trace-42');
    const bad = await fetch(`${srv.url}/healthz`, { headers: { 'x-request-id': 'a b\tc' } });
    expect(bad.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});
