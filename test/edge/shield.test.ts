import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { CachedOrigin } from '../../src/edge/cached-origin.ts';
import type { ObjectRef } from '../../src/edge/origin.ts';
import { Keyring } from '../../src/edge/signing.ts';
import { SliceCache } from '../../src/edge/slice-cache.ts';
import { HOP_HEADER, isUpstreamError, signHop, UpstreamOrigin, verifyHop } from '../../src/edge/upstream-origin.ts';
import {
  countingOrigin,
  makeStore,
  randomFile,
  sha256,
  signedUrl,
  startMiniEdge,
  TEST_KEYRING_CONFIG,
  type TestStore,
} from './cache-fixtures.ts';

const S = 64 * 1024;
const HOP_SECRET = 'hop-secret-0123456789abcdef';
const keyring = new Keyring(TEST_KEYRING_CONFIG);

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, body };
}

/** store → shield (CachedOrigin over StoreOrigin, requires the hop) → edge (CachedOrigin over UpstreamOrigin). */
async function chain(ts: TestStore, opts: { edgeHeadTtlMs?: number } = {}) {
  const store = countingOrigin(ts.origin);
  const shieldOrigin = new CachedOrigin(store, new SliceCache({ sliceBytes: S }));
  const shield = await startMiniEdge({ keyring, origin: shieldOrigin, hopSecret: HOP_SECRET });
  const upstream = new UpstreamOrigin({ baseUrl: shield.url, hopSecret: HOP_SECRET });
  const edgeOrigin = new CachedOrigin(upstream, new SliceCache({ sliceBytes: S }), { headTtlMs: opts.edgeHeadTtlMs ?? 60_000 });
  const edge = await startMiniEdge({ keyring, origin: edgeOrigin });
  return {
    store,
    shield,
    shieldOrigin,
    edge,
    edgeOrigin,
    async [Symbol.asyncDispose]() {
      await edge[Symbol.asyncDispose]();
      await upstream.close();
      await shield[Symbol.asyncDispose]();
    },
  };
}

