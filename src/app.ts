import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import { type Authenticator, bearerToken, type Viewer } from './auth/jwt.ts';
import { asUnavailable, HaulError, isHaulError } from './errors.ts';
import type { Services } from './graphql/context.ts';
import { createGraphQLHandler } from './graphql/yoga.ts';
import { readBody, sendError, sendJson } from './http/io.ts';
import { attachGraphQLWebSocket } from './realtime/ws.ts';
import { handleDownloads } from './rest/downloads.ts';

export interface AppDeps extends Services {
  log: Logger;
  auth: Authenticator;
  limits: { maxDepth: number; maxAliases: number; maxBodyBytes: number; wsKeepAliveMs?: number };
  /** Readiness probes (database, Redis when configured); each throws when not ready. */
  readiness: Record<string, () => Promise<void>>;
  /** The data plane mounted on the same port (`haul serve`), for paths under /d/. */
  edge?: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
}

export interface App {
  server: Server;
  /** Listens; resolves with the bound port (0 picks a free one). */
  start(port: number, host?: string): Promise<number>;
  /** Stops accepting, lets in-flight requests finish (up to `graceMs`), then closes. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * A body refused part-way (413) leaves the rest of it unread on the connection, and a keep-alive
 * client that reuses that connection would hang: answer, then close it (RFC 9110 §15.5.14).
 */
function closeAfterRefusedBody(res: ServerResponse, e: HaulError): void {
  if (e.code === 'PAYLOAD_TOO_LARGE') res.setHeader('connection', 'close');
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** Builds the HTTP app: GraphQL, REST, health, and the edge when mounted. No process side effects. */
export function buildApp(deps: AppDeps): App {
  const yoga = createGraphQLHandler({
    limits: deps.limits,
    onUnexpected: (e) => deps.log.error({ err: e }, 'unexpected error in GraphQL'),
  });

  async function authenticate(req: IncomingMessage): Promise<Viewer> {
    const token = bearerToken(req.headers.authorization);
    if (!token) throw new HaulError('UNAUTHENTICATED', 'missing Authorization: Bearer token');
    return deps.auth.verify(token);
  }

  async function graphql(req: IncomingMessage, res: ServerResponse, viewer: Viewer, log: Logger, requestId: string) {
    const method = req.method ?? 'GET';
    const body = method === 'POST' ? await readBody(req, deps.limits.maxBodyBytes) : undefined;
    // yoga's own Fetch API (a Node ponyfill): its Request keeps a buffered body as a buffer, where
    // the global Request wraps it in a web stream; per request that was a visible share of CPU and GC.
    const { Headers, Request } = yoga.fetchAPI;
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers.set(k, v);
    const response = await yoga.fetch(
      new Request(`http://localhost${req.url ?? '/'}`, {
        method,
        headers,
        body: body?.length ? new Uint8Array(body) : undefined,
      }),
      { viewer, log, requestId, sessions: deps.sessions, files: deps.files, events: deps.events, ingest: deps.ingest },
    );
    const h: Record<string, string> = {};
    response.headers.forEach((v, k) => {
      h[k] = v;
    });
    const streaming = /^(text\/event-stream|multipart\/mixed)/.test(response.headers.get('content-type') ?? '');
    if (!streaming || !response.body) {
      const out = Buffer.from(await response.arrayBuffer());
      h['content-length'] = String(out.length);
      res.writeHead(response.status, h);
      res.end(out);
      return;
    }
    // Subscriptions over SSE (and incremental delivery) stream until either side ends them.
    res.writeHead(response.status, h);
    res.flushHeaders();
    // yoga's Response may be a ponyfill whose body is not a native web stream: iterate it.
    const stream = Readable.from(response.body as unknown as AsyncIterable<Uint8Array>, { objectMode: false });
    await pipeline(stream, res).catch((e: unknown) => log.debug({ err: e instanceof Error ? e.message : e }, 'stream ended'));
  }

  async function route(req: IncomingMessage, res: ServerResponse, log: Logger, requestId: string): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    if (path === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (path === '/readyz') {
      const checks: Record<string, string> = {};
      let ok = true;
      await Promise.all(
        Object.entries(deps.readiness).map(async ([name, probe]) => {
          try {
            await probe();
            checks[name] = 'ok';
          } catch (e) {
            ok = false;
            checks[name] = e instanceof Error ? e.message : 'failed';
          }
        }),
      );
      return sendJson(res, ok ? 200 : 503, { status: ok ? 'ready' : 'unavailable', checks });
    }
    if (path.startsWith('/d/') && deps.edge) return deps.edge(req, res);
    if (path === '/graphql') {
      try {
        await graphql(req, res, await authenticate(req), log, requestId);
      } catch (e) {
        if (!isHaulError(e) || res.headersSent) throw e;
        closeAfterRefusedBody(res, e);
        // GraphQL clients expect a GraphQL-shaped error body (401, 413…), with the code's status.
        sendJson(
          res,
          e.httpStatus,
          { errors: [{ message: e.message, extensions: { code: e.code } }] },
          e.code === 'UNAUTHENTICATED' ? { 'www-authenticate': 'Bearer' } : {},
        );
      }
      return;
    }
    if (path === '/downloads' || path.startsWith('/downloads/')) {
      const viewer = await authenticate(req);
      const handled = await handleDownloads(req, res, path, {
        viewer,
        sessions: deps.sessions,
        maxBodyBytes: deps.limits.maxBodyBytes,
      });
      // A path under /downloads that is none of its routes (e.g. /downloads/x/y) must still be answered.
      if (!handled) throw new HaulError('NOT_FOUND', `no route for ${path}`);
      return;
    }
    throw new HaulError('NOT_FOUND', `no route for ${path}`);
  }

  const server = createServer((req, res) => {
    const started = process.hrtime.bigint();
    const given = req.headers['x-request-id'];
    const requestId = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    const log = deps.log.child({ reqId: requestId });
    res.setHeader('x-request-id', requestId);
    res.on('finish', () => {
      // Paths only: query strings of signed URLs carry signatures and are never logged.
      const path = (req.url ?? '/').split('?')[0];
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      log.info({ method: req.method, path, status: res.statusCode, ms: Math.round(ms * 10) / 10 }, 'request');
    });
    route(req, res, log, requestId).catch((e: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (isHaulError(e)) {
        closeAfterRefusedBody(res, e);
        return sendError(res, e);
      }
      log.error({ err: e }, 'unexpected error');
      const unavailable = asUnavailable(e);
      if (unavailable) return sendError(res, unavailable);
      sendError(res, new HaulError('INTERNAL', 'unexpected error'));
    });
  });
  const ws = attachGraphQLWebSocket({
    server,
    yoga,
    auth: deps.auth,
    services: { sessions: deps.sessions, files: deps.files, events: deps.events, ingest: deps.ingest },
    log: deps.log,
    keepAliveMs: deps.limits.wsKeepAliveMs,
  });
  // Slow-loris protection: a request must arrive whole within 30 s.
  server.requestTimeout = 30_000;
  server.headersTimeout = 15_000;

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
    stop: async (graceMs = 10_000) => {
      await ws.close();
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => server.closeAllConnections(), graceMs);
        force.unref();
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      });
    },
  };
}
