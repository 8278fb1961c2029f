/**
 * bench/realtime: the progress hot path and live subscriptions on ONE `haul api` process, with
 * PostgreSQL and Redis on the same 2 cores (issue 6's figures).
 *
 *   npx tsx bench/realtime/run.ts [--clients 256] [--duration 8] [--repeat 3]
 *                                 [--subscribers 10000] [--rate 100] [--events-seconds 20]
 *                                 [--profile DIR]   (a V8 CPU profile of the API process)
 *
 * 1. reportProgress at N concurrent clients beside `{ __typename }` on the same server.
 * 2. The same while the write-behind flush runs every 2 s (the worker's job, run here in the
 *    bench process with the same code): PostgreSQL write statements and row updates per report.
 * 3. S WebSocket subscribers (graphql-ws, one session each), then reports at R/s on random
 *    sessions: publish-to-delivery latency, and the API's RSS per idle subscription.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Client, createClient } from 'graphql-ws';
import { Redis } from 'ioredis';
import pg from 'pg';
import { Pool } from 'undici';
import WebSocket from 'ws';
import { mintToken } from '../../src/auth/jwt.ts';
import { openDatabase } from '../../src/db/client.ts';
import { flushProgress } from '../../src/sessions/flush.ts';
import { createHotProgress } from '../../src/sessions/hot-progress.ts';
import { closedLoop, median, percentile } from '../api/load.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const PG_ADMIN_URL = process.env.HAUL_TEST_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.HAUL_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const CHUNK_SIZE = 10 * 1024 * 1024;
const CHUNK_COUNT = 5120;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
}
const CLIENTS = arg('clients', 256);
const DURATION_S = arg('duration', 8);
const REPEAT = arg('repeat', 3);
const SUBSCRIBERS = arg('subscribers', 10_000);
const RATE = arg('rate', 100);
const EVENT_SECONDS = arg('events-seconds', 20);
const FLUSH_MS = 2000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const prefix = `haul-bench-${randomBytes(4).toString('hex')}:`;
const secret = randomBytes(32).toString('hex');
let dbName = '';
let child: ChildProcess | undefined;
let dataDir = '';

async function adminQuery(sql: string) {
  const c = new pg.Client({ connectionString: PG_ADMIN_URL });
  await c.connect();
  try {
    return await c.query(sql);
  } finally {
    await c.end();
  }
}

async function cleanup() {
  if (child && child.exitCode === null) {
    // A graceful stop (the CPU profile, when asked for, is written on exit); then no mercy.
    const exited = new Promise((r) => child!.once('exit', r));
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(5000)]);
    child.kill('SIGKILL');
  }
  if (dbName) await adminQuery(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`).catch(() => {});
  const r = new Redis(REDIS_URL);
  const keys = await r.keys(`${prefix}*`);
  if (keys.length) await r.del(...keys);
  r.disconnect();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}

async function startApi(databaseUrl: string): Promise<{ origin: string; pid: number }> {
  dataDir = mkdtempSync(join(os.tmpdir(), 'haul-bench-rt-'));
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !/^(HAUL_|S3_|AWS_|DATABASE_URL|REDIS_URL|PORT|HOST)/.test(k)) env[k] = v;
  Object.assign(env, {
    DATABASE_URL: databaseUrl,
    REDIS_URL,
    HAUL_REDIS_PREFIX: prefix,
    HAUL_JWT_SECRET: secret,
    HAUL_SIGNING_KEYS: `k1:${randomBytes(16).toString('hex')}`,
    HAUL_DATA_DIR: dataDir,
    LOG_LEVEL: 'error',
  });
  const i = process.argv.indexOf('--profile');
  const prof = i >= 0 ? ['--cpu-prof', `--cpu-prof-dir=${process.argv[i + 1]}`] : [];
  const c = spawn(process.execPath, [...prof, join(ROOT, 'bin/haul.js'), 'api', '--port', '0'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = c;
  const origin = await new Promise<string>((resolve, reject) => {
    let out = '';
    const on = (b: Buffer) => {
      out += b.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    };
    c.stdout!.on('data', on);
    c.stderr!.on('data', on);
    c.once('exit', (code) => reject(new Error(`haul api exited ${code}: ${out}`)));
  });
  return { origin, pid: c.pid! };
}

const rssKiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? Number.NaN);

async function pgWriteCounters(databaseUrl: string) {
  // Pending statistics reach the shared counters within about a second (PostgreSQL 15).
  await sleep(1500);
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    const t = await c.query(`SELECT n_tup_upd::bigint AS upd FROM pg_stat_user_tables WHERE relname = 'DownloadSession'`);
    const d = await c.query(`SELECT xact_commit::bigint AS commits FROM pg_stat_database WHERE datname = current_database()`);
    return { rowUpdates: Number(t.rows[0]?.upd ?? 0), commits: Number(d.rows[0]?.commits ?? 0) };
  } finally {
    await c.end();
  }
}

async function insertFixtures(databaseUrl: string, owners: number, sessions: number) {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  const fileId = randomUUID();
  try {
    await c.query(
      `INSERT INTO "File" ("id","name","sizeBytes","contentType","storageKey","checksum","chunkSize","chunkCount","merkleRoot","status","updatedAt")
       VALUES ($1,'bench.bin',$2,'application/octet-stream',$3,$4,$5,$6,$4,'READY',now())`,
      [fileId, CHUNK_SIZE * CHUNK_COUNT, `bench/${fileId}`, randomBytes(32).toString('hex'), CHUNK_SIZE, CHUNK_COUNT],
    );
    const rows = await c.query<{ id: string; ownerId: string }>(
      `INSERT INTO "DownloadSession" ("id","fileId","ownerId","clientId","totalBytes","urlExpiresAt","expiresAt","updatedAt")
       SELECT gen_random_uuid(), $1, 'bench-u' || (i % $2), 'dev-' || i, $3, now() + interval '12 hours', now() + interval '72 hours', now()
       FROM generate_series(0, $4 - 1) AS i RETURNING "id", "ownerId"`,
      [fileId, owners, CHUNK_SIZE * CHUNK_COUNT, sessions],
    );
    return rows.rows;
  } finally {
    await c.end();
  }
}

/**
 * Open loop: `rate` requests/s spread over `clients` virtual clients, each request sent on
 * schedule whether or not earlier ones answered. Latency here is what a client reporting every
 * few seconds sees; a closed loop at 256 clients only measures its own queue (Little's law).
 */