describe('edge → shield → store over real HTTP', () => {
  it('serves correct bytes with both tiers cold, then warm without any upstream request', async () => {
    await using ts = await makeStore();
    const file = randomFile(5 * S + 321);
    const ref = await ts.put('shield/one.bin', file);
    await using c = await chain(ts);

    const whole = await get(signedUrl(keyring, c.edge.url, ref));
    expect(whole.status).toBe(200);
    expect(sha256(whole.body)).toBe(ref.version);
    const part = await get(signedUrl(keyring, c.edge.url, ref, 7_000_000), { range: `bytes=${S - 5}-${3 * S + 9}` });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes ${S - 5}-${3 * S + 9}/${file.length}`);
    expect(part.body.equals(file.subarray(S - 5, 3 * S + 10))).toBe(true);
    const coldShieldRequests = c.shield.requests;
    expect(coldShieldRequests).toBe(1 + 6); // one HEAD, one GET per slice
    expect(c.store.reads).toHaveLength(6);

    // Warm: different signed URLs, different ranges; the edge answers alone.
    for (let i = 0; i < 10; i++) {
      const start = (i * 7919) % file.length;
      const r = await get(signedUrl(keyring, c.edge.url, ref, 100_000 + i), { range: `bytes=${start}-` });
      expect(r.status).toBe(206);
      expect(r.body.equals(file.subarray(start))).toBe(true);
    }
    expect(c.shield.requests).toBe(coldShieldRequests);
    expect(c.store.reads).toHaveLength(6);
    expect(c.edgeOrigin.cache.stats()).toMatchObject({ misses: 6, originBytes: file.length });
  });

  it('a cold edge over a warm shield reads nothing from the store', async () => {
    await using ts = await makeStore();
    const file = randomFile(3 * S);
    const ref = await ts.put('shield/warm-shield.bin', file);
    await using c = await chain(ts);
    expect(sha256((await get(signedUrl(keyring, c.edge.url, ref))).body)).toBe(ref.version);
    // A second edge, cold, in front of the same (now warm) shield.
    const upstream = new UpstreamOrigin({ baseUrl: c.shield.url, hopSecret: HOP_SECRET });
    await using edge2 = await startMiniEdge({ keyring, origin: new CachedOrigin(upstream, new SliceCache({ sliceBytes: S })) });
    const r = await get(signedUrl(keyring, edge2.url, ref, 999_000), { range: 'bytes=10-200000' });
    expect(r.body.equals(file.subarray(10, 200001))).toBe(true);
    expect(c.store.reads).toHaveLength(3);
    await upstream.close();
  });

  it('many clients with different signed URLs: each slice is read from the store once, and fetched by the edge once', async () => {
    await using ts = await makeStore();
    const file = randomFile(8 * S + 1);
    const ref = await ts.put('shield/crowd.bin', file);
    await using c = await chain(ts);
    const clients = Array.from({ length: 30 }, (_, i) => {
      const start = (i * 104_729) % file.length;
      const end = Math.min(file.length - 1, start + ((i * 31_337) % (3 * S)));
      return { url: signedUrl(keyring, c.edge.url, ref, 60_000 + i * 1000), start, end };
    });
    clients.push({ url: signedUrl(keyring, c.edge.url, ref, 5_000), start: 0, end: file.length - 1 });
    const results = await Promise.all(clients.map((cl) => get(cl.url, { range: `bytes=${cl.start}-${cl.end}` })));
    results.forEach((r, i) => {
      const cl = clients[i]!;
      expect(r.status).toBe(206);
      expect(r.body.equals(file.subarray(cl.start, cl.end + 1))).toBe(true);
    });
    const starts = c.store.reads.map((r) => r.start).sort((a, b) => a - b);
    expect(starts).toEqual(Array.from({ length: 9 }, (_, i) => i * S));
    expect(c.shieldOrigin.cache.stats().originBytes).toBe(file.length);
    expect(c.edgeOrigin.cache.stats()).toMatchObject({ misses: 9, originBytes: file.length });
  });

  it('never splices versions: a replaced object fails the old URL instead of mixing bytes', async () => {
    await using ts = await makeStore();
    const v1 = randomFile(4 * S);
    const ref = await ts.put('shield/replaced.bin', v1);
    await using c = await chain(ts, { edgeHeadTtlMs: 60_000 });
    // The edge caches slice 0 of v1 (and its head).
    expect((await get(signedUrl(keyring, c.edge.url, ref), { range: 'bytes=0-99' })).body.equals(v1.subarray(0, 100))).toBe(true);
    await new Promise((r) => setTimeout(r, 1100)); // past the shield's 1 s head and record caches
    const v2 = randomFile(4 * S);
    await ts.put('shield/replaced.bin', v2);
    // A cold range of the old version: refused before any byte.
    const cold = await get(signedUrl(keyring, c.edge.url, ref), { range: `bytes=${2 * S}-${2 * S + 9}` });
    expect(cold.status).toBe(410);
    // A range starting in the cached slice: the headers go out, then the body fails; what arrived is v1 only.
    const res = await fetch(signedUrl(keyring, c.edge.url, ref));
    expect(res.status).toBe(200);
    const received: Buffer[] = [];
    const reader = res.body!.getReader();
    await expect(
      (async () => {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          received.push(Buffer.from(value));
        }
      })(),
    ).rejects.toThrow();
    const got = Buffer.concat(received);
    expect(got.length).toBeLessThan(v1.length);
    expect(got.equals(v1.subarray(0, got.length))).toBe(true);
  });

  it('a URL that expires before the hop: the shield answers 403 URL_EXPIRED and the edge sees a typed UpstreamError', async () => {
    await using ts = await makeStore();
    const file = randomFile(1000);
    const ref = await ts.put('shield/expiring.bin', file);
    // The shield's clock is two hours ahead of the edge's.
    await using shield = await startMiniEdge({ keyring, origin: ts.origin, now: () => new Date(Date.now() + 7_200_000) });
    await using upstream = new UpstreamOrigin({ baseUrl: shield.url });
    await using edge = await startMiniEdge({ keyring, origin: new CachedOrigin(upstream, new SliceCache()) });
    const url = signedUrl(keyring, edge.url, ref, 3_600_000);
    const r = await get(url);
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body.toString()).error.code).toBe('URL_EXPIRED');
    const signedPath = new URL(url).pathname + new URL(url).search;
    const err = await upstream.read({ ...ref, signedPath }, { start: 0, end: 9 }).catch((e: unknown) => e);
    expect(isUpstreamError(err)).toBe(true);
    expect(err).toMatchObject({ status: 403, upstreamCode: 'URL_EXPIRED', code: 'FORBIDDEN' });
  });
});

describe('hop authentication', () => {
  it('a shield with a hop secret refuses requests without a valid X-Haul-Hop', async () => {
    await using ts = await makeStore();
    const file = randomFile(100);
    const ref = await ts.put('hop/a.bin', file);
    await using c = await chain(ts);
    const direct = signedUrl(keyring, c.shield.url, ref);
    const path = new URL(direct).pathname + new URL(direct).search;
    const code = async (headers: Record<string, string>) => {
      const r = await get(direct, headers);
      return r.status === 403 ? JSON.parse(r.body.toString()).error.code : r.status;
    };
    expect(await code({})).toBe('HOP_MISSING');
    expect(await code({ [HOP_HEADER]: 'nonsense' })).toBe('HOP_MALFORMED');
    expect(await code({ [HOP_HEADER]: signHop(path, 'wrong-secret-0123456789') })).toBe('HOP_BAD_MAC');
    expect(await code({ [HOP_HEADER]: signHop('/d/hop/other.bin', HOP_SECRET) })).toBe('HOP_BAD_MAC');
    expect(await code({ [HOP_HEADER]: signHop(path, HOP_SECRET, new Date(Date.now() - 300_000)) })).toBe('HOP_STALE');
    expect(await code({ [HOP_HEADER]: signHop(path, HOP_SECRET) })).toBe(200);

    // An edge with the wrong secret gets 403 from the shield, as a typed error.
    await using wrong = new UpstreamOrigin({ baseUrl: c.shield.url, hopSecret: 'not-the-hop-secret-000' });
    const ref2: ObjectRef = { ...ref, signedPath: path };
    await expect(wrong.head(ref2)).rejects.toMatchObject({ status: 403 });
    await expect(wrong.read(ref2, { start: 0, end: 9 })).rejects.toMatchObject({ status: 403, upstreamCode: 'HOP_BAD_MAC' });
    // The edge with the right secret serves the same URL.
    expect((await get(signedUrl(keyring, c.edge.url, ref))).body.equals(file)).toBe(true);
  });

  it('verifyHop accepts any of several secrets (rotation) and binds the exact path', () => {
    const req = (path: string, hop: string) => ({ url: path, headers: { [HOP_HEADER]: hop } as IncomingHttpHeaders });
    const hop = signHop('/d/x?v=1', 'old-secret-0123456789');
    expect(verifyHop(req('/d/x?v=1', hop), ['new-secret-0123456789', 'old-secret-0123456789'])).toEqual({ ok: true });
    expect(verifyHop(req('/d/x?v=2', hop), 'old-secret-0123456789')).toEqual({ ok: false, code: 'HOP_BAD_MAC' });
    expect(verifyHop({ url: '/d/x', headers: {} }, 'old-secret-0123456789')).toEqual({ ok: false, code: 'HOP_MISSING' });
  });
});

describe('UpstreamOrigin is strict about what the shield answers', () => {
  type Reply = (req: IncomingMessage, res: ServerResponse) => void;
  async function fakeShield(reply: Reply) {
    const seen: Array<{ method: string; url: string; headers: IncomingHttpHeaders }> = [];
    const server = createServer((req, res) => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
      reply(req, res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/prefix`;
    const origin = new UpstreamOrigin({ baseUrl: base, hopSecret: HOP_SECRET });
    return {
      seen,
      origin,
      async [Symbol.asyncDispose]() {
        await origin.close();
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
      },
    };
  }
  const V = 'c'.repeat(64);
  const ref: ObjectRef = { objectPath: 'x.bin', version: V, signedPath: '/d/x.bin?v=ccc&sig=s' };
  const send =
    (status: number, headers: Record<string, string>, body = ''): Reply =>
    (_req, res) => {
      res.writeHead(status, { 'content-length': String(Buffer.byteLength(body)), ...headers });
      res.end(body);
    };

  it('sends Range, If-Match and the hop on the forwarded path, and accepts an exact 206', async () => {
    await using f = await fakeShield(send(206, { 'content-range': 'bytes 2-5/10', etag: `"${V}"` }, 'abcd'));
    const body = await f.origin.read(ref, { start: 2, end: 5 });
    const chunks: Buffer[] = [];
    for await (const c of body) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('abcd');
    const req = f.seen[0]!;
    expect(req).toMatchObject({ method: 'GET', url: `/prefix${ref.signedPath}` });
    expect(req.headers).toMatchObject({ range: 'bytes=2-5', 'if-match': `"${V}"` });
    expect(verifyHop({ url: req.url, headers: req.headers }, HOP_SECRET)).toEqual({ ok: true });
  });

  it('accepts an end clipped to the size, refuses any other answer to a range', async () => {
    await using clipped = await fakeShield(send(206, { 'content-range': 'bytes 8-9/10' }, 'ij'));
    await expect(clipped.origin.read(ref, { start: 8, end: 20 })).resolves.toBeDefined();
    const cases: Array<[Reply, object]> = [
      [send(200, {}, '0123456789'), { status: 200 }],
      [send(206, { 'content-range': 'bytes 0-3/10' }, 'abcd'), { status: 0 }],
      [send(206, {}, 'abcd'), { status: 0 }],
      [send(206, { 'content-range': 'bytes 2-5/10', etag: `"${'d'.repeat(64)}"` }, 'abcd'), { status: 0 }],
      [send(412, {}), { code: 'NOT_FOUND' }],
      [send(410, {}), { code: 'NOT_FOUND' }],
      [send(404, {}), { code: 'NOT_FOUND' }],
      [send(416, { 'content-range': 'bytes */10' }), { code: 'BAD_USER_INPUT' }],
      [
        send(503, { 'content-type': 'application/json' }, '{"error":{"code":"UNAVAILABLE"}}'),
        { status: 503, code: 'UNAVAILABLE', upstreamCode: 'UNAVAILABLE' },
      ],
    ];
    for (const [reply, expected] of cases) {
      await using f = await fakeShield(reply);
      await expect(f.origin.read(ref, { start: 2, end: 5 })).rejects.toMatchObject(expected);
    }
  });

  it('maps HEAD answers: 200 → meta, 404 → null, 410 → version null, anything odd → UpstreamError', async () => {
    const lm = new Date('2026-02-03T04:05:06Z');
    {
      await using f = await fakeShield(
        send(200, { etag: `"${V}"`, 'last-modified': lm.toUTCString(), 'content-length': '1234' }),
      );
      expect(await f.origin.head(ref)).toEqual({ size: 1234, version: V, lastModified: lm });
      expect(f.seen[0]?.method).toBe('HEAD');
    }
    {
      await using f = await fakeShield(send(404, {}));
      expect(await f.origin.head(ref)).toBeNull();
    }
    {
      await using f = await fakeShield(send(410, {}));
      expect(await f.origin.head(ref)).toMatchObject({ version: null });
    }
    {
      await using f = await fakeShield(send(200, { etag: `W/"${V}"`, 'last-modified': lm.toUTCString() }));
      await expect(f.origin.head(ref)).rejects.toMatchObject({ status: 0 });
    }
  });

  it('a shield that breaks mid-slice fails the fill as UNAVAILABLE, and nothing is cached', async () => {
    const lm = new Date('2026-02-03T04:05:06Z').toUTCString();
    await using f = await fakeShield((req, res) => {
      if (req.method === 'HEAD') return send(200, { etag: `"${V}"`, 'last-modified': lm, 'content-length': '1000' })(req, res);
      res.writeHead(206, { 'content-range': 'bytes 0-999/1000', 'content-length': '1000', etag: `"${V}"` });
      res.write(Buffer.alloc(10));
      setTimeout(() => res.destroy(), 20);
    });
    const cached = new CachedOrigin(f.origin, new SliceCache());
    await expect(cached.read(ref, { start: 0, end: 99 })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(cached.cache.stats()).toMatchObject({ slices: 0, misses: 1 });
  });

  it('a shield that is down is an UpstreamError with status 0', async () => {
    const origin = new UpstreamOrigin({ baseUrl: 'http://127.0.0.1:1' });
    await expect(origin.head(ref)).rejects.toMatchObject({ status: 0, code: 'UNAVAILABLE' });
    await origin.close();
  });
});
