/**
 * Edge metrics in Prometheus text format (issue 3 part 8). Each edge gets its own prom-client
 * Registry, never the global one, so several edges (an edge and its shield in one test process,
 * say) do not collide.
 *
 * | metric                              | type      | what                                                        |
 * |-------------------------------------|-----------|-------------------------------------------------------------|
 * | `haul_edge_requests_total{status}`  | counter   | responses by status; `499` when the client left before any  |
 * | `haul_edge_bytes_served_total`      | counter   | body bytes written to clients                               |
 * | `haul_edge_origin_bytes_total`      | counter   | bytes read from the inner origin (store or shield)          |
 * | `haul_edge_cache_hits_total`        | counter   | slice lookups served from the cache                         |
 * | `haul_edge_cache_misses_total`      | counter   | slice misses that started an origin read                    |
 * | `haul_edge_cache_coalesced_total`   | counter   | slice misses that joined a read in progress                 |
 * | `haul_edge_cache_evictions_total`   | counter   | slices evicted to hold the byte budget                      |
 * | `haul_edge_cache_bypass_total`      | counter   | reads of files above the bypass size                        |
 * | `haul_edge_cache_bytes`             | gauge     | bytes held by the slice cache                               |
 * | `haul_edge_ttfb_seconds`            | histogram | request arrival → first response byte (headers) written     |
 *
 * Wiring: `new SliceCache({ onEvent: metrics.cacheEvent })`, `createEdgeHandler({ onResponse:
 * metrics.response })` (or `withMetrics(handler, metrics)` around a handler without that hook),
 * and `metricsHandler(metrics.registry)` on `GET /metrics`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { SliceCacheEvent } from './slice-cache.ts';

export interface EdgeMetricsOptions {
  /** Also collect Node's process metrics (`process_*`, `nodejs_*`) into this registry. Default false. */
  processMetrics?: boolean | undefined;
  /** TTFB histogram buckets, seconds. Default 1 ms … 10 s. */
  ttfbBuckets?: number[] | undefined;
  /** Labels on every metric of this registry, e.g. `{ tier: 'shield' }`. Default none. */
  labels?: Record<string, string> | undefined;
}

/** Typed recorders over one registry. Every function is bound: pass them around freely. */
export interface EdgeMetrics {
  readonly registry: Registry;
  /** Counts one finished request by status. */
  request(status: number | string): void;
  bytesServed(bytes: number): void;
  originBytes(bytes: number): void;
  ttfb(seconds: number): void;
  /** The SliceCache `onEvent` hook. */
  cacheEvent(e: SliceCacheEvent): void;
  /**
   * Records one finished response as the edge handler reports it (`onResponse`): status (499
   * when the client left before the headers), body bytes and time to first byte.
   */
  response(info: EdgeResponseSample): void;
  /**
   * Instruments one response by watching its writes: TTFB at the first write, body bytes, and
   * its status when it closes. For handlers without an `onResponse` hook (see `withMetrics`).
   */
  observe(req: IncomingMessage, res: ServerResponse): void;
}

/** What `EdgeMetrics.response` needs; the handler's `EdgeResponseInfo` fits. */
export interface EdgeResponseSample {
  status: number;
  /** Body bytes handed to the socket. */
  bytes: number;
  /** Milliseconds from the request to its response headers; undefined when none were sent. */
  headersMs: number | undefined;
  /** The response ended before its whole body was sent. */
  aborted: boolean;
}

export const DEFAULT_TTFB_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** nginx's convention for "the client closed the connection before a response". */
const CLIENT_CLOSED = 499;

