import type { Server } from 'node:http';
import type { ExecutionArgs } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import type { YogaServerInstance } from 'graphql-yoga';
import type { Logger } from 'pino';
import { type WebSocket, WebSocketServer } from 'ws';
import { type Authenticator, bearerToken, type Viewer } from '../auth/jwt.ts';
import type { Context, Services } from '../graphql/context.ts';

/** Keep-alive pings go out in this many slices per interval. */
const PING_BUCKETS = 16;

/** What a WebSocket connection carries once `onConnect` has authenticated it. */
type ConnectionExtra = {
  viewer?: Viewer;
};

type Enveloped = ReturnType<YogaServerInstance<Context, Record<string, never>>['getEnveloped']>;
type RootValue = { execute: Enveloped['execute']; subscribe: Enveloped['subscribe'] };

/**
 * graphql-ws on the same port and path as HTTP GraphQL. The token travels in
 * `connectionParams` (`{ authorization: "Bearer …" }` or `{ token }`); a connection without a
 * valid one is closed with 4403 before any operation runs. Each operation gets the same
 * context as an HTTP request, so ownership checks are identical on every transport.
 */
export function attachGraphQLWebSocket(opts: {
  server: Server;
  // biome-ignore lint/suspicious/noExplicitAny: yoga's server-context generic differs per caller
  yoga: YogaServerInstance<any, any>;
  auth: Authenticator;
  services: Services;
  log: Logger;
  /** Interval of WebSocket pings (default 15 s). */
  keepAliveMs?: number;
}): { close(): Promise<void> } {
  const wss = new WebSocketServer({ server: opts.server, path: '/graphql' });
  let n = 0;
  const disposable = useServer<Record<string, unknown>, ConnectionExtra>(
    {
      async onConnect(ctx) {
        const p = ctx.connectionParams ?? {};
        const token =
          bearerToken(typeof p.authorization === 'string' ? p.authorization : undefined) ??
          (typeof p.token === 'string' ? p.token : undefined);
        if (!token) return false;
        try {
          ctx.extra.viewer = await opts.auth.verify(token);
          return true;
        } catch {
          return false;
        }
      },
      execute: (args: ExecutionArgs) => (args.rootValue as RootValue).execute(args),
      subscribe: (args: ExecutionArgs) => (args.rootValue as RootValue).subscribe(args),
      async onSubscribe(ctx, _id, params) {
        const viewer = ctx.extra.viewer;
        if (!viewer) return [];
        const requestId = `ws-${++n}`;
        // The process logger, not a child per operation: an idle subscription should cost little
        // memory (10,000 of them per process is the design point); errors carry the request id.
        const initial: Context = { ...opts.services, viewer, requestId, log: opts.log };
        const { schema, execute, subscribe, contextFactory, parse, validate } = opts.yoga.getEnveloped(initial);
        const document = parse(params.query);
        const errors = validate(schema, document);
        if (errors.length) return errors;
        return {
          schema,
          document,
          operationName: params.operationName,
          variableValues: params.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe } satisfies RootValue,
        };
      },
    },
    wss,
  );
  // Keep-alive: proxies drop idle connections, and a peer that vanished without a FIN would hold
  // its subscriptions forever. Every connection is pinged once per interval; one that did not pong
  // since is dropped. Connections are spread over buckets pinged in turn, so 10,000 subscribers
  // mean a few hundred pings (and pongs) at a time, not one burst of 10,000 that stalls delivery.
  const keepAliveMs = opts.keepAliveMs ?? 15_000;
  const buckets: Set<WebSocket>[] = Array.from({ length: PING_BUCKETS }, () => new Set());
  const alive = new WeakSet<WebSocket>();
  let joined = 0;
  wss.on('connection', (socket) => {
    const bucket = buckets[joined++ % PING_BUCKETS]!;
    bucket.add(socket);
    alive.add(socket);
    socket.on('pong', () => alive.add(socket));
    socket.once('close', () => bucket.delete(socket));
  });
  let turn = 0;
  const pinger = setInterval(() => {
    const bucket = buckets[turn++ % PING_BUCKETS]!;
    for (const socket of bucket) {
      if (!alive.has(socket)) {
        bucket.delete(socket);
        socket.terminate();
        continue;
      }
      alive.delete(socket);
      socket.ping();
    }
  }, keepAliveMs / PING_BUCKETS);
  pinger.unref();
  return {
    async close() {
      clearInterval(pinger);
      await disposable.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
