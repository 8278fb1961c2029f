import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy that limits each connection's server → client direction to `bytesPerSecond`
 * (a WAN path where every connection has its own bottleneck, as with per-flow shaping). Client →
 * server bytes pass untouched. The limit is a pacing clock per connection: each chunk is released
 * when the connection's budget allows, so a connection never bursts above the rate.
 */
export interface Throttle {
  port: number;
  close(): Promise<void>;
}

export async function startThrottle(target: { host: string; port: number }, bytesPerSecond: number): Promise<Throttle> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(target);
    sockets.add(client);
    sockets.add(upstream);
    client.setNoDelay(true);
    let clock = 0;
    let sending = 0;
    let ended = false;
    client.pipe(upstream);
    upstream.on('data', (data: Buffer) => {
      clock = Math.max(clock, performance.now()) + (data.length * 1000) / bytesPerSecond;
      upstream.pause();
      sending++;
      const send = () => {
        sending--;
        const resume = () => {
          if (ended && sending === 0) client.end();
          else upstream.resume();
        };
        if (client.write(data)) resume();
        else client.once('drain', resume);
      };
      const wait = clock - performance.now();
      if (wait > 1) setTimeout(send, wait);
      else send();
    });
    upstream.on('end', () => {
      ended = true;
      if (sending === 0) client.end();
    });
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
