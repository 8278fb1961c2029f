/**
 * bench/edge — `haul edge` beside nginx (Debian's, sendfile on) serving the same folder (issue 3,
 * "Benchmark"). Everything runs on loopback in one process tree, and every figure is the median of
 * `--rounds` rounds. Within a round nginx and haul run back to back, and each ratio is the median
 * of the per-round haul/nginx ratios (printed beside it), so load from elsewhere on the machine
 * hits both sides of a pair alike. Figure 4 runs after all rounds of figures 1–3 (its 5 GiB of
 * reads churn the page cache).
 *
 * 1. One 1 GiB download with curl (`-o /dev/null`, `%{time_total}`), against nginx and against:
 *    - haul cold, bypass: the default cache budget (256 MiB) is smaller than the file, so it
 *      streams straight from the store;
 *    - haul cold, filling: a fresh edge with a 1.5 GiB budget, first pass (every slice a miss);
 *    - haul warm: the same edge, second pass (every slice a hit).
 *    Goals: cold ≤ 1.25× nginx, warm ≤ 1.1× nginx.
 * 2. Random aligned 64 KiB ranges of the 1 GiB file at 64 connections with wrk (Lua script),
 *    haul warm (whole file cached). Goals: ≥ 0.5× nginx's requests/s, p99 ≤ 2× nginx's.
 * 3. 1,000 distinct signed URLs (different `exp`) reading random 1 MiB ranges of the 1 GiB file
 *    through a fresh cached edge, 64 in flight (undici Pool), `--reads` reads (4× the file by
 *    default). Goal: origin bytes (`haul_edge_origin_bytes_total`) ≤ 1.1× the file size.
 * 4. 16 concurrent downloads of a 5 GiB sparse file by slow readers (`curl --limit-rate`, cut by
 *    `--max-time`): reader 0 sends a plain GET, reader k an open-ended `Range: bytes=k·S/16-` (a
 *    resumed full download), so they walk 16 different parts of the file; 12 read at 16 MiB/s,
 *    4 at 64 KiB/s. The edge's VmRSS is sampled every 50 ms: peak RSS minus the cache budget,
 *    goal ≤ 200 MiB. Twice: through the slice cache (bypass raised above the file, so the 256 MiB
 *    budget fills and evicts) and with the default bypass; nginx's RSS under the same load beside.
 *
 * Files live in a temp dir (removed at the end, the 5 GiB one sparse); nginx runs from a
 * generated config there (one process, `master_process off`: haul is one event loop too).
 * Writes the raw figures as JSON to bench/edge/out/.
 *
 *   npx tsx bench/edge/run.ts [--rounds 5] [--figures 1,2,3,4] [--wrk-seconds 5] [--reads 4096] [--rss-seconds 10]
 *
 * HAUL_BENCH_NODE_ARGS adds Node flags to every haul edge process, e.g.
 * '--cpu-prof --cpu-prof-dir=/tmp/prof' (a profile is written when each edge stops).
 */
import { type ChildProcess, execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { Pool } from 'undici';
import { Keyring, signDownloadUrl } from '../../src/edge/signing.ts';
import { FsBlobStore } from '../../src/storage/fs.ts';
import { writeVersion } from '../../src/storage/versions.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const NGINX = process.env.HAUL_BENCH_NGINX ?? '/usr/sbin/nginx';
const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const BIG_SIZE = GiB;
const SPARSE_SIZE = 5 * GiB;
const CACHE_DEFAULT = 256 * MiB;
const CACHE_WARM = 1.5 * GiB;
const run = promisify(execFile);

const USAGE = `usage: npx tsx bench/edge/run.ts [--rounds N] [--figures 1,2,3,4] [--wrk-seconds S] [--wrk-threads N] [--reads N] [--rss-seconds S]

  --rounds N        rounds of every figure; medians are reported (default 5)
  --figures L       which figures to run (default 1,2,3,4; figure 2 needs figure 1's warm edge and runs it)
  --wrk-seconds S   measured seconds per wrk run, after 1 s of warm-up (default 5)
  --wrk-threads N   wrk threads (default 2)
  --reads N         1 MiB reads in figure 3 (default 4096: four times the file)
  --rss-seconds S   how long the 16 slow readers of figure 4 read (default 10)

HAUL_BENCH_NODE_ARGS adds Node flags to the haul edge processes, e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof'.`;

function parseCli(argv: string[]) {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        rounds: { type: 'string' },
        figures: { type: 'string' },
        'wrk-seconds': { type: 'string' },
        'wrk-threads': { type: 'string' },
        reads: { type: 'string' },
        'rss-seconds': { type: 'string' },
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
  const int = (name: string, def: number, min: number) => {
    const v = values[name];
    if (v === undefined) return def;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) {
      console.error(`--${name}: expected an integer ≥ ${min}, got ${JSON.stringify(v)}\n\n${USAGE}`);
      process.exit(2);
    }
    return n;
  };
  const figures = new Set(
    String(values.figures ?? '1,2,3,4')
      .split(',')
      .map((x) => Number(x.trim())),
  );
  if ([...figures].some((f) => ![1, 2, 3, 4].includes(f))) {
    console.error(`--figures: a comma-separated subset of 1,2,3,4\n\n${USAGE}`);
    process.exit(2);
  }
  return {
    rounds: int('rounds', 5, 1),
    figures,
    wrkSeconds: int('wrk-seconds', 5, 1),
    wrkThreads: int('wrk-threads', 2, 1),
    reads: int('reads', 4096, 1),
    rssSeconds: int('rss-seconds', 10, 1),
  };
}

