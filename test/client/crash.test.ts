import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { readJournal } from '../../src/client/index.ts';
import { bytesOf, sha256 } from '../helpers/api.ts';
import { type ClientRig, startClientRig } from '../helpers/client.ts';
import { cleanEnv } from '../helpers/process.ts';

/**
 * Crash-resume (issue 5): `haul get` killed with SIGKILL at 10 random moments of one download
 * and started again each time. The final file must be exact. What a crash costs is measured from
 * the byte ranges the proxy served to each run and the journal each kill left behind:
 * - lost at kill k: bytes served to run k outside the chunks the journal holds after the kill,
 *   done or written (received but not kept, so fetched again later; a written chunk is checked
 *   from disk at the restart): at most connections × chunk size — each connection holds at most
 *   one chunk that is not complete yet. "Served" is what the proxy wrote to the
 *   socket; what was still in socket buffers at the kill never reached haul, at most one paced
 *   write (SLICE) per connection, which the bound allows for;
 * - a restart never fetches a chunk the journal it started from already holds.
 */
const HAUL = new URL('../../bin/haul.js', import.meta.url).pathname;
const KiB = 1024;
const CHUNK = 256 * KiB;
const CONNECTIONS = 4;
const SIZE = 32 * 1024 * KiB;
const BPS = 768 * KiB;
/** The throttling proxy writes bytesPerSecond / 20 at a time (test/helpers/fault-proxy.ts). */
const SLICE = BPS / 20;
let rig: ClientRig;

beforeAll(async () => {
  rig = await startClientRig();
});
afterAll(async () => {
  await rig?.[Symbol.asyncDispose]();
});

function get(fileId: string, out: string): { child: ChildProcess; lines: string[]; exited: Promise<number | null> } {
  const child = spawn(
    'node',
    [HAUL, 'get', fileId, '-o', out, '--connections', String(CONNECTIONS), '--json', '--api', rig.api, '--token', rig.token],
    { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const lines: string[] = [];
  let buf = '';
  child.stdout!.on('data', (b: Buffer) => {
    buf += b.toString();
    const parts = buf.split('\n');
    buf = parts.pop() ?? '';
    lines.push(...parts.filter(Boolean));
  });
  child.stderr!.resume();
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, lines, exited };
}

/** Bytes of `ranges` (merged, [start, end)) inside the chunks of `chunks`. */
function inside(ranges: Array<[number, number]>, chunks: ReadonlySet<number>): number {
  let total = 0;
  for (const [a, b] of ranges)
    for (let c = Math.floor(a / CHUNK); c * CHUNK < b; c++)
      if (chunks.has(c)) total += Math.min(b, (c + 1) * CHUNK) - Math.max(a, c * CHUNK);
  return total;
}

/** Bytes of `ranges` (merged) outside the chunks of `chunks`. */
function outside(ranges: Array<[number, number]>, chunks: ReadonlySet<number>): number {
  return ranges.reduce((n, [a, b]) => n + b - a, 0) - inside(ranges, chunks);
}

/** Merges ranges so that overlap() never counts a byte twice. */
function union(ranges: Array<[number, number]>): Array<[number, number]> {
  const sorted = [...ranges].filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  const out: Array<[number, number]> = [];
  for (const [a, b] of sorted) {
    const last = out.at(-1);
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

it('survives 10 SIGKILLs: the file is exact, each kill loses at most connections × chunk size, and no journaled chunk is fetched again', async () => {
  const bytes = bytesOf(SIZE, 77);
  const { fileId } = await rig.add('crash.bin', bytes, CHUNK);
  const out = rig.out('crash.bin');
  // Throttled so that kills land mid-transfer: 4 × 768 KiB/s.
  rig.proxy.faults.perConnectionBps = BPS;

  const runs: Array<Array<[number, number]>> = [];
  const journals: Array<ReadonlySet<number>> = [];
  for (let kill = 0; kill < 10; kill++) {
    rig.proxy.resetStats();
    const p = get(fileId, out);
    await expect.poll(() => p.lines.some((l) => l.includes('"type":"start"')), { timeout: 20_000, interval: 10 }).toBe(true);
    await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 800)));
    p.child.kill('SIGKILL');
    expect(await p.exited).toBe(null);
    runs.push(rig.proxy.stats.served.map(([a, b]) => [a, b] as [number, number]));
    const j = await readJournal(`${out}.part.journal`);
    journals.push(new Set([...(j?.done ?? []), ...(j?.written ?? [])]));
  }
  expect(existsSync(out)).toBe(false);
  // The journal only grows: nothing verified is ever forgotten.
  for (let i = 1; i < journals.length; i++) for (const c of journals[i - 1]!) expect(journals[i]!.has(c)).toBe(true);
  rig.proxy.resetStats();
  rig.proxy.faults.perConnectionBps = 0;
  const last = get(fileId, out);
  expect(await last.exited).toBe(0);
  runs.push(rig.proxy.stats.served.map(([a, b]) => [a, b] as [number, number]));
  const done = JSON.parse(last.lines.at(-1)!);
  expect(done).toMatchObject({ type: 'done', sha256: sha256(bytes), bytes: SIZE, verified: true, completed: true });
  expect(sha256(await readFile(out))).toBe(sha256(bytes));
  expect(existsSync(`${out}.part`) || existsSync(`${out}.part.journal`) || existsSync(`${out}.part.lock`)).toBe(false);

  const lost = journals.map((j, k) => outside(union(runs[k]!), j));
  const refetchedJournaled = journals.map((j, k) => inside(union(runs[k + 1]!), j));
  console.log(
    `crash-resume: journaled chunks after each kill ${journals.map((j) => j.size).join(', ')}; ` +
      `received but not journaled per kill (KiB) ${lost.map((b) => Math.round(b / KiB)).join(', ')}`,
  );
  for (const b of lost) expect(b).toBeLessThanOrEqual(CONNECTIONS * (CHUNK + SLICE));
  expect(refetchedJournaled).toEqual(journals.map(() => 0));
  expect(done.receivedBytes).toBeLessThan(SIZE);
}, 60_000);
