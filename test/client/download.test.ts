import { existsSync } from 'node:fs';
import { open, readFile, rm, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StartDownloadDocument } from '../../src/client/generated/graphql.ts';
import { type DownloadEvent, type DownloadOptions, download, HaulClientError, readJournal } from '../../src/client/index.ts';
import { Journal } from '../../src/client/journal.ts';
import { bytesOf, sha256 } from '../helpers/api.ts';
import { type ClientRig, startClientRig } from '../helpers/client.ts';
import { gql } from '../helpers/server.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
const CHUNK = 64 * KiB;
let rig: ClientRig;

beforeAll(async () => {
  rig = await startClientRig();
});
afterAll(async () => {
  await rig?.[Symbol.asyncDispose]();
});

const opts = (fileId: string, out: string, extra: Partial<DownloadOptions> = {}): DownloadOptions => ({
  api: rig.api,
  token: rig.token,
  fileId,
  out: rig.out(out),
  clientId: `t-${out}`,
  ...extra,
});

/** Starts a download through a throttled proxy and aborts it once `bytes` are verified. */
async function interrupted(fileId: string, out: string, bytes: number) {
  rig.proxy.faults.perConnectionBps = 512 * KiB;
  const ctl = new AbortController();
  const err = await download(
    opts(fileId, out, {
      signal: ctl.signal,
      onProgress: (p) => {
        if (p.doneBytes >= bytes) ctl.abort();
      },
      progressIntervalMs: 20,
    }),
  ).catch((e) => e);
  rig.heal();
  expect(err).toBeInstanceOf(HaulClientError);
  expect(err.code).toBe('ABORTED');
  const journal = await readJournal(`${rig.out(out)}.part.journal`);
  expect(journal?.done.size).toBeGreaterThan(0);
  return journal!;
}

describe('download(): sizes', () => {
  const cases: Array<[string, number]> = [
    ['0 bytes', 0],
    ['1 byte', 1],
    ['less than one chunk', 1000],
    ['exactly one chunk', CHUNK],
    ['many chunks and a short tail', 3 * MiB + 1234],
  ];
  for (const [label, size] of cases) {
    it(`${label}: the file, its SHA-256 and the session agree`, async () => {
      const bytes = bytesOf(size, size + 7);
      const { fileId } = await rig.add(`size-${size}.bin`, bytes, CHUNK);
      const r = await download(opts(fileId, `size-${size}.bin`));
      expect(r.sha256).toBe(sha256(bytes));
      expect(sha256(await readFile(r.path))).toBe(sha256(bytes));
      expect(r.bytes).toBe(size);
      expect(r.verified).toBe(true);
      expect(r.completed).toBe(true);
      expect(r.receivedBytes).toBe(size);
      expect(existsSync(`${r.path}.part`) || existsSync(`${r.path}.part.journal`) || existsSync(`${r.path}.part.lock`)).toBe(
        false,
      );
      const s = await rig.session(r.sessionId!);
      expect(s.status).toBe('COMPLETED');
      expect(Number(s.bytesConfirmed)).toBe(size);
    });
  }

  it('names the output after the file when `out` is a function, and refuses to overwrite', async () => {
    const bytes = bytesOf(100 * KiB, 3);
    const { fileId } = await rig.add('named.bin', bytes, CHUNK);
    const r = await download({ ...opts(fileId, 'x'), out: (name) => rig.out(`from-fn-${name}`) });
    expect(r.path).toBe(rig.out('from-fn-named.bin'));
    const again = await download({ ...opts(fileId, 'x'), out: (name) => rig.out(`from-fn-${name}`) }).catch((e) => e);
    expect(again).toMatchObject({ code: 'OUTPUT_EXISTS' });
    const forced = await download({ ...opts(fileId, 'x'), out: r.path, overwrite: true });
    expect(forced.sha256).toBe(sha256(bytes));
  });

  it('runs request after request on one kept-alive connection', async () => {
    // One connection claims at most 32 MiB per request: 70 MiB is three requests in a row.
    const bytes = bytesOf(70 * MiB, 9);
    const { fileId } = await rig.add('keep-alive.bin', bytes, MiB);
    rig.proxy.resetStats();
    const r = await download(opts(fileId, 'keep-alive.bin', { connections: 1 }));
    expect(r.sha256).toBe(sha256(bytes));
    expect(rig.proxy.stats.dataConnections.length).toBe(3);
    expect(new Set(rig.proxy.stats.dataConnections).size).toBe(1);
  });

  it('continues an existing session by id', async () => {
    const bytes = bytesOf(300 * KiB, 4);
    const { fileId } = await rig.add('by-session.bin', bytes, CHUNK);
    const t = await gql(rig.api, rig.token, StartDownloadDocument, { fileId, clientId: 'phone' });
    const sessionId = t.data!.startDownload.session.id;
    const r = await download({ api: rig.api, token: rig.token, sessionId, out: rig.out('by-session.bin') });
    expect(r.sessionId).toBe(sessionId);
    expect(r.sha256).toBe(sha256(bytes));
    expect((await rig.session(sessionId)).status).toBe('COMPLETED');
  });
});

