import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { StartDownloadDocument } from '../../src/client/generated/graphql.ts';
import { bytesOf, sha256 } from '../helpers/api.ts';
import { type ClientRig, startClientRig } from '../helpers/client.ts';
import { cleanEnv } from '../helpers/process.ts';
import { gql } from '../helpers/server.ts';

const HAUL = new URL('../../bin/haul.js', import.meta.url).pathname;
const KiB = 1024;
const MiB = 1024 * KiB;
let rig: ClientRig;
let n = 0;

beforeAll(async () => {
  rig = await startClientRig();
});
beforeEach(() => rig.heal());
afterAll(async () => {
  await rig?.[Symbol.asyncDispose]();
});

interface Run {
  child: ChildProcess;
  out: Array<{ at: number; line: string }>;
  err: Array<{ at: number; line: string }>;
  exited: Promise<number | null>;
  stdout(): string;
  stderr(): string;
}

function haul(args: string[], opts: { auth?: boolean } = {}): Run {
  const auth = opts.auth === false ? [] : ['--api', rig.api, '--token', rig.token];
  const child = spawn('node', [HAUL, ...args, ...auth], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  const collect = (stream: NodeJS.ReadableStream, into: Run['out']) => {
    let buf = '';
    stream.on('data', (b: Buffer) => {
      buf += b.toString();
      const parts = buf.split('\n');
      buf = parts.pop() ?? '';
      for (const line of parts) if (line) into.push({ at: Date.now(), line });
    });
  };
  const run: Run = {
    child,
    out: [],
    err: [],
    exited: new Promise((r) => child.once('exit', (code) => r(code))),
    stdout: () => run.out.map((l) => l.line).join('\n'),
    stderr: () => run.err.map((l) => l.line).join('\n'),
  };
  collect(child.stdout!, run.out);
  collect(child.stderr!, run.err);
  return run;
}

async function file(size: number, chunkSize = 64 * KiB) {
  const bytes = bytesOf(size, ++n + 100);
  const name = `cli-${n}.bin`;
  const { fileId } = await rig.add(name, bytes, chunkSize);
  return { bytes, fileId, name, out: rig.out(name) };
}

/** `haul get --json` of a 3 MiB file through a throttled proxy, once some of it is verified. */
async function midDownload() {
  const f = await file(3 * MiB);
  rig.proxy.faults.perConnectionBps = 128 * KiB;
  const r = haul(['get', f.fileId, '-o', f.out, '--json']);
  await expect.poll(() => r.out.some((l) => /"type":"progress".*"doneBytes":[1-9]/.test(l.line)), { timeout: 20_000 }).toBe(true);
  return { f, r };
}

describe('haul get', () => {
  it('--json: every line is a JSON event, ending with done; the file is verified', async () => {
    const f = await file(2 * MiB);
    const r = haul(['get', f.fileId, '-o', f.out, '--json']);
    expect(await r.exited).toBe(0);
    const events = r.out.map((l) => JSON.parse(l.line));
    expect(events[0]).toMatchObject({ type: 'resume-check', outcome: 'new' });
    expect(events.find((e) => e.type === 'start')).toMatchObject({ name: f.name, size: 2 * MiB, chunkCount: 32, connections: 8 });
    expect(events.some((e) => e.type === 'progress')).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: 'done', path: f.out, sha256: sha256(f.bytes), verified: true, completed: true });
    expect(sha256(await readFile(f.out))).toBe(sha256(f.bytes));
  });

  it('off a terminal: a progress line every few seconds on stderr, the saved path on stdout', async () => {
    const f = await file(3 * MiB);
    rig.proxy.faults.perConnectionBps = 96 * KiB;
    const r = haul(['get', f.fileId, '-o', `${rig.dir}/`]);
    expect(await r.exited).toBe(0);
    expect(r.stdout()).toBe(`${f.out}  sha256 ${sha256(f.bytes)}`);
    const bars = r.err.filter((l) => /\[[#.]+\]\s+\d+\.\d%/.test(l.line) && l.line.includes('downloading'));
    expect(bars.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < bars.length; i++) expect(bars[i]!.at - bars[i - 1]!.at).toBeGreaterThanOrEqual(2500);
    expect(r.stderr()).toMatch(/haul get: 3\.0 MiB in [\d.]+ s at .*\/s, verified/);
  });

  it('on a terminal (a pseudo-terminal through script): a bar redrawn in place with speed, ETA and connections', async () => {
    const f = await file(3 * MiB);
    rig.proxy.faults.perConnectionBps = 128 * KiB;
    const cmd = ['node', HAUL, 'get', f.fileId, '-o', f.out, '--api', rig.api, '--token', rig.token].join(' ');
    const child = spawn('script', ['-qfec', cmd, '/dev/null'], {
      env: { ...cleanEnv(), TERM: 'xterm' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let tty = '';
    child.stdout.on('data', (b: Buffer) => {
      tty += b.toString();
    });
    const code = await new Promise((r) => child.once('exit', r));
    expect(code).toBe(0);
    // Redrawn in place: cursor up one line, clear it, draw again.
    expect(tty).toContain('\x1b[1F\x1b[2K');
    expect(tty).toMatch(/\d+(\.\d)? (KiB|MiB)\/s {2}ETA \d+:\d\d/);
    expect(tty).toMatch(/\d\/8 conns/);
    expect(sha256(await readFile(f.out))).toBe(sha256(f.bytes));
  });

  it('Ctrl-C pauses (exit 130, session PAUSED, journal kept); the same command resumes', async () => {
    const { f, r } = await midDownload();
    r.child.kill('SIGINT');
    expect(await r.exited).toBe(130);
    const events = r.out.map((l) => JSON.parse(l.line));
    const sessionId = events.find((e) => e.type === 'start').sessionId;
    expect(events).toContainEqual({ type: 'paused', reason: 'stopped by the caller', reported: true });
    expect(events.at(-1)).toMatchObject({ type: 'error', code: 'ABORTED', exitCode: 130 });
    expect((await rig.session(sessionId)).status).toBe('PAUSED');
    expect(existsSync(`${f.out}.part.journal`)).toBe(true);

    rig.heal();
    const again = haul(['get', sessionId, '-o', f.out]);
    expect(await again.exited).toBe(0);
    expect(again.stderr()).toMatch(/resuming cli-\d+\.bin: [\d.]+ (KiB|MiB) already verified/);
    expect(sha256(await readFile(f.out))).toBe(sha256(f.bytes));
    expect((await rig.session(sessionId)).status).toBe('COMPLETED');
  });

  it('Ctrl-Z pauses the session and stops the process; fg (SIGCONT) carries on to the end', async () => {
    const { f, r } = await midDownload();
    const sessionId = JSON.parse(r.out.find((l) => l.line.includes('"type":"start"'))!.line).sessionId;
    r.child.kill('SIGTSTP');
    const state = () => readFileSync(`/proc/${r.child.pid}/stat`, 'utf8').split(') ')[1]?.[0];
    await expect.poll(state, { timeout: 10_000 }).toBe('T');
    expect((await rig.session(sessionId)).status).toBe('PAUSED');
    rig.heal();
    r.child.kill('SIGCONT');
    expect(await r.exited).toBe(0);
    expect(JSON.parse(r.out.at(-1)!.line)).toMatchObject({ type: 'done', sha256: sha256(f.bytes) });
    expect((await rig.session(sessionId)).status).toBe('COMPLETED');
  });

  it('a signed URL, with no API at all', async () => {
    const f = await file(1 * MiB + 3);
    const t = await gql(rig.api, rig.token, StartDownloadDocument, { fileId: f.fileId, clientId: 'for-url' });
    const r = haul(['get', t.data!.startDownload.downloadUrl, '-o', `${rig.dir}/`, '--json'], { auth: false });
    expect(await r.exited).toBe(0);
    expect(JSON.parse(r.out.at(-1)!.line)).toMatchObject({ type: 'done', path: f.out, sha256: sha256(f.bytes), verified: true });
  });

  it('exit codes: 3 for an unknown id, 2 for usage errors and an existing output, 4 for a corrupt source', async () => {
    const unknown = haul(['get', '00000000-0000-4000-8000-000000000000', '-o', rig.out('nothing.bin')]);
    expect(await unknown.exited).toBe(3);
    expect(unknown.stderr()).toContain('NOT_FOUND');
    expect(await haul(['get', 'not-an-id']).exited).toBe(2);
    expect(await haul(['get', '00000000-0000-4000-8000-000000000000', '--connections', '0']).exited).toBe(2);
    const f = await file(128 * KiB);
    await writeFile(f.out, 'already here');
    const exists = haul(['get', f.fileId, '-o', f.out]);
    expect(await exists.exited).toBe(2);
    expect(exists.stderr()).toContain('OUTPUT_EXISTS');
    rig.proxy.faults.corrupt.set(70_000, 1000);
    const corrupt = haul(['get', f.fileId, '-o', f.out, '--force']);
    expect(await corrupt.exited).toBe(4);
    expect(corrupt.stderr()).toContain('CORRUPT_SOURCE');
  });
});

describe('haul status and haul pause', () => {
  it('status lists live sessions and shows one; pause stops a running haul get (exit 130)', async () => {
    // Slow enough (about 10 s) that the three commands below run well before it could finish.
    const f = await file(4 * MiB);
    rig.proxy.faults.perConnectionBps = 48 * KiB;
    const r = haul(['get', f.fileId, '-o', f.out, '--json', '--client-id', 'desk']);
    await expect.poll(() => r.out.some((l) => l.line.includes('"type":"start"')), { timeout: 20_000 }).toBe(true);
    const sessionId = JSON.parse(r.out.find((l) => l.line.includes('"type":"start"'))!.line).sessionId;

    const list = haul(['status']);
    expect(await list.exited).toBe(0);
    expect(list.stdout()).toMatch(new RegExp(`${sessionId}\\s+ACTIVE\\s+[\\d.]+%.*${f.name} \\(desk\\)`));
    const one = haul(['status', sessionId, '--json']);
    expect(await one.exited).toBe(0);
    expect(JSON.parse(one.stdout())).toMatchObject({ id: sessionId, status: 'ACTIVE', clientId: 'desk', file: { name: f.name } });

    const pause = haul(['pause', sessionId]);
    expect(await pause.exited).toBe(0);
    expect(pause.stdout()).toMatch(new RegExp(`^paused ${sessionId} at [\\d.]+%`));
    expect(await r.exited).toBe(130);
    expect(JSON.parse(r.out.at(-1)!.line)).toMatchObject({ type: 'error', code: 'PAUSED' });
    expect((await rig.session(sessionId)).status).toBe('PAUSED');

    const gone = haul(['status', '00000000-0000-4000-8000-000000000000']);
    expect(await gone.exited).toBe(3);
  });
});
