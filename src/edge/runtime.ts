import type { Logger } from 'pino';
import type { Config } from '../config/index.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import { openBlobStore } from '../storage/open.ts';
import { RESERVED_PREFIX } from '../storage/versions.ts';
import { CachedOrigin } from './cached-origin.ts';
import { createEdgeHandler, type EdgeHandlerOptions, type EdgeLimits } from './handler.ts';
import { createEdgeMetrics, metricsHandler } from './metrics.ts';
import type { Origin } from './origin.ts';
import { buildEdgeServer, type EdgeServer } from './server.ts';
import { Keyring } from './signing.ts';
import { SliceCache } from './slice-cache.ts';
import { StoreOrigin } from './store-origin.ts';
import { requireHop, UpstreamOrigin } from './upstream-origin.ts';

export interface EdgeRuntime {
  server: EdgeServer;
  store: BlobStore;
  origin: Origin;
  port: number;
  /** The base URL clients reach this edge on. */
  baseUrl: string;
  stop(): Promise<void>;
}

export interface EdgeRuntimeOptions {
  /**
   * Read from this haul edge (a shield) instead of the store: `haul edge --upstream URL`. The
   * shield verifies each forwarded signed URL on its own.
   */
  upstream?: string | undefined;
  /** Wraps the base origin (store or upstream), e.g. with the slice cache. Default: none. */
  origin?: ((base: Origin) => Origin) | undefined;
  limits?: EdgeLimits | undefined;
  onResponse?: EdgeHandlerOptions['onResponse'];
  /** More exact-path routes (e.g. `/metrics`). */
  routes?: Parameters<typeof buildEdgeServer>[0]['routes'];
}

/**
 * The composition root of `haul edge`: the keyring, the origin (the configured store, or an
 * upstream edge), the handler and its server. It needs no database: a signed URL carries all
 * the edge must know.
 */
export async function startEdgeRuntime(config: Config, log: Logger, opts: EdgeRuntimeOptions = {}): Promise<EdgeRuntime> {
  const store = await openBlobStore(config.storage);
  const edge = config.edge;
  const upstream = opts.upstream ? new UpstreamOrigin({ baseUrl: opts.upstream, hopSecret: edge.hopSecrets[0] }) : undefined;
  const base: Origin = upstream ?? new StoreOrigin(store);
  // The slice cache sits in front of whichever origin this tier has (docs/edge-cache.md).
  const metrics = createEdgeMetrics({ processMetrics: true });
  const cache =
    edge.cacheBytes > 0
      ? new SliceCache({
          maxBytes: edge.cacheBytes,
          sliceBytes: edge.sliceBytes,
          bypassBytes: edge.bypassBytes,
          onEvent: metrics.cacheEvent,
        })
      : undefined;
  const cached = cache ? new CachedOrigin(base, cache, { readAhead: edge.readAhead }) : base;
  const origin = opts.origin ? opts.origin(cached) : cached;
  const keyring = new Keyring(config.signing);
  const onResponse: EdgeHandlerOptions['onResponse'] = (info) => {
    metrics.response(info);
    opts.onResponse?.(info);
  };
  const plain = createEdgeHandler({ keyring, origin, log, limits: opts.limits, onResponse });
  // A shield answers only other edges: every /d/ request must carry a valid hop MAC.
  const handler = edge.requireHop ? requireHop(plain, edge.hopSecrets) : plain;
  const upstreamHealth = opts.upstream ? `${opts.upstream.replace(/\/+$/, '')}/healthz` : undefined;
  const server = buildEdgeServer({
    handler,
    log,
    routes: { '/metrics': metricsHandler(metrics.registry), ...opts.routes },
    readiness: upstreamHealth
      ? {
          upstream: async () => {
            const r = await fetch(upstreamHealth, { signal: AbortSignal.timeout(2000) });
            await r.body?.cancel();
            if (!r.ok) throw new Error(`upstream /healthz answered ${r.status}`);
          },
        }
      : {
          // Any answer (here: "no such object") proves the store is reachable and readable.
          storage: async () => void (await store.stat(`${RESERVED_PREFIX}ready`)),
        },
  });
  let port: number;
  try {
    port = await server.start(config.port, config.host);
  } catch (e) {
    await upstream?.[Symbol.asyncDispose]();
    throw e;
  }
  const shownHost = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  return {
    server,
    store,
    origin,
    port,
    baseUrl: `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`,
    async stop() {
      await server.stop();
      await upstream?.[Symbol.asyncDispose]();
    },
  };
}
