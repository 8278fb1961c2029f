import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { CachedOrigin } from '../../src/edge/cached-origin.ts';
import { createEdgeMetrics, metricsHandler, withMetrics } from '../../src/edge/metrics.ts';
import type { Origin } from '../../src/edge/origin.ts';
import { Keyring } from '../../src/edge/signing.ts';
import { SliceCache } from '../../src/edge/slice-cache.ts';
import { makeStore, randomFile, signedUrl, startMiniEdge, TEST_KEYRING_CONFIG } from './cache-fixtures.ts';

const S = 64 * 1024;
const keyring = new Keyring(TEST_KEYRING_CONFIG);

/** The value of one sample line (`name{labels} value`) of a Prometheus text exposition, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function scrape(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text();
}

describe('edge metrics', () => {
  it('exposes every metric at /metrics, and the counters follow requests and the cache', async () => {
    await using ts = await makeStore();
    const file = randomFile(3 * S);
    const ref = await ts.put('m/file.bin', file);
    const metrics = createEdgeMetrics();
    const cache = new SliceCache({ sliceBytes: S, maxBytes: 2 * S, bypassBytes: 1 << 30, onEvent: metrics.cacheEvent });
    await using edge = await startMiniEdge({
      keyring,
      origin: new CachedOrigin(ts.origin, cache),
      wrap: (h) => withMetrics(h, metrics),
      routes: { '/metrics': metricsHandler(metrics.registry) },
    });

    const before = await scrape(edge.url);
    for (const name of [
      'haul_edge_requests_total',
      'haul_edge_bytes_served_total',
      'haul_edge_origin_bytes_total',
      'haul_edge_cache_hits_total',
      'haul_edge_cache_misses_total',
      'haul_edge_cache_coalesced_total',
      'haul_edge_cache_evictions_total',
      'haul_edge_cache_bypass_total',
      'haul_edge_cache_bytes',
      'haul_edge_ttfb_seconds',
    ])
      expect(before).toContain(`# TYPE ${name} `);
    expect(sample(before, 'haul_edge_bytes_served_total')).toBe(0);

    const url = signedUrl(keyring, edge.url, ref);
    const whole = await fetch(url);
    expect(Buffer.from(await whole.arrayBuffer()).equals(file)).toBe(true); // 3 misses, 1 eviction
    const part = await fetch(url, { headers: { range: `bytes=${2 * S}-${2 * S + 9}` } }); // slice 2: a hit
    expect(part.status).toBe(206);
    await part.arrayBuffer();
    const head = await fetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    const bad = await fetch(url.replace(/sig=[^&]+/, 'sig=AAAA'));
    expect(bad.status).toBe(403);
    await bad.arrayBuffer();

    const text = await scrape(edge.url);
    expect(sample(text, 'haul_edge_requests_total{status="200"}')).toBe(2);
    expect(sample(text, 'haul_edge_requests_total{status="206"}')).toBe(1);
    expect(sample(text, 'haul_edge_requests_total{status="403"}')).toBe(1);
    // Body bytes: the file, the 10-byte range and the 403's JSON; the HEAD sends none.
    const refusalBytes = Buffer.byteLength(
      JSON.stringify({ error: { code: 'URL_BAD_SIGNATURE', message: 'URL_BAD_SIGNATURE' } }),
    );
    expect(sample(text, 'haul_edge_bytes_served_total')).toBe(3 * S + 10 + refusalBytes);
    expect(sample(text, 'haul_edge_origin_bytes_total')).toBe(3 * S);
    expect(sample(text, 'haul_edge_cache_misses_total')).toBe(3);
    expect(sample(text, 'haul_edge_cache_hits_total')).toBe(1);
    expect(sample(text, 'haul_edge_cache_evictions_total')).toBe(1);
    expect(sample(text, 'haul_edge_cache_bytes')).toBe(2 * S);
    expect(sample(text, 'haul_edge_ttfb_seconds_count')).toBe(4);
    expect(sample(text, 'haul_edge_ttfb_seconds_bucket{le="+Inf"}')).toBe(4);
  });

  it('counts a bypassed read, and a client that leaves before the response as 499', async () => {
    await using ts = await makeStore();
    const file = randomFile(2 * S);
    const ref = await ts.put('m/big.bin', file);
    const metrics = createEdgeMetrics();
    const cache = new SliceCache({ sliceBytes: S, bypassBytes: S, onEvent: metrics.cacheEvent });
    let stall = false;
    const stalling: Origin = {
      head: async (r, s) => {
        if (stall) await sleep(300);
        return ts.origin.head(r, s);
      },
      read: (r, range, s) => ts.origin.read(r, range, s),
    };
    await using edge = await startMiniEdge({
      keyring,
      origin: new CachedOrigin(stalling, cache, { headTtlMs: 0 }),
      wrap: (h) => withMetrics(h, metrics),
      routes: { '/metrics': metricsHandler(metrics.registry) },
    });
    const url = signedUrl(keyring, edge.url, ref);
    expect(Buffer.from(await (await fetch(url)).arrayBuffer()).equals(file)).toBe(true);
    stall = true;
    const ctl = new AbortController();
    const gone = fetch(url, { signal: ctl.signal }).catch(() => 'aborted');
    await sleep(50);
    ctl.abort();
    expect(await gone).toBe('aborted');
    await sleep(400);
    const text = await scrape(edge.url);
    expect(sample(text, 'haul_edge_cache_bypass_total')).toBe(1);
    expect(sample(text, 'haul_edge_origin_bytes_total')).toBe(2 * S);
    expect(sample(text, 'haul_edge_cache_bytes')).toBe(0);
    expect(sample(text, 'haul_edge_requests_total{status="499"}')).toBe(1);
  });

  it('several edges in one process keep separate registries; process metrics are opt-in', async () => {
    const a = createEdgeMetrics();
    const b = createEdgeMetrics({ processMetrics: true, labels: { tier: 'shield' } });
    a.request(200);
    a.bytesServed(5);
    b.request(200);
    b.request(200);
    const ta = await a.registry.metrics();
    const tb = await b.registry.metrics();
    expect(sample(ta, 'haul_edge_requests_total{status="200"}')).toBe(1);
    expect(sample(tb, 'haul_edge_requests_total{status="200",tier="shield"}')).toBe(2);
    expect(ta).not.toContain('process_cpu');
    expect(tb).toContain('process_cpu_user_seconds_total');
  });

  it('records what the handler reports through onResponse', async () => {
    const m = createEdgeMetrics();
    m.response({ status: 206, bytes: 1000, headersMs: 3, aborted: false });
    m.response({ status: 200, bytes: 50, headersMs: 2000, aborted: true });
    m.response({ status: 200, bytes: 0, headersMs: undefined, aborted: true });
    const text = await m.registry.metrics();
    expect(sample(text, 'haul_edge_requests_total{status="206"}')).toBe(1);
    expect(sample(text, 'haul_edge_requests_total{status="200"}')).toBe(1);
    expect(sample(text, 'haul_edge_requests_total{status="499"}')).toBe(1);
    expect(sample(text, 'haul_edge_bytes_served_total')).toBe(1050);
    expect(sample(text, 'haul_edge_ttfb_seconds_count')).toBe(2);
    expect(sample(text, 'haul_edge_ttfb_seconds_bucket{le="0.005"}')).toBe(1);
  });
});
