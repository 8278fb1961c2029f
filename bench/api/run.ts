/**
 * bench/api — the control plane under closed-loop load.
 *
 * Starts one `haul api` process on a fresh PostgreSQL database (and the local Redis), then, at
 * 1, 16 and 64 concurrent clients, measures throughput and p50/p99 latency of startDownload,
 * reportProgress and downloadSession beside `{ __typename }` on the same server (the ceiling:
 * HTTP, JWT verification and GraphQL execution with no database work). The whole matrix is
 * repeated and the median of each figure printed, with each operation's throughput as a ratio
 * to the ceiling's at the same concurrency. Any non-200 answer or GraphQL error is counted; a
 * run with errors is invalid and exits 1.
 *
 *   npx tsx bench/api/run.ts [--duration 5] [--warmup 1] [--repeat 3] [--concurrency 1,16,64] [--ops …]
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { request } from 'undici';
import { mintToken } from '../../src/auth/jwt.ts';
import { closedLoop, type LoadResult, median } from './load.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const PG_ADMIN_URL = 'postgresql://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = 'redis://127.0.0.1:6379';

/** The file every session downloads: 4 GiB in 1,024 chunks of 4 MiB. */
const CHUNK_SIZE = 4 * 1024 * 1024;
const CHUNK_COUNT = 1024;
const FILE_SIZE = CHUNK_SIZE * CHUNK_COUNT;

// ---------------------------------------------------------------------------------------------
// Command line

const USAGE = `usage: npx tsx bench/api/run.ts [--duration S] [--warmup S] [--repeat N] [--concurrency 1,16,64] [--ops L]

  --duration S       measured seconds per (operation, concurrency) cell (default 5)
  --warmup S         unmeasured warm-up seconds before each cell (default 1)
  --repeat N         how many times the whole matrix runs; medians are reported (default 3)
  --concurrency L    comma-separated client counts (default 1,16,64)
  --ops L            comma-separated subset of ceiling,start,startRepeat,report,read (default all;
                     the ceiling always runs, ratios need it)

HAUL_BENCH_NODE_ARGS adds Node flags to the haul process, e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof'.`;

