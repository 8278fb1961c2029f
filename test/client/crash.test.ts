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
 * and started again each time. The final file must be exact, and each restart may fetch again at
 * most connections × chunk size of the bytes earlier runs had already received: measured from the
 * byte ranges the proxy served to each run.
 */
const HAUL = new URL('../../bin/haul.js', import.meta.url).pathname;
const KiB = 1024;
const CHUNK = 256 * KiB;
const CONNECTIONS = 4;
const SIZE = 32 * 1024 * KiB;
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

/** Bytes of `ranges` that fall inside `seen` (both lists of [start, end)). */
function overlap(ranges: Array<[number, number]>, seen: Array<[number, number]>): number {
  let total = 0;
  for (const [a, b] of ranges) for (const [c, d] of seen) total += Math.max(0, Math.min(b, d) - Math.max(a, c));
  return total;
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

it('survives 10 SIGKILLs: the file is exact and each restart re-fetches at most connections × chunk size', async () => {
  const bytes = bytesOf(SIZE, 77);
  const { fileId } = await rig.add('crash.bin', bytes, CHUNK);
  const out = rig.out('crash.bin');
  // Throttled so that kills land mid-transfer: 4 × 768 KiB/s.
  rig.proxy.faults.perConnectionBps = 768 * KiB;

  const runs: Array<Array<[number, number]>> = [];
  const journaled: number[] = [];
  for (let kill = 0; kill < 10; kill++) {
    rig.proxy.resetStats();
    const p = get(fileId, out);
    await expect.poll(() => p.lines.some((l) => l.includes('"type":"start"')), { timeout: 20_000, interval: 10 }).toBe(true);
    await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 800)));
    p.child.kill('SIGKILL');
    expect(await p.exited).toBe(null);
    runs.push(rig.proxy.stats.served.map(([a, b]) => [a, b] as [number, number]));
    journaled.push((await readJournal(`${out}.part.journal`))?.done.size ?? 0);
  }
  expect(existsSync(out)).toBe(false);
  // The journal only grows: nothing verified is ever forgotten.
  for (let i = 1; i < journaled.length; i++) expect(journaled[i]!).toBeGreaterThanOrEqual(journaled[i - 1]!);

  rig.proxy.resetStats();
  rig.proxy.faults.perConnectionBps = 0;
  const last = get(fileId, out);
  expect(await last.exited).toBe(0);
  runs.push(rig.proxy.stats.served.map(([a, b]) => [a, b] as [number, number]));
  const done = JSON.parse(last.lines.at(-1)!);
  expect(done).toMatchObject({ type: 'done', sha256: sha256(bytes), bytes: SIZE, verified: true, completed: true });
  expect(sha256(await readFile(out))).toBe(sha256(bytes));
  expect(existsSync(`${out}.part`) || existsSync(`${out}.part.journal`) || existsSync(`${out}.part.lock`)).toBe(false);

  // Per restart: bytes served to run k+1 that runs 0..k had already been sent.
  const refetched: number[] = [];
  for (let k = 1; k < runs.length; k++) {
    const before = union(runs.slice(0, k).flat());
    refetched.push(overlap(union(runs[k]!), before));
  }
  console.log(
    `crash-resume: journaled chunks after each kill ${journaled.join(', ')}; re-fetched per restart (KiB) ${refetched.map((b) => Math.round(b / KiB)).join(', ')}`,
  );
  for (const b of refetched) expect(b).toBeLessThanOrEqual(CONNECTIONS * CHUNK);
  expect(done.receivedBytes).toBeLessThan(SIZE);
}, 60_000);
