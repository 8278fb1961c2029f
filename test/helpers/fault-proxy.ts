import { once } from 'node:events';
import { Agent, createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A small HTTP proxy that sits in front of a real haul (API + edge) and breaks things on
 * purpose, for the client's fault tests. Download requests (`/d/…`) can get flipped bytes at
 * given file offsets, connections reset mid-body, 503 + Retry-After, 403 for URLs marked expired,
 * and per-connection throttling; other requests (the API) can be refused wholesale.
 * Everything is switched by mutating `faults` while a download runs.
 */
export interface Faults {
  /** File offset → how many more responses get the byte at that offset flipped. */
  corrupt: Map<number, number>;
  /** The next `count` download responses are cut (socket destroyed) after `afterBytes` body bytes. */
  reset: { count: number; afterBytes: number };
  /** The next `count` download requests get 503 with this Retry-After. */
  unavailable: { count: number; retryAfter: string };
  /** URL signatures answered 403 URL_EXPIRED (see expireSeenUrls). */
  expiredSigs: Set<string>;
  /** The first connection accepted after this is set sends download bodies at `bytesPerSecond`. */
  crawl: { bytesPerSecond: number; connection?: number } | undefined;
  /** Every connection's download bodies limited to this many bytes/s (0: unlimited). */
  perConnectionBps: number;
  /** Refuse every non-download request (the API) by resetting its connection. */
  apiDown: boolean;
  /** The next `count` download requests lose their Range header (the edge answers 200, the whole file). */
  ignoreRange: number;
}

export interface ProxyStats {
  requests: number;
  /** Download body bytes forwarded to clients. */
  dataBytes: number;
  statuses: Record<number, number>;
  resets: number;
  flipped: number;
  /** Requests answered 403 because their URL was marked expired. */
  expired: number;
  /** Requests answered by a crawling connection. */
  crawled: number;
  /** Range header of every download request, in order. */
  ranges: string[];
  /** The client TCP connection (numbered from 1 as accepted) of every download request, in order. */
  dataConnections: number[];
  /** [start, end) of the body bytes forwarded for each download response. */
  served: Array<[number, number]>;
}

export interface FaultProxy extends AsyncDisposable {
  url: string;
  faults: Faults;
  stats: ProxyStats;
  setTarget(url: string): void;
  /** Every URL signature seen so far is expired from now on. */
  expireSeenUrls(): void;
  /** Zeroes the counters. */
  resetStats(): void;
  close(): Promise<void>;
}

export const freshFaults = (): Faults => ({
  corrupt: new Map(),
  reset: { count: 0, afterBytes: 0 },
  unavailable: { count: 0, retryAfter: '1' },
  expiredSigs: new Set(),
  crawl: undefined,
  perConnectionBps: 0,
  apiDown: false,
  ignoreRange: 0,
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startFaultProxy(target?: string): Promise<FaultProxy> {
  let upstream = target ? new URL(target) : undefined;
  const faults = freshFaults();
  const freshStats = (): ProxyStats => ({
    requests: 0,
    dataBytes: 0,
    statuses: {},
    resets: 0,
    flipped: 0,
    expired: 0,
    crawled: 0,
    ranges: [],
    dataConnections: [],
    served: [],
  });
  const stats = freshStats();
  const seenSigs = new Set<string>();
  const connIds = new WeakMap<Socket, number>();
  let connections = 0;
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });

  const refuse = (res: ServerResponse, status: number, code: string, headers: Record<string, string> = {}) => {
    stats.statuses[status] = (stats.statuses[status] ?? 0) + 1;
    res.writeHead(status, { 'content-type': 'application/json', 'x-haul-error': code, ...headers });
    res.end(JSON.stringify({ error: { code, message: `fault proxy: ${code}` } }));
  };

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    stats.requests++;
    const isData = req.url?.startsWith('/d/') ?? false;
    if (!upstream) return refuse(res, 502, 'NO_TARGET');
    if (!isData && faults.apiDown) {
      req.socket.destroy();
      return;
    }
    const headers = { ...req.headers, host: upstream.host };
    if (isData) {
      stats.ranges.push(String(req.headers.range ?? ''));
      stats.dataConnections.push(connIds.get(req.socket) ?? 0);
      if (faults.ignoreRange > 0) {
        faults.ignoreRange--;
        delete headers.range;
      }
      const sig = new URL(req.url ?? '/', 'http://x').searchParams.get('sig') ?? '';
      seenSigs.add(sig);
      if (faults.expiredSigs.has(sig)) {
        stats.expired++;
        return refuse(res, 403, 'URL_EXPIRED');
      }
      if (faults.unavailable.count > 0) {
        faults.unavailable.count--;
        return refuse(res, 503, 'UNAVAILABLE', { 'retry-after': faults.unavailable.retryAfter });
      }
    }
    const up = httpRequest({
      host: upstream.hostname,
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers,
      agent,
    });
    req.pipe(up);
    up.on('error', () => res.destroy());
    res.on('close', () => up.destroy());
    const upRes = await once(up, 'response').then(
      ([r]) => r as IncomingMessage,
      () => undefined,
    );
    if (!upRes) return;
    const status = upRes.statusCode ?? 502;
    stats.statuses[status] = (stats.statuses[status] ?? 0) + 1;
    res.writeHead(status, upRes.headers);
    if (!isData) {
      upRes.pipe(res);
      return;
    }
    const range = /^bytes (\d+)-/.exec(String(upRes.headers['content-range'] ?? ''));
    let offset = range ? Number(range[1]) : 0;
    let sent = 0;
    const served: [number, number] = [offset, offset];
    stats.served.push(served);
    let cut = -1;
    if ((status === 206 || status === 200) && faults.reset.count > 0) {
      faults.reset.count--;
      cut = faults.reset.afterBytes;
    }
    const conn = connIds.get(req.socket) ?? 0;
    const crawling = faults.crawl?.connection === conn;
    if (crawling) stats.crawled++;
    try {
      for await (const data of upRes as AsyncIterable<Buffer>) {
        let chunk = data;
        for (const [at, times] of faults.corrupt) {
          if (times > 0 && at >= offset && at < offset + chunk.length) {
            chunk = Buffer.from(chunk);
            chunk[at - offset]! ^= 0xff;
            faults.corrupt.set(at, times - 1);
            stats.flipped++;
          }
        }
        if (cut >= 0 && sent + chunk.length > cut) {
          res.write(chunk.subarray(0, cut - sent));
          stats.dataBytes += cut - sent;
          served[1] += cut - sent;
          stats.resets++;
          await sleep(5);
          res.socket?.destroy();
          upRes.destroy();
          return;
        }
        const bps = crawling ? (faults.crawl?.bytesPerSecond ?? 0) : faults.perConnectionBps;
        const slice = bps > 0 ? Math.max(1024, Math.floor(bps / 20)) : chunk.length;
        for (let i = 0; i < chunk.length; i += slice) {
          const part = chunk.subarray(i, i + slice);
          if (res.destroyed) return void upRes.destroy();
          if (!res.write(part)) await drainOrClose(res);
          stats.dataBytes += part.length;
          served[1] += part.length;
          if (bps > 0) await sleep((part.length * 1000) / bps);
        }
        offset += data.length;
        sent += data.length;
      }
      res.end();
    } catch {
      res.destroy();
    }
  });
  server.on('connection', (s: Socket) => {
    connIds.set(s, ++connections);
    if (faults.crawl && faults.crawl.connection === undefined) faults.crawl.connection = connections;
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    agent.destroy();
  };
  return {
    url,
    faults,
    stats,
    setTarget(t) {
      upstream = new URL(t);
    },
    resetStats() {
      Object.assign(stats, freshStats());
    },
    expireSeenUrls() {
      for (const s of seenSigs) faults.expiredSigs.add(s);
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Waits for 'drain' or 'close', removing the loser's listeners (a response may wait many times). */
async function drainOrClose(res: ServerResponse): Promise<void> {
  const ac = new AbortController();
  await Promise.race([once(res, 'drain', { signal: ac.signal }), once(res, 'close', { signal: ac.signal })]).finally(() =>
    ac.abort(),
  );
}