describe('download(): the tail', () => {
  it('idle connections split the remaining chunks; split chunks are verified, and a bad half is caught', async () => {
    // 4 chunks of 1 MiB for 8 connections: the queue is empty from the start, so the idle half splits.
    const bytes = bytesOf(4 * MiB, 21);
    const { fileId } = await rig.add('split.bin', bytes, MiB);
    rig.proxy.faults.perConnectionBps = 512 * KiB;
    rig.proxy.faults.corrupt.set(MiB + 900 * KiB, 1);
    const events: DownloadEvent[] = [];
    const r = await download(opts(fileId, 'split.bin', { onEvent: (e) => events.push(e) })).finally(() => rig.heal());
    expect(r.sha256).toBe(sha256(bytes));
    expect(r.tail.splits).toBeGreaterThanOrEqual(4);
    expect(events.filter((e) => e.type === 'corrupt-chunk')).toEqual([
      { type: 'corrupt-chunk', chunk: 1, source: rig.proxy.url, count: 1 },
    ]);
    expect(r.refetchedChunks).toBe(1);
  });
});

describe('download(): connections', () => {
  it('starts with two and opens all of them when each connection is held to a crawl', async () => {
    const bytes = bytesOf(6 * MiB, 23);
    const { fileId } = await rig.add('ramp.bin', bytes, 256 * KiB);
    rig.proxy.faults.perConnectionBps = 1024 * KiB;
    rig.proxy.resetStats();
    const active: number[] = [];
    let connections = 0;
    const r = await download(
      opts(fileId, 'ramp.bin', { onProgress: (p) => active.push(p.activeConnections), progressIntervalMs: 10 }),
    ).finally(() => {
      connections = new Set(rig.proxy.stats.dataConnections).size;
      rig.heal();
    });
    expect(r.sha256).toBe(sha256(bytes));
    // The receiving thread waits on the network: the ramp (ramp.ts) goes from 2 to all 8.
    expect(active.find((n) => n > 0)).toBeLessThanOrEqual(2);
    expect(Math.max(...active)).toBe(8);
    expect(connections).toBe(8);
  });
});

