import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy the test can cut: every connection through it is dropped and new ones refused
 * while it is "down". Used to take PostgreSQL away from one process without stopping the
 * server the rest of the suite shares.
 */
export async function startTcpProxy(target: { host: string; port: number }) {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const listen = async () => {
    server = createServer((client) => {
      const upstream = createConnection(target);
      sockets.add(client).add(upstream);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        sockets.delete(client);
        sockets.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((r) => server!.listen(port, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  };
  await listen();
  return {
    get port() {
      return port;
    },
    /** Drops every connection and refuses new ones. */
    async down() {
      for (const s of sockets) s.destroy();
      sockets.clear();
      await new Promise((r) => server?.close(r));
    },
    /** Accepts connections again, on the same port. */
    up: listen,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server?.close(r));
    },
  };
}