// ---------------------------------------------------------------------------------------------
// Small helpers

const median = (xs: number[]): number => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const round = (n: number, d = 3) => Math.round(n * 10 ** d) / 10 ** d;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (msg: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);

/** A free loopback port (bound then released: nginx needs a number in its config). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

/** Resident set size of a process, in bytes (Linux). */
function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * KiB : 0;
}

/** User + system CPU seconds of a process so far (Linux; clock ticks are 100 Hz). */
function cpuOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Samples a process's RSS every `everyMs` until stopped; resolves with the peak. */
function sampleRss(pid: number, everyMs = 50) {
  let peak = 0;
  const tick = () => {
    try {
      peak = Math.max(peak, rssOf(pid));
    } catch {
      // gone
    }
  };
  tick();
  const timer = setInterval(tick, everyMs);
  return {
    stop(): number {
      clearInterval(timer);
      tick();
      return peak;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Lifecycle: temp dir, nginx and edge processes, cleanup on every exit path

const children = new Set<ChildProcess>();
let tmp: string | undefined;
let cleaning: Promise<void> | undefined;

function stopChild(c: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) {
    children.delete(c);
    return Promise.resolve();
  }
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => c.kill('SIGKILL'), 15_000);
    c.once('exit', () => {
      clearTimeout(timer);
      children.delete(c);
      resolve();
    });
    c.kill(signal);
  });
}

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await Promise.all([...children].map((c) => stopChild(c)));
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  })();
  return cleaning;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping nginx and the edges, removing ${tmp ?? 'nothing'}…`);
    cleanup().finally(() => process.exit(130));
  });
}

interface Server {
  name: string;
  pid: number;
  base: string;
  stop(): Promise<void>;
}

async function startNginx(prefix: string, root: string): Promise<Server> {
  mkdirSync(join(prefix, 'tmp'), { recursive: true });
  const port = await freePort();
  const conf = join(prefix, 'nginx.conf');
  const tmpPaths = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((t) => `  ${t}_temp_path ${join(prefix, 'tmp', t)};`)
    .join('\n');
  writeFileSync(
    conf,
    `# generated by bench/edge/run.ts
