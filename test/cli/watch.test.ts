import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CompleteDownloadDocument, ReportProgressDocument, StartDownloadDocument } from '../../src/client/generated/graphql.ts';
import { cleanEnv } from '../helpers/process.ts';
import { gql, startTestServer, type TestServer } from '../helpers/server.ts';

const HAUL = new URL('../../bin/haul.js', import.meta.url).pathname;
const CHUNK = 65536;
let srv: TestServer;
let fileId: string;
let checksum: string;
let token: string;

beforeAll(async () => {
  srv = await startTestServer({ db: 'pglite', role: 'api' });
  fileId = await srv.addFile('watched.bin', Buffer.alloc(4 * CHUNK, 5), { chunkSize: CHUNK });
  checksum = (await srv.runtime.db.prisma.file.findUniqueOrThrow({ where: { id: fileId } })).checksum!;
  token = await srv.token('alice');
});
afterAll(async () => {
  await srv?.[Symbol.asyncDispose]();
});

/** Runs `haul watch …` as a real process, collecting stdout lines as they arrive. */
function watch(args: string[]) {
  const child = spawn('node', [HAUL, 'watch', ...args, '--api', srv.url, '--token', token], {
    env: cleanEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let buf = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => {
    buf += b.toString();
    const parts = buf.split('\n');
    buf = parts.pop() ?? '';
    lines.push(...parts.filter(Boolean));
  });
  child.stderr.on('data', (b: Buffer) => {
    err += b.toString();
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, lines, exited, stderr: () => err };
}

describe('haul watch: a second device follows a download live', () => {
  it('--json prints the snapshot, each change, and exits 0 when the download completes', async () => {
    const id = (await gql(srv.url, token, StartDownloadDocument, { fileId, clientId: 'laptop' })).data!.startDownload.session.id;
    const w = watch([id, '--json']);
    await expect.poll(() => w.lines.length, { timeout: 15_000 }).toBeGreaterThan(0);
    for (const chunk of [0, 1, 2]) {
      await gql(srv.url, token, ReportProgressDocument, { sessionId: id, completedChunks: [chunk] });
      await expect.poll(() => w.lines.length).toBe(chunk + 2);
    }
    await gql(srv.url, token, CompleteDownloadDocument, { sessionId: id, checksum });
    expect(await w.exited).toBe(0);
    const events = w.lines.map((l) => JSON.parse(l));
    expect(events.map((e) => e.kind)).toEqual(['SNAPSHOT', 'PROGRESS', 'PROGRESS', 'PROGRESS', 'COMPLETED']);
    expect(events.map((e) => e.session.bytesConfirmed)).toEqual([0, CHUNK, 2 * CHUNK, 3 * CHUNK, 4 * CHUNK]);
  });

  it('--all shows plain progress lines for every device when stdout is not a terminal', async () => {
    const w = watch(['--all']);
    await new Promise((r) => setTimeout(r, 1500));
    const id = (await gql(srv.url, token, StartDownloadDocument, { fileId, clientId: 'phone' })).data!.startDownload.session.id;
    await gql(srv.url, token, ReportProgressDocument, { sessionId: id, completedChunks: [0] });
    // Off a terminal a line per session is printed at most every 3 s (and on status changes).
    await new Promise((r) => setTimeout(r, 3200));
    await gql(srv.url, token, ReportProgressDocument, { sessionId: id, completedChunks: [1] });
    await expect.poll(() => w.lines.some((l) => l.includes('(phone)') && l.includes('#')), { timeout: 10_000 }).toBe(true);
    w.child.kill('SIGINT');
    expect(await w.exited).toBe(0);
    const phone = w.lines.filter((l) => l.includes('(phone)'));
    expect(phone.length).toBeGreaterThan(0);
    expect(phone.at(-1)).toMatch(/watched\.bin \(phone\)\s+\[#+\.*\]\s+\d+\.\d%/);
  });

  it('refuses a session of another user with its code and exit code 1', async () => {
    const bobs = (await gql(srv.url, await srv.token('bob'), StartDownloadDocument, { fileId, clientId: 'x' })).data!
      .startDownload.session.id;
    const w = watch([bobs, '--json']);
    expect(await w.exited).toBe(1);
    expect(w.stderr()).toContain('NOT_FOUND');
  });
});