async function openLoop(
  origin: string,
  rate: number,
  seconds: number,
  clients: number,
  auth: (w: number) => string,
  body: (w: number, seq: number) => string,
) {
  const pool = new Pool(origin, { connections: clients });
  const latencies: number[] = [];
  let errors = 0;
  const interval = 1000 / rate;
  const t0 = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; performance.now() - t0 < seconds * 1000; i++) {
    const due = t0 + i * interval;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    const w = i % clients;
    const start = performance.now();
    pending.push(
      pool
        .request({
          method: 'POST',
          path: '/graphql',
          headers: { 'content-type': 'application/json', authorization: auth(w) },
          body: body(w, i),
        })
        .then(async (r) => {
          const text = await r.body.text();
          if (r.statusCode !== 200 || text.includes('"errors"')) errors++;
          latencies.push(performance.now() - start);
        }),
    );
  }
  await Promise.all(pending);
  await pool.close();
  latencies.sort((a, b) => a - b);
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), errors, n: latencies.length };
}

const REPORT = 'mutation R($s: ID!, $c: [Int!]) { reportProgress(sessionId: $s, completedChunks: $c) { bytesConfirmed } }';

async function main() {
  const started = Date.now();
  dbName = `haul_bench_${randomBytes(6).toString('hex')}`;
  await adminQuery(`CREATE DATABASE "${dbName}"`);
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${dbName}`;
  const databaseUrl = u.toString();
  const api = await startApi(databaseUrl);
  const tokens = new Map<string, string>();
  const tokenFor = async (owner: string) => {
    const known = tokens.get(owner);
    if (known) return known;
    const t = `Bearer ${await mintToken(secret, { sub: owner, ttlMs: 4 * 3_600_000 })}`;
    tokens.set(owner, t);
    return t;
  };

  // --- 1 and 2: reportProgress at CLIENTS concurrent clients, without and with the flush ---
  const reporters = await insertFixtures(databaseUrl, CLIENTS, CLIENTS);
  const auths = await Promise.all(reporters.map((r) => tokenFor(r.ownerId)));
  const db = await openDatabase({ kind: 'postgres', url: databaseUrl });
  const redis = new Redis(REDIS_URL);
  const hot = createHotProgress(redis, { prefix, sessionTtlMs: 72 * 3_600_000 });
  const rounds: Record<
    string,
    Array<{ rps: number; p99: number; p50: number; errors: number; stmts?: number; rows?: number }>
  > = {
    ceiling: [],
    report: [],
    reportOpen: [],
    reportFlush: [],
  };
  const load = (name: 'ceiling' | 'report', warmupMs = 1000) =>
    closedLoop({
      origin: api.origin,
      path: '/graphql',
      concurrency: CLIENTS,
      warmupMs,
      durationMs: DURATION_S * 1000,
      authFor: (w) => auths[w]!,
      body: (w, seq) =>
        name === 'ceiling'
          ? '{"query":"{ __typename }"}'
          : JSON.stringify({ query: REPORT, variables: { s: reporters[w]!.id, c: [(seq * 7919) % CHUNK_COUNT] } }),
      aborted: () => false,
    });
  for (let round = 0; round < REPEAT; round++) {
    const c = await load('ceiling');
    rounds.ceiling!.push({ rps: c.rps, p50: c.p50Ms, p99: c.p99Ms, errors: c.errors });
    // Drain anything dirty first so this round's counters see only its own flushes.
    await flushProgress({ prisma: db.prisma, hot });
    const r = await load('report');
    rounds.report!.push({ rps: r.rps, p50: r.p50Ms, p99: r.p99Ms, errors: r.errors });
    const open = await openLoop(
      api.origin,
      Math.max(50, Math.round(r.rps * 0.5)),
      DURATION_S,
      CLIENTS,
      (w) => auths[w]!,
      (w, seq) => JSON.stringify({ query: REPORT, variables: { s: reporters[w]!.id, c: [(seq * 104729) % CHUNK_COUNT] } }),
    );
    rounds.reportOpen!.push({ rps: Math.max(50, Math.round(r.rps * 0.5)), p50: open.p50, p99: open.p99, errors: open.errors });

    await flushProgress({ prisma: db.prisma, hot });
    const before = await pgWriteCounters(databaseUrl);
    let flushing = true;
    let statements = 0;
    const flusher = (async () => {
      while (flushing) {
        await sleep(FLUSH_MS);
        statements += (await flushProgress({ prisma: db.prisma, hot })).statements;
      }
    })();
    const f = await load('report', 0);
    flushing = false;
    await flusher;
    statements += (await flushProgress({ prisma: db.prisma, hot })).statements;
    const after = await pgWriteCounters(databaseUrl);
    rounds.reportFlush!.push({
      rps: f.rps,
      p50: f.p50Ms,
      p99: f.p99Ms,
      errors: f.errors,
      stmts: statements / f.requests,
      rows: (after.rowUpdates - before.rowUpdates) / f.requests,
    });
  }

  // --- 3: subscribers ---
  const subs = await insertFixtures(databaseUrl, Math.max(1, Math.floor(SUBSCRIBERS / 10)), SUBSCRIBERS);
  await sleep(2000);
  const rssBefore = rssKiB(api.pid);
  const sendTimes = new Map<string, number>();
  const latencies: number[] = [];
  const clients: Client[] = [];
  let snapshots = 0;
  const wsUrl = `${api.origin.replace(/^http/, 'ws')}/graphql`;
  for (let i = 0; i < subs.length; i += 250) {
    await Promise.all(
      subs.slice(i, i + 250).map(
        async (s) =>
          new Promise<void>((resolve, reject) => {
            void tokenFor(s.ownerId).then((auth) => {
              const client = createClient({
                url: wsUrl,
                webSocketImpl: WebSocket,
                connectionParams: { authorization: auth },
                retryAttempts: 0,
              });
              clients.push(client);
              client.subscribe<{ downloadProgress: { kind: string } }>(
                {
                  query: `subscription($id: ID!) { downloadProgress(sessionId: $id) { kind seq session { bytesConfirmed } } }`,
                  variables: { id: s.id },
                },
                {
                  next: (r) => {
                    if (r.data?.downloadProgress.kind === 'SNAPSHOT') {
                      snapshots++;
                      resolve();
                      return;
                    }
                    const t = sendTimes.get(s.id);
                    if (t !== undefined) {
                      latencies.push(performance.now() - t);
                      sendTimes.delete(s.id);
                    }
                  },
                  error: reject,
                  complete: () => {},
                },
              );
            });
          }),
      ),
    );
  }
  await sleep(5000);
  const rssIdle = rssKiB(api.pid);

  const pool = new Pool(api.origin, { connections: 32 });
  let sent = 0;
  let failed = 0;
  const deadline = performance.now() + EVENT_SECONDS * 1000;
  const interval = 1000 / RATE;
  let next = performance.now();
  const inflight: Promise<void>[] = [];
  while (performance.now() < deadline) {
    const s = subs[Math.floor(Math.random() * subs.length)]!;
    if (!sendTimes.has(s.id)) {
      const auth = await tokenFor(s.ownerId);
      sendTimes.set(s.id, performance.now());
      sent++;
      inflight.push(
        pool
          .request({
            method: 'POST',
            path: '/graphql',
            headers: { 'content-type': 'application/json', authorization: auth },
            body: JSON.stringify({ query: REPORT, variables: { s: s.id, c: [sent % CHUNK_COUNT] } }),
          })
          .then(async (r) => {
            const text = await r.body.text();
            if (r.statusCode !== 200 || text.includes('"errors"')) failed++;
          }),
      );
    }
    next += interval;
    await sleep(Math.max(0, next - performance.now()));
  }
  await Promise.all(inflight);
  await sleep(2000);
  const lost = sendTimes.size;
  await Promise.all(clients.map((c) => c.dispose()));
  await pool.close();
  redis.disconnect();
  await db.close();

  // --- report ---
  const med = (k: string, f: (x: { rps: number; p99: number; p50: number; stmts?: number; rows?: number }) => number) =>
    median(rounds[k]!.map(f));
  const ceilingRps = med('ceiling', (x) => x.rps);
  latencies.sort((a, b) => a - b);
  const errors = Object.values(rounds)
    .flat()
    .reduce((n, x) => n + x.errors, 0);
  const perSubKiB = (rssIdle - rssBefore) / SUBSCRIBERS;
  const rows = [
    [
      '`{ __typename }` ceiling',
      `${CLIENTS} clients`,
      `${ceilingRps.toFixed(0)} req/s`,
      `p99 ${med('ceiling', (x) => x.p99).toFixed(1)} ms`,
      '',
      '',
    ],
    [
      'reportProgress',
      `${CLIENTS} clients`,
      `${med('report', (x) => x.rps).toFixed(0)} req/s`,
      `p99 ${med('report', (x) => x.p99).toFixed(1)} ms`,
      `${(med('report', (x) => x.rps) / ceilingRps).toFixed(2)}× ceiling`,
      '≥ 0.5×, p99 ≤ 50 ms',
    ],
    [
      'reportProgress, open loop at half that rate',
      `${CLIENTS} clients`,
      `${med('reportOpen', (x) => x.rps).toFixed(0)} req/s offered, p50 ${med('reportOpen', (x) => x.p50).toFixed(1)} ms`,
      `p99 ${med('reportOpen', (x) => x.p99).toFixed(1)} ms`,
      'latency a client reporting on schedule sees',
      'p99 ≤ 50 ms',
    ],
    [
      'reportProgress + flush every 2 s',
      `${CLIENTS} clients`,
      `${med('reportFlush', (x) => x.rps).toFixed(0)} req/s`,
      `p99 ${med('reportFlush', (x) => x.p99).toFixed(1)} ms`,
      `${med('reportFlush', (x) => x.stmts ?? Number.NaN).toFixed(4)} write statements/report; ${med('reportFlush', (x) => x.rows ?? Number.NaN).toFixed(3)} row updates/report`,
      '≤ 0.05 writes/report',
    ],
    [
      `${SUBSCRIBERS} WebSocket subscribers, ${RATE} events/s`,
      `${sent} events (${lost} undelivered, ${failed} failed)`,
      `p50 ${percentile(latencies, 50).toFixed(1)} ms`,
      `p99 ${percentile(latencies, 99).toFixed(1)} ms`,
      `${perSubKiB.toFixed(1)} KiB RSS per idle subscription (${snapshots} snapshots)`,
      'p99 ≤ 100 ms; ≤ 20 KiB',
    ],
  ];
  const table = [
    '| figure | load | throughput / p50 | p99 | measured | goal |',
    '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
  const facts = `node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), load ${os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`;
  console.log(`\n${table}\n\n${facts}; medians of ${REPEAT} rounds of ${DURATION_S} s; ${errors} errors in the load phases`);
  console.log(`command: npx tsx bench/realtime/run.ts ${process.argv.slice(2).join(' ')}`.trim());
  console.log(`took ${((Date.now() - started) / 1000).toFixed(0)} s`);
  mkdirSync(join(ROOT, 'bench/realtime/out'), { recursive: true });
  writeFileSync(
    join(ROOT, `bench/realtime/out/realtime-${new Date().toISOString().replace(/[:.]/g, '-')}.json`),
    JSON.stringify(
      {
        rounds,
        latencies: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), n: latencies.length },
        rssBefore,
        rssIdle,
        perSubKiB,
        sent,
        lost,
        failed,
        facts,
      },
      null,
      2,
    ),
  );
}

process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
main()
  .then(cleanup)
  .catch(async (e) => {
    console.error(e);
    await cleanup();
    process.exit(1);
  });