function parseCli(argv: string[]) {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        duration: { type: 'string' },
        warmup: { type: 'string' },
        repeat: { type: 'string' },
        concurrency: { type: 'string' },
        ops: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    console.error(`${e instanceof Error ? e.message : String(e)}\n\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const num = (name: string, v: unknown, def: number, ok: (n: number) => boolean) => {
    if (v === undefined) return def;
    const n = Number(v);
    if (!Number.isFinite(n) || !ok(n)) {
      console.error(`--${name}: bad value ${JSON.stringify(v)}\n\n${USAGE}`);
      process.exit(2);
    }
    return n;
  };
  const concurrency = (typeof values.concurrency === 'string' ? values.concurrency : '1,16,64').split(',').map((s) => Number(s));
  if (concurrency.some((c) => !Number.isInteger(c) || c < 1 || c > 256)) {
    console.error(`--concurrency: expected a list of integers 1..256, got ${JSON.stringify(values.concurrency)}`);
    process.exit(2);
  }
  const known = ['ceiling', 'start', 'startRepeat', 'report', 'read'];
  const ops = typeof values.ops === 'string' ? values.ops.split(',').map((s) => s.trim()) : known;
  const unknown = ops.filter((o) => !known.includes(o));
  if (unknown.length) {
    console.error(`--ops: unknown operation ${unknown.join(', ')}; expected some of ${known.join(',')}`);
    process.exit(2);
  }
  return {
    ops: new Set(['ceiling', ...ops]),
    durationS: num('duration', values.duration, 5, (n) => n > 0 && n <= 600),
    warmupS: num('warmup', values.warmup, 1, (n) => n >= 0 && n <= 60),
    repeat: num('repeat', values.repeat, 3, (n) => Number.isInteger(n) && n >= 1 && n <= 20),
    concurrency,
  };
}

// ---------------------------------------------------------------------------------------------
// Lifecycle: database, child process, cleanup on every exit path

let child: ChildProcess | undefined;
let dbName: string | undefined;
let dataDir: string | undefined;
let cleaning: Promise<void> | undefined;
let aborted = false;
const childOutput: string[] = [];
let childWarnings = 0;

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const c = child;
      const exited = new Promise<void>((r) => c.once('exit', () => r()));
      c.kill('SIGTERM');
      const timer = setTimeout(() => c.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    if (dbName) {
      const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
      try {
        await admin.connect();
        await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
      } catch (e) {
        console.error(`warning: could not drop database ${dbName}: ${e instanceof Error ? e.message : String(e)}`);
      } finally {
        await admin.end().catch(() => {});
      }
    }
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  })();
  return cleaning;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    aborted = true;
    console.error(`\n${signal}: stopping haul and dropping the database…`);
    cleanup().finally(() => process.exit(130));
  });
}

async function createDatabase(): Promise<string> {
  const name = `haul_bench_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
    dbName = name;
  } finally {
    await admin.end();
  }
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Starts `haul api` on a free loopback port; resolves with its origin once /readyz says ready. */
async function startHaul(databaseUrl: string, jwtSecret: string): Promise<string> {
  dataDir = mkdtempSync(join(os.tmpdir(), 'haul-bench-'));
  const env: Record<string, string> = {};
  // Only the configuration below reaches the server: no stray HAUL_*, S3 or port settings.
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || /^(HAUL_|S3_|AWS_)/.test(k) || ['PORT', 'HOST', 'DATABASE_URL', 'REDIS_URL', 'LOG_LEVEL'].includes(k))
      continue;
    env[k] = v;
  }
  Object.assign(env, {
    DATABASE_URL: databaseUrl,
    REDIS_URL,
    HAUL_JWT_SECRET: jwtSecret,
    HAUL_SIGNING_KEYS: `k1:${randomBytes(24).toString('hex')}`,
    HAUL_DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
  });
  const nodeArgs = (process.env.HAUL_BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const c = spawn(process.execPath, [...nodeArgs, join(ROOT, 'bin/haul.js'), 'api', '--port', '0', '--host', '127.0.0.1'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = c;
  const keep = (line: string) => {
    if (!line) return;
    childOutput.push(line);
    if (childOutput.length > 40) childOutput.shift();
    // pino levels: 40 warn, 50 error, 60 fatal.
    if (/"level":(4|5|6)0\b/.test(line)) childWarnings++;
  };
  const origin = new Promise<string>((resolveOrigin, reject) => {
    let buf = '';
    c.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buf += chunk;
      let i = buf.indexOf('\n');
      while (i >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        keep(line);
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
        if (m) resolveOrigin(m[1]!);
        i = buf.indexOf('\n');
      }
    });
    c.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      for (const line of chunk.split('\n')) keep(line);
    });
    c.once('exit', (code, signal) =>
      reject(new Error(`haul api exited before listening (${signal ?? code}):\n${childOutput.join('\n')}`)),
    );
  });
  c.once('exit', (code, signal) => {
    if (!cleaning && !aborted) console.error(`haul api exited unexpectedly (${signal ?? code}):\n${childOutput.join('\n')}`);
  });
  const base = await withTimeout(origin, 60_000, 'haul api did not print its address within 60 s');
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const res = await request(`${base}/readyz`);
      const text = await res.body.text();
      if (res.statusCode === 200) return base;
      if (Date.now() > deadline) throw new Error(`/readyz still ${res.statusCode} after 60 s: ${text}`);
    } catch (e) {
      if (Date.now() > deadline) throw e;
    }
    await sleep(200);
  }
}

/** CPU time (ms) a process has used so far, from /proc/<pid>/stat (Linux, USER_HZ 100); undefined elsewhere. */
function procCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After "pid (comm) ", field 3 (state) is index 0, so utime (14) and stime (15) are 11 and 12.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------
// Fixtures: one READY file (inserted directly; the API has no ingest mutation yet) and sessions

async function insertReadyFile(databaseUrl: string): Promise<string> {
  const id = randomUUID();
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    await db.query('BEGIN');
    await db.query(
      `INSERT INTO "File" ("id", "name", "sizeBytes", "contentType", "storageKey", "checksum", "chunkSize", "chunkCount",
                           "merkleRoot", "status", "updatedAt")
       VALUES ($1, 'bench.bin', $2, 'application/octet-stream', $3, $4, $5, $6, $7, 'READY', now())`,
      [id, FILE_SIZE, `bench/${id}`, randomBytes(32).toString('hex'), CHUNK_SIZE, CHUNK_COUNT, randomBytes(32).toString('hex')],
    );
    await db.query(
      `INSERT INTO "FileChunk" ("fileId", "index", "startByte", "endByte", "sha256")
       SELECT $1, i, i::bigint * $2, (i + 1)::bigint * $2 - 1, encode(sha256(i::text::bytea), 'hex')
       FROM generate_series(0, $3 - 1) AS i`,
      [id, CHUNK_SIZE, CHUNK_COUNT],
    );
    await db.query('COMMIT');
  } finally {
    await db.end();
  }
  return id;
}

