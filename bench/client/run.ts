/**
 * bench/client — `haul get` beside `aria2c -x8 -s8 -k10M` and `curl`, all downloading the same
 * 1 GiB file from the same `haul edge` to disk (issue 5, "Benchmark").
 *
 * Set-up (a temp dir, removed at the end): a 1 GiB file of random bytes; `haul token` creates the
 * data dir's secrets; `haul edge` serves the folder store; `haul serve` (PGlite, LOG_LEVEL=warn)
 * is the API and hands out URLs pointing at that edge; `haul ingest` adds the file (10 MiB chunks).
 * aria2c and curl get a signed URL from `POST /downloads`.
 *
 * 1. Loopback (haul get: `--connections 8`, a ceiling; it opens as many as help, src/client/ramp.ts): `--warmup` rounds not counted, then `--rounds` rounds, the order of the clients rotating each round (haul get twice:
 *    the default, and `--hashing inline` with the whole-file digest on the main thread). haul get
 *    verifies every chunk and the whole file; aria2c and curl verify nothing (the bench checks
 *    their output size). Wall time of each process (haul's includes its Node start-up, session and
 *    manifest calls, and the final checks); haul's peak RSS (VmHWM, polled every 20 ms).
 *    Goals: haul ≤ 1.0× aria2c, ≤ 1.5× curl; peak RSS ≤ 150 MiB.
 * 2. 50 Mbit/s per connection (`--mbit`): a TCP proxy in this process paces every connection's
 *    download direction (bench/client/throttle.ts); `haul serve` is restarted so that its URLs go
 *    through it. `--throttled-rounds` rounds of haul (8 connections) and aria2c, then one round of
 *    haul --connections 1 and curl (one connection each: the slow part of the run).
 *    Goals: haul ≥ 7× its own 1-connection speed, and ≥ aria2c.
 *
 *   npx tsx bench/client/run.ts [--rounds 5] [--warmup 1] [--throttled-rounds 3] [--size-mib 1024] [--mbit 50] [--skip-throttled] [--profile DIR]
 *
 * Raw figures go to bench/client/out/<timestamp>.json.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startThrottle } from './throttle.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const HAUL = join(ROOT, 'bin/haul.js');
const MiB = 1024 * 1024;

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    /** Loopback rounds run first and not counted. */
    warmup: { type: 'string', default: '1' },
    'throttled-rounds': { type: 'string', default: '3' },
    'size-mib': { type: 'string', default: '1024' },
    mbit: { type: 'string', default: '50' },
    'skip-throttled': { type: 'boolean', default: false },
    'keep-dir': { type: 'boolean', default: false },
    /** Writes a V8 CPU profile of every haul get run into this folder (for `--cpu-prof` analysis). */
    profile: { type: 'string' },
  },
});
const ROUNDS = Number(values.rounds);
const WARMUP = Number(values.warmup);
const T_ROUNDS = Number(values['throttled-rounds']);
const SIZE = Number(values['size-mib']) * MiB;
const BPS = (Number(values.mbit) * 1e6) / 8;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const load = () => os.loadavg()[0]!.toFixed(2);
const env = (extra: Record<string, string> = {}) => {
  const e: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !/^(HAUL_|DATABASE_URL|REDIS_URL|PORT$)/.test(k)) e[k] = v;
  return { ...e, LOG_LEVEL: 'warn', ...extra };
};

const dir = mkdtempSync(join(os.tmpdir(), 'haul-bench-client-'));
const data = join(dir, 'data');
const outDir = join(dir, 'out');
mkdirSync(outDir);
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
  if (!values['keep-dir']) rmSync(dir, { recursive: true, force: true });
});
process.on('SIGINT', () => process.exit(130));