daemon off;
master_process off;
worker_processes 1;
pid ${join(prefix, 'nginx.pid')};
error_log ${join(prefix, 'error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 65;
  keepalive_requests 10000000;
  open_file_cache max=1000 inactive=60s;
  open_file_cache_valid 60s;
  default_type application/octet-stream;
${tmpPaths}
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location / { }
  }
}
`,
  );
  const c = spawn(NGINX, ['-p', prefix, '-c', conf, '-e', join(prefix, 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(c);
  let err = '';
  c.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (c.exitCode !== null) throw new Error(`nginx exited with ${c.exitCode}: ${err}`);
    try {
      const r = await fetch(`${base}/`, { method: 'HEAD' });
      await r.body?.cancel();
      break;
    } catch {
      if (i > 100) throw new Error(`nginx did not answer on ${base}: ${err}`);
      await sleep(50);
    }
  }
  return { name: 'nginx', pid: c.pid as number, base, stop: () => stopChild(c, 'SIGQUIT') };
}

interface EdgeContext {
  dataDir: string;
  objects: string;
  signingKeys: string;
  nodeArgs: string[];
}

async function startEdge(ctx: EdgeContext, name: string, env: Record<string, string>): Promise<Server> {
  const base: Record<string, string | undefined> = { ...process.env };
  // The bench decides every edge setting; nothing leaks in from the caller's environment.
  for (const k of Object.keys(base)) if (k.startsWith('HAUL_') || k.startsWith('S3_')) delete base[k];
  const c = spawn(
    process.execPath,
    [...ctx.nodeArgs, join(ROOT, 'bin/haul.js'), 'edge', '--port', '0', '--host', '127.0.0.1', '--data-dir', ctx.dataDir],
    {
      cwd: ctx.dataDir,
      env: {
        ...base,
        HAUL_SIGNING_KEYS: ctx.signingKeys,
        HAUL_STORAGE: 'fs',
        HAUL_STORAGE_DIR: ctx.objects,
        LOG_LEVEL: 'warn',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.add(c);
  let out = '';
  c.stderr?.on('data', (d: Buffer) => {
    const s = d.toString();
    if (out.length < 64 * KiB) out += s;
    process.stderr.write(`  [${name}] ${s}`);
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name}: no "listening" line within 30 s\n${out}`)), 30_000);
    let buf = '';
    c.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(buf);
      if (m) {
        clearTimeout(timer);
        resolve(m[1] as string);
      }
    });
    c.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}\n${out}`));
    });
  });
  c.stdout?.resume();
  return { name, pid: c.pid as number, base: url, stop: () => stopChild(c) };
}

// ---------------------------------------------------------------------------------------------
// The files

/** 1 GiB of incompressible bytes (each MiB distinct), fsynced so writeback does not skew round 1. */
function writeBigFile(path: string): string {
  const hash = createHash('sha256');
  const block = randomBytes(16 * MiB);
  const fd = openSync(path, 'w');
  try {
    for (let at = 0; at < BIG_SIZE; at += block.length) {
      for (let m = 0; m < block.length; m += MiB) block.writeDoubleLE(at + m + Math.random(), m);
      hash.update(block);
      writeSync(fd, block);
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/** A sparse file of zeros; its SHA-256 is computed, not read. */
function writeSparseFile(path: string, size: number): string {
  const fd = openSync(path, 'w');
  try {
    // ftruncate makes a hole: no blocks written.
    ftruncateSync(fd, size);
  } finally {
    closeSync(fd);
  }
  const hash = createHash('sha256');
  const zeros = Buffer.alloc(64 * MiB);
  for (let at = 0; at < size; at += zeros.length) hash.update(at + zeros.length <= size ? zeros : zeros.subarray(0, size - at));
  return hash.digest('hex');
}

// ---------------------------------------------------------------------------------------------
// Figure 1: one 1 GiB download with curl

async function curlDownload(url: string, expectBytes: number, pid?: number): Promise<{ seconds: number; cpu?: number }> {
  const cpu0 = pid ? cpuOf(pid) : 0;
  const { stdout } = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{time_total} %{size_download} %{http_code}', url], {
    timeout: 120_000,
  });
  const [t, size, code] = stdout.trim().split(' ');
  if (code !== '200' || Number(size) !== expectBytes) throw new Error(`curl ${url}: HTTP ${code}, ${size} bytes`);
  return { seconds: Number(t), ...(pid ? { cpu: round(cpuOf(pid) - cpu0) } : {}) };
}

// ---------------------------------------------------------------------------------------------
// Figure 2: wrk, random aligned 64 KiB ranges

const WRK_SCRIPT = `-- generated by bench/edge/run.ts: random aligned 64 KiB ranges of a ${BIG_SIZE}-byte file
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end
function init(args)
  math.randomseed(os.time() * 1000 + (id or 0))