export function createEdgeMetrics(opts: EdgeMetricsOptions = {}): EdgeMetrics {
  const registry = new Registry();
  if (opts.labels) registry.setDefaultLabels(opts.labels);
  if (opts.processMetrics) collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const requests = new Counter({
    name: 'haul_edge_requests_total',
    help: 'Edge responses by HTTP status (499: client left before the response).',
    labelNames: ['status'] as const,
    registers,
  });
  const served = new Counter({ name: 'haul_edge_bytes_served_total', help: 'Body bytes written to clients.', registers });
  const origin = new Counter({
    name: 'haul_edge_origin_bytes_total',
    help: 'Bytes read from the inner origin (object store or shield).',
    registers,
  });
  const hits = new Counter({ name: 'haul_edge_cache_hits_total', help: 'Slice lookups served from the cache.', registers });
  const misses = new Counter({
    name: 'haul_edge_cache_misses_total',
    help: 'Slice misses that started an origin read.',
    registers,
  });
  const coalesced = new Counter({
    name: 'haul_edge_cache_coalesced_total',
    help: 'Slice misses that joined an origin read already in progress.',
    registers,
  });
  const evictions = new Counter({
    name: 'haul_edge_cache_evictions_total',
    help: 'Slices evicted to hold the cache byte budget.',
    registers,
  });
  const bypass = new Counter({
    name: 'haul_edge_cache_bypass_total',
    help: 'Reads of files above the cache bypass size.',
    registers,
  });
  const cachedBytes = new Gauge({ name: 'haul_edge_cache_bytes', help: 'Bytes held by the slice cache.', registers });
  const ttfbHist = new Histogram({
    name: 'haul_edge_ttfb_seconds',
    help: 'Time from request arrival to the first response byte written.',
    buckets: opts.ttfbBuckets ?? DEFAULT_TTFB_BUCKETS,
    registers,
  });

  const request = (status: number | string) => requests.inc({ status: String(status) });
  const bytesServed = (bytes: number) => served.inc(bytes);
  const originBytes = (bytes: number) => origin.inc(bytes);
  const ttfb = (seconds: number) => ttfbHist.observe(seconds);

  const cacheEvent = (e: SliceCacheEvent): void => {
    switch (e.type) {
      case 'hit':
        hits.inc();
        break;
      case 'miss':
        misses.inc();
        break;
      case 'coalesced':
        coalesced.inc();
        break;
      case 'evict':
        evictions.inc();
        cachedBytes.set(e.cachedBytes);
        break;
      case 'insert':
        cachedBytes.set(e.cachedBytes);
        break;
      case 'origin':
        origin.inc(e.bytes);
        break;
      case 'bypass':
        bypass.inc();
        break;
    }
  };

  const response = (info: EdgeResponseSample): void => {
    request(info.headersMs === undefined && info.aborted ? CLIENT_CLOSED : info.status);
    if (info.bytes > 0) served.inc(info.bytes);
    if (info.headersMs !== undefined) ttfb(info.headersMs / 1000);
  };

  const observe = (req: IncomingMessage, res: ServerResponse): void => {
    const started = process.hrtime.bigint();
    const countBody = req.method !== 'HEAD';
    let firstByte = false;
    const mark = (chunk: unknown, encoding: unknown) => {
      if (!firstByte) {
        firstByte = true;
        ttfb(Number(process.hrtime.bigint() - started) / 1e9);
      }
      if (!countBody || chunk === undefined || chunk === null || typeof chunk === 'function') return;
      const n =
        typeof chunk === 'string'
          ? Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8')
          : (chunk as Uint8Array).byteLength;
      if (n > 0) served.inc(n);
    };
    // Node flushes the headers with the first write() or end(), so that is the first byte.
    const write = res.write as (...args: unknown[]) => boolean;
    const end = res.end as (...args: unknown[]) => ServerResponse;
    res.write = function (this: ServerResponse, ...args: unknown[]) {
      mark(args[0], args[1]);
      return write.apply(this, args);
    } as ServerResponse['write'];
    res.end = function (this: ServerResponse, ...args: unknown[]) {
      mark(args[0], args[1]);
      return end.apply(this, args);
    } as ServerResponse['end'];
    res.once('close', () => request(res.headersSent ? res.statusCode : CLIENT_CLOSED));
  };

  return { registry, request, bytesServed, originBytes, ttfb, cacheEvent, response, observe };
}

/** Wraps a request handler so every response it makes is measured. */
export function withMetrics<H extends (req: IncomingMessage, res: ServerResponse) => void>(handler: H, metrics: EdgeMetrics): H {
  return ((req: IncomingMessage, res: ServerResponse) => {
    metrics.observe(req, res);
    handler(req, res);
  }) as H;
}

/** `GET /metrics` (and HEAD): the registry in Prometheus text format. */
export function metricsHandler(registry: Registry): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-length': '0' });
      res.end();
      return;
    }
    registry.metrics().then(
      (text) => {
        res.writeHead(200, {
          'content-type': registry.contentType,
          'content-length': Buffer.byteLength(text),
          'cache-control': 'no-store',
        });
        res.end(text);
      },
      () => {
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
        res.end('metrics collection failed\n');
      },
    );
  };
}