describe('download(): resume', () => {
  it('an aborted download pauses the session, keeps its journal, and resumes without fetching verified chunks again', async () => {
    const bytes = bytesOf(4 * MiB, 11);
    const { fileId } = await rig.add('resume.bin', bytes, CHUNK);
    const journal = await interrupted(fileId, 'resume.bin', 1 * MiB);
    const paused = await rig.session(journal.header.sessionId!);
    expect(paused.status).toBe('PAUSED');
    expect(paused.completedChunks.length).toBeGreaterThanOrEqual(journal.done.size - 8);

    const r = await download(opts(fileId, 'resume.bin'));
    expect(r.sha256).toBe(sha256(bytes));
    expect(r.sessionId).toBe(journal.header.sessionId);
    expect(r.resumedBytes).toBe(journal.done.size * CHUNK);
    expect(r.receivedBytes).toBe(bytes.length - r.resumedBytes);
    expect((await rig.session(r.sessionId!)).status).toBe('COMPLETED');
  });

  it('a .part without its journal is verified chunk by chunk, and only bad or missing chunks are fetched', async () => {
    const bytes = bytesOf(2 * MiB, 12);
    const { fileId } = await rig.add('nojournal.bin', bytes, CHUNK);
    const journal = await interrupted(fileId, 'nojournal.bin', 512 * KiB);
    await rm(`${rig.out('nojournal.bin')}.part.journal`);
    const events: DownloadEvent[] = [];
    const r = await download(opts(fileId, 'nojournal.bin', { onEvent: (e) => events.push(e) }));
    expect(r.sha256).toBe(sha256(bytes));
    const check = events.find((e) => e.type === 'resume-check');
    expect(check).toMatchObject({ outcome: 'new' });
    expect((check as { verifiedChunks: number }).verifiedChunks).toBeGreaterThanOrEqual(journal.done.size);
    expect(r.receivedBytes).toBeLessThanOrEqual(bytes.length - journal.done.size * CHUNK);
  });

  it.each(['thread', 'inline'] as const)(
    'a journaled chunk whose bytes are wrong on disk (a power cut) is caught while hashing (%s) and fetched again',
    async (hashing) => {
      const bytes = bytesOf(2 * MiB, 13);
      const name = `powercut-${hashing}.bin`;
      const { fileId } = await rig.add(name, bytes, CHUNK);
      const journal = await interrupted(fileId, name, 512 * KiB);
      const victim = Math.min(...journal.done);
      const fd = await open(`${rig.out(name)}.part`, 'r+');
      await fd.write(Buffer.alloc(CHUNK), 0, CHUNK, victim * CHUNK);
      await fd.close();
      const events: DownloadEvent[] = [];
      const r = await download(opts(fileId, name, { hashing, onEvent: (e) => events.push(e) }));
      expect(r.sha256).toBe(sha256(bytes));
      expect(events).toContainEqual({ type: 'corrupt-chunk', chunk: victim, source: 'disk', count: 1 });
      expect(r.refetchedChunks).toBe(1);
    },
  );

  it('chunks written but not yet checked when the client died are checked from disk, not fetched again', async () => {
    const bytes = bytesOf(2 * MiB, 17);
    const name = 'written.bin';
    const { fileId } = await rig.add(name, bytes, CHUNK);
    const journal = await interrupted(fileId, name, 512 * KiB);
    // As if the client had died before checking them: the journal says written, not done.
    const path = `${rig.out(name)}.part.journal`;
    await rm(path);
    const rewritten = await Journal.open(path, journal.header);
    for (const i of journal.done) rewritten.journal.written(i);
    await rewritten.journal.close();
    // …and one of them arrived corrupt.
    const victim = Math.min(...journal.done);
    const fd = await open(`${rig.out(name)}.part`, 'r+');
    await fd.write(Buffer.alloc(CHUNK), 0, CHUNK, victim * CHUNK);
    await fd.close();
    rig.proxy.resetStats();
    const events: DownloadEvent[] = [];
    // Another device's session: the server vouches for no chunk, only the journal can.
    const r = await download(opts(fileId, name, { clientId: 'written-other-device', onEvent: (e) => events.push(e) }));
    expect(r.sha256).toBe(sha256(bytes));
    expect(events.find((e) => e.type === 'resume-check')).toMatchObject({
      outcome: 'resumed',
      verifiedChunks: journal.done.size - 1,
    });
    expect(r.receivedBytes).toBe(bytes.length - (journal.done.size - 1) * CHUNK);
    const fetched = rig.proxy.stats.ranges.map((h) => /bytes=(\d+)-(\d+)/.exec(h)!.slice(1).map(Number));
    expect(fetched.some(([a, b]) => a! <= victim * CHUNK && b! >= (victim + 1) * CHUNK - 1)).toBe(true);
  });

  it('a journal of another version of the file is discarded, never spliced', async () => {
    const v1 = bytesOf(1 * MiB, 14);
    const { fileId, storageKey } = await rig.add('versions.bin', v1, CHUNK);
    await interrupted(fileId, 'versions.bin', 256 * KiB);
    const v2 = bytesOf(1 * MiB + 5, 15);
    await rig.replace(storageKey, 'versions.bin', v2, CHUNK);
    const events: DownloadEvent[] = [];
    const r = await download(opts(fileId, 'versions.bin', { onEvent: (e) => events.push(e) }));
    expect(events.find((e) => e.type === 'resume-check')).toMatchObject({ outcome: 'other-version', verifiedChunks: 0 });
    expect(r.resumedBytes).toBe(0);
    expect(r.sha256).toBe(sha256(v2));
    expect(sha256(await readFile(r.path))).toBe(sha256(v2));
  });

  it('a stale lock of a killed process is taken over; a live one is refused', async () => {
    const bytes = bytesOf(64 * KiB, 16);
    const { fileId } = await rig.add('locked.bin', bytes, CHUNK);
    await writeFile(`${rig.out('locked.bin')}.part.lock`, String(process.ppid));
    await expect(download(opts(fileId, 'locked.bin'))).rejects.toMatchObject({ code: 'IO' });
    await writeFile(`${rig.out('locked.bin')}.part.lock`, '999999');
    expect((await download(opts(fileId, 'locked.bin'))).sha256).toBe(sha256(bytes));
  });
});