end
local slots = ${BIG_SIZE / (64 * KiB)}
function request()
  local at = math.random(0, slots - 1) * 65536
  return wrk.format(nil, nil, { ["Range"] = "bytes=" .. at .. "-" .. (at + 65535) })
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK_JSON {"requests":%d,"durationUs":%d,"bytes":%d,"p50Us":%d,"p99Us":%d,"maxUs":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
`;

interface WrkResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  requests: number;
  errors: number;
  bytesPerReq: number;
  cpuMsPerReq?: number;
}

async function wrk(script: string, url: string, seconds: number, threads: number, pid?: number): Promise<WrkResult> {
  const cpu0 = pid ? cpuOf(pid) : 0;
  const { stdout } = await run('wrk', [`-t${threads}`, '-c64', `-d${seconds}s`, '--timeout', '10s', '-s', script, url], {
    timeout: (seconds + 30) * 1000,
  });
  const cpu = pid ? cpuOf(pid) - cpu0 : 0;
  const m = /WRK_JSON (\{.*\})/.exec(stdout);
  if (!m) throw new Error(`wrk printed no result:\n${stdout}`);
  const r = JSON.parse(m[1] as string) as Record<string, number>;
  const n = r.requests as number;
  const errors = (r.connect ?? 0) + (r.read ?? 0) + (r.write ?? 0) + (r.status ?? 0) + (r.timeout ?? 0);
  return {
    rps: round(n / ((r.durationUs as number) / 1e6), 0),
    p50Ms: round((r.p50Us as number) / 1000),
    p99Ms: round((r.p99Us as number) / 1000),
    maxMs: round((r.maxUs as number) / 1000),
    requests: n,
    errors,
    bytesPerReq: round((r.bytes as number) / Math.max(1, n), 0),
    ...(pid ? { cpuMsPerReq: round((cpu * 1000) / Math.max(1, n), 4) } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Figure 3: 1,000 signed URLs, random 1 MiB ranges, origin bytes

async function metric(base: string, name: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  if (!m) throw new Error(`/metrics has no ${name}`);
  return Number(m[1]);
}

async function manyUrls(
  edge: Server,
  keyring: Keyring,
  version: string,
  bigPath: string,
  reads: number,
): Promise<{ originBytes: number; seconds: number; servedBytes: number; checked: number; cpu: number }> {
  const urls = Array.from({ length: 1000 }, (_, i) => {
    const u = new URL(
      signDownloadUrl(keyring, {
        baseUrl: edge.base,
        objectPath: 'big.bin',
        version,
        expiresAt: new Date(Date.now() + 3_600_000 + i * 1000),
      }),
    );
    return `${u.pathname}${u.search}`;
  });
  const pool = new Pool(edge.base, { connections: 64, pipelining: 1 });
  const fd = openSync(bigPath, 'r');
  const expected = Buffer.allocUnsafe(MiB);
  let next = 0;
  let served = 0;
  let checked = 0;
  const cpu0 = cpuOf(edge.pid);
  const t0 = performance.now();
  try {
    const worker = async () => {
      for (;;) {
        const i = next++;
        if (i >= reads) return;
        const start = Math.floor(Math.random() * (BIG_SIZE - MiB + 1));
        const res = await pool.request({
          path: urls[i % urls.length] as string,
          method: 'GET',
          headers: { range: `bytes=${start}-${start + MiB - 1}` },
        });
        const body = Buffer.from(await res.body.arrayBuffer());
        if (res.statusCode !== 206 || body.length !== MiB)
          throw new Error(`read ${i}: HTTP ${res.statusCode}, ${body.length} bytes`);
        served += body.length;
        // Every 16th body is compared with the file itself.
        if (i % 16 === 0) {
          readSync(fd, expected, 0, MiB, start);
          if (!body.equals(expected)) throw new Error(`read ${i}: the bytes at ${start} differ from the file`);
          checked++;
        }
      }
    };
    await Promise.all(Array.from({ length: 64 }, worker));
  } finally {
    closeSync(fd);
    await pool.close();
  }
  const seconds = (performance.now() - t0) / 1000;
  return {
    originBytes: await metric(edge.base, 'haul_edge_origin_bytes_total'),
    seconds: round(seconds),
    servedBytes: served,
    checked,
    cpu: round(cpuOf(edge.pid) - cpu0),
  };
}

// ---------------------------------------------------------------------------------------------
// Figure 4: slow readers of a 5 GiB sparse file, RSS

const SLOW_READERS = 16;

async function slowReaders(
  server: Server,
  url: string,
  seconds: number,
): Promise<{ peakRss: number; idleRss: number; bytes: number }> {
  const idleRss = rssOf(server.pid);
  const sampler = sampleRss(server.pid);
  const part = Math.floor(SPARSE_SIZE / SLOW_READERS);
  const readers = Array.from({ length: SLOW_READERS }, (_, k) => {
    const rate = k < 12 ? '16M' : '64K';
    const args = ['-s', '-o', '/dev/null', '-w', '%{size_download}', '--limit-rate', rate, '--max-time', String(seconds)];
    if (k > 0) args.push('-H', `Range: bytes=${k * part}-`);
    return new Promise<number>((resolve) => {
      // Exit 28 (the --max-time cut) is the expected end.
      execFile('curl', [...args, url], { timeout: (seconds + 30) * 1000 }, (_err, stdout) => resolve(Number(stdout) || 0));
    });
  });
  const bytes = (await Promise.all(readers)).reduce((a, b) => a + b, 0);
  await sleep(200);
  return { peakRss: sampler.stop(), idleRss, bytes };
}

// ---------------------------------------------------------------------------------------------

const fmtS = (s: number) => (Number.isNaN(s) ? '–' : `${s.toFixed(3)} s`);
const fmtX = (x: number) => (Number.isNaN(x) ? '–' : `${x.toFixed(2)}×`);
const fmtMiB = (b: number) => (Number.isNaN(b) ? '–' : `${(b / MiB).toFixed(0)} MiB`);
const fmtN = (n: number) => (Number.isNaN(n) ? '–' : Math.round(n).toLocaleString('en-US'));
const fmtMs = (n: number) => (Number.isNaN(n) ? '–' : `${n < 10 ? n.toFixed(2) : n.toFixed(1)} ms`);

interface Row {
  figure: string;
  nginx: string;
  haul: string;
  ratio: string;
  goal: string;
  pass: boolean | undefined;
}

function machineFacts() {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8' }).trim();
    if (dirty) commit += ' (with uncommitted changes)';
  } catch {
    // not a git checkout
  }
  // `nginx -v` prints to stderr.
  const v = spawnSync(NGINX, ['-v'], { encoding: 'utf8' });
  const nginx = `${v.stderr ?? ''}${v.stdout ?? ''}`.trim() || 'unknown';
  const cpus = os.cpus();
  return {
    node: process.version,
    cores: cpus.length,
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    memoryGiB: round(os.totalmem() / GiB, 1),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    nginx: nginx.replace(/^nginx version: /, ''),
    haulCommit: commit,
    loadAverageAtStart: os.loadavg().map((x) => round(x, 2)),
  };
}

async function main() {
  const opts = parseCli(process.argv.slice(2));
  const nodeArgsEnv = process.env.HAUL_BENCH_NODE_ARGS;
  const command = [
    ...(nodeArgsEnv ? [`HAUL_BENCH_NODE_ARGS='${nodeArgsEnv}'`] : []),
    'npx tsx bench/edge/run.ts',
    ...process.argv.slice(2),
  ].join(' ');
  const startedAt = new Date().toISOString();
  const facts = machineFacts();
  log(
    `bench/edge: ${opts.rounds} rounds of figures ${[...opts.figures].join(',')}, load average ${facts.loadAverageAtStart.join(' ')}`,
  );

  tmp = mkdtempSync(join(os.tmpdir(), 'haul-bench-edge-'));
  const objects = join(tmp, 'objects');
  const dataDir = join(tmp, 'data');
  mkdirSync(objects, { recursive: true });
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(24).toString('hex');
  const keyring = new Keyring({ keys: { bench: secret }, activeKid: 'bench', retired: [] });
  const store = new FsBlobStore(objects);
  const ctx: EdgeContext = {
    dataDir,
    objects,
    signingKeys: `bench:${secret}`,
    nodeArgs: nodeArgsEnv ? nodeArgsEnv.split(/\s+/).filter(Boolean) : [],
  };

  const bigPath = join(objects, 'big.bin');
  const sparsePath = join(objects, 'sparse5g.bin');
  const needBig = opts.figures.has(1) || opts.figures.has(2) || opts.figures.has(3);
  const record = async (key: string, sha256: string) => {
    const st = await store.stat(key);
    if (!st) throw new Error(`${key} vanished`);
    await writeVersion(store, key, { sha256, size: st.size, lastModified: st.lastModified.toISOString() });
  };
  let bigVersion = '';
  let sparseVersion = '';
  if (needBig) {
    log('writing the 1 GiB file…');
    bigVersion = writeBigFile(bigPath);
    await record('big.bin', bigVersion);
  }
  if (opts.figures.has(4)) {
    log('making the 5 GiB sparse file…');
    sparseVersion = writeSparseFile(sparsePath, SPARSE_SIZE);
    await record('sparse5g.bin', sparseVersion);
  }
  const sign = (base: string, objectPath: string, version: string) =>
    signDownloadUrl(keyring, { baseUrl: base, objectPath, version, expiresAt: new Date(Date.now() + 6 * 3_600_000) });
  const wrkScript = join(tmp, 'ranges.lua');
  writeFileSync(wrkScript, WRK_SCRIPT);

  const nginx = await startNginx(join(tmp, 'nginx'), objects);
  log(`nginx on ${nginx.base} (pid ${nginx.pid})`);

  const raw = {
    download: { nginx: [] as number[], bypass: [] as number[], cold: [] as number[], warm: [] as number[] },
    downloadCpu: { bypass: [] as number[], cold: [] as number[], warm: [] as number[] },
    ranges: { nginx: [] as WrkResult[], haul: [] as WrkResult[] },
    manyUrls: [] as Awaited<ReturnType<typeof manyUrls>>[],
    rss: {
      nginx: [] as number[],
      cached: [] as number[],
      bypass: [] as number[],
      cachedIdle: [] as number[],
      bypassIdle: [] as number[],
    },
  };

  const runFig1or2 = opts.figures.has(1) || opts.figures.has(2);
  const bypassEdge = opts.figures.has(1) ? await startEdge(ctx, 'edge-bypass', {}) : undefined;
  for (let r = 1; r <= opts.rounds; r++) {
    if (runFig1or2) {
      // A fresh edge per round: its first pass is cold, its second warm.
      const cached = await startEdge(ctx, 'edge-cached', {
        HAUL_EDGE_CACHE_BYTES: String(CACHE_WARM),
        HAUL_EDGE_BYPASS_BYTES: String(CACHE_WARM),
      });
      const url = sign(cached.base, 'big.bin', bigVersion);
      if (opts.figures.has(1)) {
        const n = await curlDownload(`${nginx.base}/big.bin`, BIG_SIZE);
        const b = await curlDownload(sign((bypassEdge as Server).base, 'big.bin', bigVersion), BIG_SIZE, bypassEdge?.pid);
        const c = await curlDownload(url, BIG_SIZE, cached.pid);
        const w = await curlDownload(url, BIG_SIZE, cached.pid);
        raw.download.nginx.push(n.seconds);
        raw.download.bypass.push(b.seconds);
        raw.download.cold.push(c.seconds);
        raw.download.warm.push(w.seconds);
        raw.downloadCpu.bypass.push(b.cpu ?? Number.NaN);
        raw.downloadCpu.cold.push(c.cpu ?? Number.NaN);
        raw.downloadCpu.warm.push(w.cpu ?? Number.NaN);
        log(
          `round ${r} 1 GiB: nginx ${fmtS(n.seconds)}, haul bypass ${fmtS(b.seconds)}, cold ${fmtS(c.seconds)}, warm ${fmtS(w.seconds)}`,
        );
      } else {
        await curlDownload(url, BIG_SIZE); // fills the cache
      }
      if (opts.figures.has(2)) {
        await wrk(wrkScript, url, 1, opts.wrkThreads); // warm-up (connections, JIT)
        const h = await wrk(wrkScript, url, opts.wrkSeconds, opts.wrkThreads, cached.pid);
        await wrk(wrkScript, `${nginx.base}/big.bin`, 1, opts.wrkThreads);
        const n = await wrk(wrkScript, `${nginx.base}/big.bin`, opts.wrkSeconds, opts.wrkThreads, nginx.pid);
        if (h.errors || n.errors) throw new Error(`wrk errors: haul ${h.errors}, nginx ${n.errors}`);
        if (h.bytesPerReq < 64 * KiB || n.bytesPerReq < 64 * KiB) throw new Error('wrk: responses smaller than 64 KiB');
        raw.ranges.haul.push(h);
        raw.ranges.nginx.push(n);
        log(
          `round ${r} 64 KiB ranges: nginx ${fmtN(n.rps)} req/s p99 ${fmtMs(n.p99Ms)} (${n.cpuMsPerReq} CPU ms/req), haul ${fmtN(h.rps)} req/s p99 ${fmtMs(h.p99Ms)} (${h.cpuMsPerReq} CPU ms/req)`,
        );
      }
      await cached.stop();
    }
    if (opts.figures.has(3)) {
      const edge = await startEdge(ctx, 'edge-urls', {
        HAUL_EDGE_CACHE_BYTES: String(CACHE_WARM),
        HAUL_EDGE_BYPASS_BYTES: String(CACHE_WARM),
      });
      const m = await manyUrls(edge, keyring, bigVersion, bigPath, opts.reads);
      raw.manyUrls.push(m);
      log(
        `round ${r} 1,000 URLs: origin ${(m.originBytes / BIG_SIZE).toFixed(3)}× the file, ${fmtMiB(m.servedBytes)} served in ${fmtS(m.seconds)}`,
      );
      await edge.stop();
    }
  }
  await bypassEdge?.stop();
  // Figure 4 last: its 5 GiB of reads churn the page cache, which would skew the 1 GiB figures.
  for (let r = 1; r <= opts.rounds; r++) {
    if (opts.figures.has(4)) {
      const n = await slowReaders(nginx, `${nginx.base}/sparse5g.bin`, opts.rssSeconds);
      const cachedEdge = await startEdge(ctx, 'edge-rss-cached', { HAUL_EDGE_BYPASS_BYTES: String(8 * GiB) });
      const c = await slowReaders(cachedEdge, sign(cachedEdge.base, 'sparse5g.bin', sparseVersion), opts.rssSeconds);
      await cachedEdge.stop();
      const bypassRss = await startEdge(ctx, 'edge-rss-bypass', {});
      const b = await slowReaders(bypassRss, sign(bypassRss.base, 'sparse5g.bin', sparseVersion), opts.rssSeconds);
      await bypassRss.stop();
      raw.rss.nginx.push(n.peakRss);
      raw.rss.cached.push(c.peakRss);
      raw.rss.cachedIdle.push(c.idleRss);
      raw.rss.bypass.push(b.peakRss);
      raw.rss.bypassIdle.push(b.idleRss);
      log(
        `round ${r} slow readers: nginx peak ${fmtMiB(n.peakRss)}; haul cached peak ${fmtMiB(c.peakRss)} (idle ${fmtMiB(c.idleRss)}, ${fmtMiB(c.bytes)} read), bypass peak ${fmtMiB(b.peakRss)} (${fmtMiB(b.bytes)} read)`,
      );
    }
  }
  await nginx.stop();

  // ------------------------------------------------------------------------------------------
  // The table

  const rows: Row[] = [];
  // Each ratio is the median of the per-round ratios: every haul run is paired with the nginx run
  // next to it, so load from elsewhere on the machine hits both sides of a pair alike.
  const pairedRatio = (haul: number[], nginx: number[]) => median(haul.map((h, i) => h / (nginx[i] ?? Number.NaN)));
  const spread = (xs: number[]) => (xs.length > 1 ? ` (${xs.map((x) => x.toFixed(2)).join(', ')})` : '');
  if (opts.figures.has(1)) {
    const n = median(raw.download.nginx);
    const add = (label: string, xs: number[], goal: number) => {
      const ratios = xs.map((h, i) => h / (raw.download.nginx[i] ?? Number.NaN));
      const r = median(ratios);
      rows.push({
        figure: label,
        nginx: fmtS(n),
        haul: fmtS(median(xs)),
        ratio: `${fmtX(r)}${spread(ratios)}`,
        goal: `≤ ${goal}×`,
        pass: r <= goal,
      });
    };
    add('1 GiB download (curl), haul cold: bypass (file > 256 MiB budget, the default)', raw.download.bypass, 1.25);
    add('1 GiB download (curl), haul cold: fresh edge filling a 1.5 GiB cache', raw.download.cold, 1.25);
    add('1 GiB download (curl), haul warm: from the cache', raw.download.warm, 1.1);
  }
  if (opts.figures.has(2)) {
    const nRps = raw.ranges.nginx.map((x) => x.rps);
    const hRps = raw.ranges.haul.map((x) => x.rps);
    const nP99 = raw.ranges.nginx.map((x) => x.p99Ms);
    const hP99 = raw.ranges.haul.map((x) => x.p99Ms);
    const rr = pairedRatio(hRps, nRps);
    const pr = pairedRatio(hP99, nP99);
    rows.push({
      figure: '64 KiB ranges, 64 connections (wrk): requests/s (haul warm)',
      nginx: fmtN(median(nRps)),
      haul: fmtN(median(hRps)),
      ratio: `${fmtX(rr)}${spread(hRps.map((h, i) => h / (nRps[i] ?? Number.NaN)))}`,
      goal: '≥ 0.5×',
      pass: rr >= 0.5,
    });
    rows.push({
      figure: '64 KiB ranges, 64 connections (wrk): p99 latency',
      nginx: fmtMs(median(nP99)),
      haul: fmtMs(median(hP99)),
      ratio: `${fmtX(pr)}${spread(hP99.map((h, i) => h / (nP99[i] ?? Number.NaN)))}`,
      goal: '≤ 2×',
      pass: pr <= 2,
    });
  }
  if (opts.figures.has(3)) {
    const o = median(raw.manyUrls.map((m) => m.originBytes));
    rows.push({
      figure: `1,000 signed URLs, ${fmtN(opts.reads)} random 1 MiB ranges (64 in flight): origin bytes`,
      nginx: '–',
      haul: fmtMiB(o),
      ratio: `${(o / BIG_SIZE).toFixed(3)}× file`,
      goal: '≤ 1.1× file',
      pass: o / BIG_SIZE <= 1.1,
    });
  }
  if (opts.figures.has(4)) {
    const n = median(raw.rss.nginx);
    for (const [label, xs] of [
      ['through the slice cache, 256 MiB budget', raw.rss.cached],
      ['bypass (the default for a 5 GiB file)', raw.rss.bypass],
    ] as const) {
      const h = median(xs);
      const over = h - CACHE_DEFAULT;
      rows.push({
        figure: `16 slow downloads of a 5 GiB sparse file, peak RSS: ${label}`,
        nginx: fmtMiB(n),
        haul: fmtMiB(h),
        ratio: `${over >= 0 ? '+' : '−'}${fmtMiB(Math.abs(over))} over budget`,
        goal: '≤ +200 MiB',
        pass: over <= 200 * MiB,
      });
    }
  }

  const loadAverageAtEnd = os.loadavg().map((x) => round(x, 2));
  const lines = [
    '| figure | nginx | haul | ratio | goal | result |',
    '|---|--:|--:|--:|--:|---|',
    ...rows.map((r) => `| ${r.figure} | ${r.nginx} | ${r.haul} | ${r.ratio} | ${r.goal} | ${r.pass ? 'pass' : 'FAIL'} |`),
  ];
  const extra: string[] = [];
  if (opts.figures.has(1))
    extra.push(
      `haul CPU per 1 GiB download (median s): bypass ${median(raw.downloadCpu.bypass)}, cold ${median(raw.downloadCpu.cold)}, warm ${median(raw.downloadCpu.warm)}`,
    );
  if (opts.figures.has(2))
    extra.push(
      `64 KiB ranges: CPU per request (user + system) nginx ${median(raw.ranges.nginx.map((x) => x.cpuMsPerReq ?? Number.NaN))} ms, haul ${median(raw.ranges.haul.map((x) => x.cpuMsPerReq ?? Number.NaN))} ms; p50 nginx ${fmtMs(median(raw.ranges.nginx.map((x) => x.p50Ms)))}, haul ${fmtMs(median(raw.ranges.haul.map((x) => x.p50Ms)))}`,
    );
  if (opts.figures.has(3))
    extra.push(
      `1,000 URLs: ${median(raw.manyUrls.map((m) => m.seconds))} s per run, haul CPU ${median(raw.manyUrls.map((m) => m.cpu))} s, ${raw.manyUrls.reduce((a, m) => a + m.checked, 0)} bodies compared with the file`,
    );
  if (opts.figures.has(4))
    extra.push(
      `slow readers: 12 at 16 MiB/s and 4 at 64 KiB/s for ${opts.rssSeconds} s; haul's RSS before the load (an idle \`haul edge\`) ${fmtMiB(median(raw.rss.cachedIdle))}, so the growth under load above the budget is ${fmtMiB(median(raw.rss.cached.map((p, i) => p - (raw.rss.cachedIdle[i] ?? 0))) - CACHE_DEFAULT)} through the cache and ${fmtMiB(median(raw.rss.bypass.map((p, i) => p - (raw.rss.bypassIdle[i] ?? 0))))} in total when bypassing`,
    );
  const factsLine = `Node ${facts.node}, ${facts.cores} cores (${facts.cpu}), ${facts.memoryGiB} GiB, ${facts.os}, nginx ${facts.nginx}, haul ${facts.haulCommit}; load average ${facts.loadAverageAtStart.join(' ')} at start, ${loadAverageAtEnd.join(' ')} at the end; medians of ${opts.rounds} rounds`;
  console.log(['', ...lines, '', ...extra.map((e) => `- ${e}`), '', factsLine, '', `command: ${command}`].join('\n'));

  const outDir = join(ROOT, 'bench/edge/out');
  mkdirSync(outDir, { recursive: true });
  const outFile = join(outDir, `edge-${startedAt.replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    outFile,
    `${JSON.stringify({ startedAt, command, facts: { ...facts, loadAverageAtEnd }, options: { ...opts, figures: [...opts.figures] }, rows, raw }, null, 2)}\n`,
  );
  log(`wrote ${relative(process.cwd(), outFile)}`);
}

main()
  .then(
    () => cleanup(),
    async (e: unknown) => {
      console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
      await cleanup();
      process.exitCode = 1;
    },
  )
  .finally(() => process.exit());