/** Starts a long-running haul command and resolves its base URL from the "listening on" line. */
function startHaul(args: string[], extraEnv: Record<string, string> = {}): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn('node', [HAUL, ...args], { env: env(extraEnv), stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  return new Promise((resolveUrl, reject) => {
    const onData = (b: Buffer) => {
      out += b.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolveUrl({ child, url: m[1]! });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`haul ${args[0]} exited ${code}: ${out}`)));
  });
}

async function stop(child: ChildProcess) {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
  children.delete(child);
}

const haulSync = (args: string[]) => execFileSync('node', [HAUL, ...args], { env: env(), encoding: 'utf8' }).trim();

const TICK = 100; // USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s on Linux

/** CPU seconds (user + system, all threads) a process has used so far. */
function cpuOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / TICK;
}

/**
 * Runs a client to completion: wall seconds, and from /proc (polled every 20 ms, so the last
 * 20 ms are missed) its peak RSS (VmHWM) and CPU time (user + system, all threads).
 */
function timed(cmd: string, args: string[]): Promise<{ seconds: number; rssMiB: number; cpuSeconds: number; stdout: string }> {
  return new Promise((resolveRun, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (b: Buffer) => {
      stdout += b.toString();
    });
    child.stderr!.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    let hwm = 0;
    let cpu = 0;
    const poll = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) hwm = Math.max(hwm, Number(m[1]));
        cpu = Math.max(cpu, cpuOf(child.pid!));
      } catch {}
    }, 20);
    child.once('exit', (code) => {
      clearInterval(poll);
      children.delete(child);
      const seconds = (performance.now() - t0) / 1000;
      if (code !== 0) reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${stderr.slice(-2000)}`));
      else resolveRun({ seconds, rssMiB: hwm / 1024, cpuSeconds: cpu, stdout });
    });
  });
}

function checkSize(path: string) {
  const got = statSync(path).size;
  if (got !== SIZE) throw new Error(`${path}: ${got} bytes, expected ${SIZE}`);
}

async function main() {
  console.log(`bench/client: ${SIZE / MiB} MiB, ${ROUNDS} loopback rounds, machine ${os.cpus().length} cores, load ${load()}`);
  // The file: random bytes (incompressible), written once.
  const src = join(dir, 'big.bin');
  const fd = openSync(src, 'w');
  const block = Buffer.allocUnsafe(16 * MiB);
  for (let at = 0; at < SIZE; at += block.length) writeSync(fd, randomFillSync(block), 0, Math.min(block.length, SIZE - at));
  closeSync(fd);

  const token = haulSync(['token', '--sub', 'bench', '--ttl', '12h', '--data-dir', data]).split('\n').at(-1)!;
  const edge = await startHaul(['edge', '--port', '0', '--data-dir', data]);
  let serve = await startHaul(['serve', '--port', '0', '--data-dir', data], { HAUL_EDGE_URL: edge.url });
  const ingest = JSON.parse(
    haulSync(['ingest', src, '--api', serve.url, '--data-dir', data, '--chunk-size', '10MiB', '--json']).split('\n').at(-1)!,
  );
  const fileId: string = ingest.id ?? ingest.fileId;
  rmSync(src);

  const signedUrl = async (api: string) => {
    const res = await fetch(`${api}/downloads`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ file_id: fileId, client_id: `bench-url-${Date.now()}` }),
    });
    return ((await res.json()) as { download_url: string }).download_url;
  };

  type Client = 'haul' | 'haul-inline' | 'haul-1' | 'aria2c' | 'curl';
  const runClient = async (client: Client, api: string, url: string) => {
    const out = join(outDir, `${client}.bin`);
    rmSync(out, { force: true });
    rmSync(`${out}.aria2`, { force: true });
    let r: {
      seconds: number;
      rssMiB: number;
      cpuSeconds: number;
      stdout: string;
      timings?: Record<string, number>;
      edgeCpuSeconds?: number;
    };
    const edgeCpu0 = cpuOf(edge.child.pid!);
    if (client.startsWith('haul')) {
      const conns = client === 'haul-1' ? '1' : '8';
      const hashing = client === 'haul-inline' ? 'inline' : 'thread';
      const args = ['get', fileId, '-o', out, '--connections', conns, '--hashing', hashing, '--client-id', 'bench'];
      const prof = values.profile ? ['--cpu-prof', `--cpu-prof-dir=${resolve(values.profile)}`] : [];
      r = await timed('node', [...prof, HAUL, ...args, '--api', api, '--token', token, '--json']);
      const done = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
      if (done.type !== 'done' || !done.verified || done.sha256 !== ingest.checksum)
        throw new Error(`haul get: ${r.stdout.slice(-500)}`);
      r.timings = { ...done.timings, splits: done.tail.splits, races: done.tail.races, pairs: done.checkedWhileHashing };
    } else if (client === 'aria2c') {
      r = await timed('aria2c', ['-x8', '-s8', '-k10M', '-q', '--allow-overwrite=true', '-d', outDir, '-o', 'aria2c.bin', url]);
    } else {
      r = await timed('curl', ['-s', '-f', '-o', out, url]);
    }
    r.edgeCpuSeconds = cpuOf(edge.child.pid!) - edgeCpu0;
    checkSize(out);
    rmSync(out, { force: true });
    return r;
  };

  const figures: Record<string, { seconds: number[]; rssMiB: number[]; cpuSeconds: number[]; edgeCpuSeconds: number[] }> = {};
  const record = (
    key: string,
    r: { seconds: number; rssMiB: number; cpuSeconds: number; edgeCpuSeconds?: number; timings?: Record<string, number> },
  ) => {
    figures[key] ??= { seconds: [], rssMiB: [], cpuSeconds: [], edgeCpuSeconds: [] };
    figures[key].seconds.push(r.seconds);
    figures[key].rssMiB.push(r.rssMiB);
    figures[key].cpuSeconds.push(r.cpuSeconds);
    figures[key].edgeCpuSeconds.push(r.edgeCpuSeconds ?? 0);
    const t = r.timings;
    const inner = t
      ? `, in haul: setup ${t.setupMs} ms, transfer ${t.transferMs} ms, finish ${t.finalizeMs} ms, ${t.splits} splits, ${t.pairs} chunks checked while hashing`
      : '';
    console.log(
      `  ${key.padEnd(24)} ${r.seconds.toFixed(2)} s, CPU ${r.cpuSeconds.toFixed(2)} s (edge ${(r.edgeCpuSeconds ?? 0).toFixed(2)} s), peak RSS ${r.rssMiB.toFixed(0)} MiB${inner}  (load ${load()})`,
    );
  };

  console.log('\n1. loopback');
  const loopUrl = await signedUrl(serve.url);
  const order: Client[] = ['haul', 'aria2c', 'curl', 'haul-inline'];
  // One round first, not counted: the edge's JIT warms up and the machine's first touch of fresh
  // memory (which costs several times a reuse on this VM) is paid before anything is measured.
  for (let round = 0; round < WARMUP; round++)
    for (const c of order) {
      const r = await runClient(c, serve.url, loopUrl);
      console.log(`  warm-up ${c.padEnd(16)} ${r.seconds.toFixed(2)} s (not counted)`);
    }
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < order.length; i++) {
      const c = order[(i + round) % order.length]!;
      record(`loopback ${c}`, await runClient(c, serve.url, loopUrl));
    }
  }

  if (!values['skip-throttled']) {
    console.log(`\n2. ${values.mbit} Mbit/s per connection`);
    const edgeUrl = new URL(edge.url);
    const throttle = await startThrottle({ host: edgeUrl.hostname, port: Number(edgeUrl.port) }, BPS);
    await stop(serve.child);
    serve = await startHaul(['serve', '--port', '0', '--data-dir', data], { HAUL_EDGE_URL: `http://127.0.0.1:${throttle.port}` });
    const slowUrl = await signedUrl(serve.url);
    for (let round = 0; round < T_ROUNDS; round++) {
      const pair: Client[] = round % 2 ? ['aria2c', 'haul'] : ['haul', 'aria2c'];
      for (const c of pair) record(`throttled ${c}`, await runClient(c, serve.url, slowUrl));
    }
    record('throttled haul-1', await runClient('haul-1', serve.url, slowUrl));
    record('throttled curl', await runClient('curl', serve.url, slowUrl));
    await throttle.close();
  }
  await stop(serve.child);
  await stop(edge.child);

  // Report.
  const med = (k: string) => (figures[k] ? median(figures[k].seconds) : Number.NaN);
  const mibs = (k: string) => SIZE / MiB / med(k);
  const rows: string[] = ['| figure | haul get | aria2c -x8 -s8 -k10M | curl | ratio | goal |', '|---|--:|--:|--:|--:|---|'];
  const h = med('loopback haul');
  rows.push(
    `| loopback wall time, median s | ${h.toFixed(2)} | ${med('loopback aria2c').toFixed(2)} | ${med('loopback curl').toFixed(2)} | ` +
      `${(h / med('loopback aria2c')).toFixed(2)}× aria2c, ${(h / med('loopback curl')).toFixed(2)}× curl | ≤ 1.0× aria2c, ≤ 1.5× curl |`,
  );
  const cpu = (k: string) => (figures[k] ? median(figures[k].cpuSeconds).toFixed(2) : '-');
  rows.push(
    `| loopback CPU time (user + system), median s | ${cpu('loopback haul')} | ${cpu('loopback aria2c')} | ${cpu('loopback curl')} | | |`,
  );
  const ecpu = (k: string) => (figures[k] ? median(figures[k].edgeCpuSeconds).toFixed(2) : '-');
  rows.push(
    `| loopback, the edge's CPU time serving it, median s | ${ecpu('loopback haul')} | ${ecpu('loopback aria2c')} | ${ecpu('loopback curl')} | | |`,
  );
  const ht = med('loopback haul-inline');
  rows.push(
    `| loopback, haul get --hashing inline, median s | ${ht.toFixed(2)} | | | ` +
      `${(ht / med('loopback aria2c')).toFixed(2)}× aria2c, ${(ht / med('loopback curl')).toFixed(2)}× curl | |`,
  );
  const peak = (xs: number[]) => `${median(xs).toFixed(0)} / ${Math.max(...xs).toFixed(0)}`;
  const rss = [...(figures['loopback haul']?.rssMiB ?? []), ...(figures['throttled haul']?.rssMiB ?? [])];
  rows.push(`| peak RSS of haul get, MiB (median / max) | ${peak(rss)} | | | | ≤ 150 |`);
  rows.push(`| peak RSS, haul get --hashing inline, MiB | ${peak(figures['loopback haul-inline']?.rssMiB ?? [])} | | | | |`);
  if (figures['throttled haul']) {
    rows.push(
      `| ${values.mbit} Mbit/s per connection, MiB/s | ${mibs('throttled haul').toFixed(1)} (8 conns), ${mibs('throttled haul-1').toFixed(1)} (1 conn) | ` +
        `${mibs('throttled aria2c').toFixed(1)} | ${mibs('throttled curl').toFixed(1)} | ` +
        `${(mibs('throttled haul') / mibs('throttled haul-1')).toFixed(2)}× its 1-conn speed, ${(mibs('throttled haul') / mibs('throttled aria2c')).toFixed(2)}× aria2c | ≥ 7×, ≥ 1.0× |`,
    );
  }
  console.log(`\n${rows.join('\n')}`);
  mkdirSync(join(ROOT, 'bench/client/out'), { recursive: true });
  const file = join(ROOT, 'bench/client/out', `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    file,
    JSON.stringify({ size: SIZE, rounds: ROUNDS, mbit: Number(values.mbit), figures, load: os.loadavg() }, null, 2),
  );
  console.log(`\nraw figures: ${file}`);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