const Q = {
  ceiling: 'query Ceiling { __typename }',
  start:
    'mutation Start($fileId: ID!, $clientId: String) { startDownload(fileId: $fileId, clientId: $clientId) { downloadUrl session { id } } }',
  report:
    'mutation Report($sessionId: ID!, $chunks: [Int!]) { reportProgress(sessionId: $sessionId, completedChunks: $chunks) { bytesConfirmed } }',
  read: 'query Read($id: ID!) { downloadSession(id: $id) { id status bytesConfirmed } }',
};

const body = (query: string, variables?: Record<string, unknown>) => JSON.stringify(variables ? { query, variables } : { query });

/** One GraphQL call outside the measurement (fixtures); throws on any error. */
async function gql<T>(origin: string, auth: string, query: string, variables: Record<string, unknown>): Promise<T> {
  const res = await request(`${origin}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: auth },
    body: body(query, variables),
  });
  const json = (await res.body.json()) as { data?: T; errors?: unknown[] };
  if (res.statusCode !== 200 || json.errors || !json.data) throw new Error(`fixture call failed: ${JSON.stringify(json)}`);
  return json.data;
}

/** Creates one session per virtual client (each client is its own user). */
async function createSessions(origin: string, auths: string[], fileId: string, clientId: string, n: number): Promise<string[]> {
  return Promise.all(
    Array.from({ length: n }, async (_, w) => {
      const d = await gql<{ startDownload: { session: { id: string } } }>(origin, auths[w]!, Q.start, { fileId, clientId });
      return d.startDownload.session.id;
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Machine facts

async function machineFacts() {
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  let postgres: string;
  try {
    postgres = (await admin.query<{ version: string }>('select version()')).rows[0]!.version;
  } finally {
    await admin.end();
  }
  let redis = 'unreachable';
  const r = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => {});
  try {
    await r.connect();
    const info = await r.info('server');
    redis = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  } catch {
    // reported as unreachable
  } finally {
    r.disconnect();
  }
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8' }).trim();
    if (dirty) commit += ' (with uncommitted changes)';
  } catch {
    // not a git checkout
  }
  const cpus = os.cpus();
  return {
    node: process.version,
    cores: cpus.length,
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    postgres,
    redis,
    haulCommit: commit,
    /** Other work on the machine skews every figure; the 1/5/15-minute load averages say how much. */
    loadAverageAtStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

// ---------------------------------------------------------------------------------------------
// The matrix

type OpName = 'ceiling' | 'start' | 'startRepeat' | 'report' | 'read';

const OPS: Array<{ name: OpName; label: string }> = [
  { name: 'ceiling', label: '`{ __typename }` (ceiling)' },
  { name: 'start', label: 'startDownload (new session)' },
  { name: 'startRepeat', label: 'startDownload (idempotent repeat)' },
  { name: 'report', label: 'reportProgress' },
  { name: 'read', label: 'downloadSession' },
];

interface Cell extends LoadResult {
  op: OpName;
  concurrency: number;
  repeat: number;
  /** CPU the haul process (and this load generator) spent per measured request. */
  haulCpuMsPerReq: number;
  benchCpuMsPerReq: number;
}

const fmt = (n: number, digits = 0) =>
  Number.isNaN(n) ? '–' : n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ms = (n: number) => (Number.isNaN(n) ? '–' : n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : n.toFixed(0));

async function main() {
  const opts = parseCli(process.argv.slice(2));
  const ops = OPS.filter((o) => opts.ops.has(o.name));
  const startedAt = new Date().toISOString();
  const nodeArgs = process.env.HAUL_BENCH_NODE_ARGS;
  const command = [
    ...(nodeArgs ? [`HAUL_BENCH_NODE_ARGS='${nodeArgs}'`] : []),
    'npx tsx bench/api/run.ts',
    ...process.argv.slice(2),
  ].join(' ');
  const cells = ops.length * opts.concurrency.length * opts.repeat;
  console.error(
    `bench/api: ${cells} cells of ${opts.warmupS} s warm-up + ${opts.durationS} s, about ${Math.ceil((cells * (opts.warmupS + opts.durationS)) / 60)} min`,
  );

  const facts = await machineFacts();
  const databaseUrl = await createDatabase();
  const jwtSecret = randomBytes(32).toString('hex');
  const origin = await startHaul(databaseUrl, jwtSecret);
  console.error(`haul api ready at ${origin} on database ${dbName}`);

  const fileId = await insertReadyFile(databaseUrl);
  const maxC = Math.max(...opts.concurrency);
  // Each virtual client is its own user, as real clients would be; tokens outlive the whole run.
  const ttlMs = Math.max(3_600_000, 2 * cells * (opts.warmupS + opts.durationS + 5) * 1000);
  const auths = await Promise.all(
    Array.from({ length: maxC }, async (_, w) => `Bearer ${await mintToken(jwtSecret, { sub: `bench-u${w}`, ttlMs })}`),
  );
  const readSessions = await createSessions(origin, auths, fileId, 'reader', maxC);
  // Give the read sessions some state to return.
  await Promise.all(readSessions.map((id, w) => gql(origin, auths[w]!, Q.report, { sessionId: id, chunks: [0, 1, 2, 5] })));

  const results: Cell[] = [];
  for (let r = 1; r <= opts.repeat; r++) {
    for (const c of opts.concurrency) {
      for (const op of ops) {
        if (aborted) return 130;
        let factory: (w: number, seq: number) => string;
        switch (op.name) {
          case 'ceiling': {
            const b = body(Q.ceiling);
            factory = () => b;
            break;
          }
          case 'start':
            // A distinct device per request: every call inserts a session.
            factory = (_w, seq) => body(Q.start, { fileId, clientId: `sd-r${r}-c${c}-${seq}` });
            break;
          case 'startRepeat':
            // The same (user, file, device) again and again: finds the live session, refreshes its URL.
            factory = () => body(Q.start, { fileId, clientId: 'same-device' });
            break;
          case 'report': {
            // A fresh session per client for this cell; client w reports chunks 0, 1, 2, … in turn
            // (wrapping after the last chunk, where reports become duplicates).
            const sessions = await createSessions(origin, auths, fileId, `rp-r${r}-c${c}`, c);
            const next = new Array<number>(c).fill(0);
            factory = (w) => body(Q.report, { sessionId: sessions[w], chunks: [next[w]!++ % CHUNK_COUNT] });
            break;
          }
          case 'read':
            factory = (w) => body(Q.read, { id: readSessions[w] });
            break;
        }
        let haulCpu0: number | undefined;
        let haulCpu1: number | undefined;
        let benchCpu0 = 0;
        let benchCpu1 = 0;
        const res = await closedLoop({
          origin,
          path: '/graphql',
          concurrency: c,
          warmupMs: opts.warmupS * 1000,
          durationMs: opts.durationS * 1000,
          authFor: (w) => auths[w]!,
          body: factory,
          aborted: () => aborted,
          onMeasure: (phase) => {
            const cpu = process.cpuUsage();
            if (phase === 'start') {
              haulCpu0 = procCpuMs(child?.pid);
              benchCpu0 = (cpu.user + cpu.system) / 1000;
            } else {
              haulCpu1 = procCpuMs(child?.pid);
              benchCpu1 = (cpu.user + cpu.system) / 1000;
            }
          },
        });
        const perReq = (a: number | undefined, b: number | undefined) =>
          a === undefined || b === undefined || res.requests === 0 ? Number.NaN : (b - a) / res.requests;
        results.push({
          ...res,
          op: op.name,
          concurrency: c,
          repeat: r,
          haulCpuMsPerReq: perReq(haulCpu0, haulCpu1),
          benchCpuMsPerReq: perReq(benchCpu0, benchCpu1),
        });
        console.error(
          `  repeat ${r}/${opts.repeat}  c=${String(c).padStart(3)}  ${op.label.padEnd(36)} ${fmt(res.rps).padStart(7)} req/s  p50 ${ms(res.p50Ms)} ms  p99 ${ms(res.p99Ms)} ms${res.errors ? `  ERRORS ${res.errors}: ${res.errorSamples.join(' | ')}` : ''}`,
        );
      }
    }
  }

  const loadAverageAtEnd = os.loadavg().map((x) => Math.round(x * 100) / 100);

  // Medians across repeats; the ratio is the median throughput over the ceiling's at the same concurrency.
  const summary = opts.concurrency.flatMap((c) =>
    ops.map((op) => {
      const runs = results.filter((x) => x.op === op.name && x.concurrency === c);
      const rps = runs.map((x) => x.rps);
      return {
        op: op.name,
        label: op.label,
        concurrency: c,
        rps: median(rps),
        rpsMin: Math.min(...rps),
        rpsMax: Math.max(...rps),
        p50Ms: median(runs.map((x) => x.p50Ms)),
        p99Ms: median(runs.map((x) => x.p99Ms)),
        haulCpuMsPerReq: median(runs.map((x) => x.haulCpuMsPerReq)),
        benchCpuMsPerReq: median(runs.map((x) => x.benchCpuMsPerReq)),
        errors: runs.reduce((s, x) => s + x.errors, 0),
        requests: runs.reduce((s, x) => s + x.requests, 0),
        errorSamples: [...new Set(runs.flatMap((x) => x.errorSamples))].slice(0, 5),
      };
    }),
  );
  const ceilingAt = (c: number) => summary.find((s) => s.op === 'ceiling' && s.concurrency === c)!.rps;
  const rows = ops.flatMap((op) =>
    opts.concurrency.map((c) => {
      const s = summary.find((x) => x.op === op.name && x.concurrency === c)!;
      return { ...s, ratio: s.rps / ceilingAt(c) };
    }),
  );
  const totalErrors = rows.reduce((s, x) => s + x.errors, 0);

  const lines = [
    '## API control plane (bench/api)',
    '',
    `Command: \`${command}\``,
    '',
    `Machine: Node ${facts.node}, ${facts.cores} cores (${facts.cpu}), ${facts.memoryGiB} GiB, ${facts.os}`,
    `PostgreSQL: ${facts.postgres}`,
    `Redis: ${facts.redis}`,
    `haul: ${facts.haulCommit}; one \`haul api\` process, LOG_LEVEL=warn; load generator on the same machine`,
    `Machine load average (1/5/15 min): ${facts.loadAverageAtStart.join(' / ')} at start, ${loadAverageAtEnd.join(' / ')} at end`,
    `Load: closed loop, one keep-alive connection per client, ${opts.warmupS} s warm-up + ${opts.durationS} s per cell, median of ${opts.repeat} runs`,
    '',
    '| operation | clients | req/s (median) | req/s (min–max) | p50 ms | p99 ms | haul CPU ms/req | errors | × ceiling |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|',
    ...rows.map(
      (x) =>
        `| ${x.label} | ${x.concurrency} | ${fmt(x.rps)} | ${fmt(x.rpsMin)}–${fmt(x.rpsMax)} | ${ms(x.p50Ms)} | ${ms(x.p99Ms)} | ${ms(x.haulCpuMsPerReq)} | ${x.errors} | ${x.ratio.toFixed(2)} |`,
    ),
    '',
    totalErrors === 0
      ? `Valid: 0 errors in ${fmt(rows.reduce((s, x) => s + x.requests, 0))} measured requests.`
      : `INVALID: ${totalErrors} errors. ${rows
          .filter((x) => x.errors)
          .map((x) => `${x.label} c=${x.concurrency}: ${x.errorSamples.join(' | ')}`)
          .join('; ')}`,
    ...(childWarnings ? [`haul logged ${childWarnings} warning/error lines; last: ${childOutput.slice(-3).join(' ')}`] : []),
  ];
  console.log(lines.join('\n'));

  const outDir = join(ROOT, 'bench/api/out');
  mkdirSync(outDir, { recursive: true });
  const outFile = join(outDir, `api-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    outFile,
    `${JSON.stringify(
      {
        command,
        startedAt,
        machine: { ...facts, loadAverageAtEnd },
        options: { ...opts, ops: [...opts.ops] },
        file: { sizeBytes: FILE_SIZE, chunkSize: CHUNK_SIZE, chunkCount: CHUNK_COUNT },
        valid: totalErrors === 0,
        medians: rows,
        runs: results,
        haulWarnings: childWarnings,
      },
      null,
      2,
    )}\n`,
  );
  console.error(`\nwrote ${relative(process.cwd(), outFile)}`);
  return totalErrors === 0 ? 0 : 1;
}

let code = 1;
try {
  code = await main();
} catch (e) {
  console.error(`bench/api failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  code = 1;
} finally {
  await cleanup();
}
process.exit(code);
