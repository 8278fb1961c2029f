/**
 * The standalone edge's HTTP server (`haul edge`): signed downloads under `/d/`, `/healthz`,
 * `/readyz`, and any extra routes a tier adds (metrics). No process-level side effects; the
 * composition lives in `edge/runtime.ts`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { EdgeHandler } from './handler.ts';

export interface EdgeServerDeps {
  handler: EdgeHandler;
  log?: Logger | undefined;
  /** Readiness probes (the store, an upstream); each throws when not ready. */
  readiness?: Record<string, () => Promise<void>> | undefined;
  /** More exact-path routes, e.g. `/metrics`. */
  routes?: Record<string, (req: IncomingMessage, res: ServerResponse) => void> | undefined;
  /**
   * Largest request head (request line and headers) accepted, in bytes; Node answers a larger
   * one with 431 and closes the connection. Default 16 KiB (Node's own default).
   */
  maxHeaderBytes?: number | undefined;
}

export interface EdgeServer {
  server: Server;
  /** Listens; resolves with the bound port (0 picks a free one). */
  start(port: number, host?: string): Promise<number>;
  /** Stops accepting, lets in-flight downloads finish (up to `graceMs`), then closes. */
  stop(graceMs?: number): Promise<void>;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

export function buildEdgeServer(deps: EdgeServerDeps): EdgeServer {
  const { handler, log } = deps;
  const readiness = deps.readiness ?? {};
  const routes = deps.routes ?? {};

  async function ready(res: ServerResponse): Promise<void> {
    const checks: Record<string, string> = {};
    let ok = true;
    await Promise.all(
      Object.entries(readiness).map(async ([name, probe]) => {
        try {
          await probe();
          checks[name] = 'ok';
        } catch (e) {
          ok = false;
          checks[name] = e instanceof Error ? e.message : 'failed';
        }
      }),
    );
    sendJson(res, ok ? 200 : 503, { status: ok ? 'ready' : 'unavailable', checks });
  }

  const server = createServer({ maxHeaderSize: deps.maxHeaderBytes ?? 16 * 1024 }, (req, res) => {
    const url = req.url ?? '/';
    // Downloads first, without splitting the URL: the path starts with /d/ exactly when the target does.
    if (url.startsWith('/d/')) return handler(req, res);
    const path = url.split('?')[0] ?? '/';
    if (path === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (path === '/readyz') {
      ready(res).catch((err: unknown) => {
        log?.error({ err }, 'edge: readiness check failed');
        if (!res.headersSent) sendJson(res, 500, { status: 'error' });
      });
      return;
    }
    const route = routes[path];
    if (route) return route(req, res);
    sendJson(res, 404, { error: { code: 'NOT_FOUND', message: 'no such route' } });
  });
  // Slow-loris protection: request heads must arrive within 15 s, whole requests within 30 s
  // (downloads have no request body, so this never cuts a response short).
  server.headersTimeout = 15_000;
  server.requestTimeout = 30_000;

  return {
    server,
    start: (port, host = '127.0.0.1') =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve((server.address() as AddressInfo).port);
        });
      }),
    stop: (graceMs = 10_000) =>
      new Promise<void>((resolve) => {
        const force = setTimeout(() => server.closeAllConnections(), graceMs);
        force.unref();
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
