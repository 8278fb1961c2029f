import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const INTERVAL_MS = 400;
let srv: TestServer;
const sockets: WebSocket[] = [];

beforeAll(async () => {
  srv = await startTestServer({ db: 'pglite', env: { HAUL_WS_KEEPALIVE: `${INTERVAL_MS}ms` } });
});

afterAll(async () => {
  for (const s of sockets) s.terminate();
  await srv?.[Symbol.asyncDispose]();
});

/** A raw graphql-ws connection, initialised with a token; `autoPong: false` plays a peer that vanished. */
async function connect(autoPong: boolean) {
  const socket = new WebSocket(`${srv.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws', { autoPong });
  sockets.push(socket);
  const pings: number[] = [];
  socket.on('ping', () => pings.push(performance.now()));
  const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.once('open', () => {
      void srv
        .token('alice')
        .then((t) => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${t}` } })));
    });
    socket.on('message', (m) => {
      if (JSON.parse(String(m)).type === 'connection_ack') resolve();
    });
  });
  return { socket, pings, closed };
}

describe('WebSocket keep-alive (HAUL_WS_KEEPALIVE)', () => {
  it('pings a live connection once per interval and keeps it; drops a peer that stopped answering', async () => {
    const live = await connect(true);
    const dead = await connect(false);
    const t0 = performance.now();
    const deadCode = await dead.closed;
    // Pinged once, silent until the next round: dropped after one to two intervals.
    expect(dead.pings).toHaveLength(1);
    expect(performance.now() - t0).toBeLessThan(3 * INTERVAL_MS);
    expect(deadCode).toBe(1006);
    await new Promise((r) => setTimeout(r, 3 * INTERVAL_MS));
    expect(live.socket.readyState).toBe(WebSocket.OPEN);
    expect(live.pings.length).toBeGreaterThanOrEqual(3);
    // One ping per interval, not a burst: gaps are about the interval.
    const gaps = live.pings.slice(1).map((t, i) => t - live.pings[i]!);
    for (const g of gaps) expect(g).toBeGreaterThan(INTERVAL_MS * 0.6);
  });
});
