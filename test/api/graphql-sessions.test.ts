import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CompleteDownloadDocument,
  DownloadProgressDocument,
  DownloadSessionDocument,
  FileDocument,
  FilesDocument,
  MyDownloadsDocument,
  PauseDownloadDocument,
  RefreshDownloadUrlDocument,
  ReportProgressDocument,
  ResumeDownloadDocument,
  StartDownloadDocument,
} from '../../src/client/generated/graphql.ts';
import type { DownloadSession } from '../../src/generated/prisma/client.ts';
import { bytesOf, rawGql, sessionRow, sha256, UNKNOWN_ID } from '../helpers/api.ts';
import { codeOf, gql, startTestServer, type TestServer } from '../helpers/server.ts';

// Every GraphQL operation of the control plane, over HTTP with real JWTs, on PostgreSQL.

const KiB = 1024;
const HOUR = 3_600_000;
/** 300,000 bytes in 64 KiB chunks: 4 full chunks and a short fifth (37,856 bytes). */
const A_SIZE = 300_000;
const A_CHUNK = 64 * KiB;
const A_BYTES = bytesOf(A_SIZE, 7);
/** 9 chunks of 1 KiB (the last 100 bytes): enough chunks for concurrent reporters. */
const C_BYTES = bytesOf(8 * KiB + 100, 11);

let server: TestServer;
let url: string;
let alice: string;
let bob: string;
let fileA: string;
let fileB: string;
let fileC: string;

beforeAll(async () => {
  // `serve` mounts the edge too, so the URLs startDownload hands out can be fetched.
  server = await startTestServer({ role: 'serve' });
  url = server.url;
  alice = await server.token('alice');
  bob = await server.token('bob');
  fileA = await server.addFile('a.bin', A_BYTES, { chunkSize: A_CHUNK });
  fileB = await server.addFile('b.txt', Buffer.from('hello, haul\n'), { contentType: 'text/plain' });
  fileC = await server.addFile('c.bin', C_BYTES, { chunkSize: KiB });
});

afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
});

const prisma = () => server.runtime.db.prisma;

/** Everything of a row except the activity stamps that every accepted operation refreshes. */
const withoutActivity = ({ updatedAt: _u, expiresAt: _e, ...rest }: DownloadSession) => rest;

async function start(token: string, fileId: string, clientId?: string) {
  const r = await gql(url, token, StartDownloadDocument, { fileId, clientId });
  expect(r.errors).toBeUndefined();
  expect(r.status).toBe(200);
  return r.data!.startDownload;
}

async function report(
  token: string,
  sessionId: string,
  v: { completedChunks?: number[]; bytesConfirmed?: number; transferRateBps?: number },
) {
  const r = await gql(url, token, ReportProgressDocument, { sessionId, ...v });
  expect(r.errors).toBeUndefined();
  return r.data!.reportProgress;
}

describe('file and files', () => {
  it('file(id) returns the ingested file with its integrity data', async () => {
    const r = await gql(url, alice, FileDocument, { id: fileA });
    expect(r.status).toBe(200);
    expect(r.errors).toBeUndefined();
    expect(r.data!.file).toEqual({
      id: fileA,
      name: 'a.bin',
      sizeBytes: A_SIZE,
      contentType: 'application/octet-stream',
      checksum: sha256(A_BYTES),
      chunkSize: A_CHUNK,
      chunkCount: 5,
      merkleRoot: expect.stringMatching(/^[0-9a-f]{64}$/),
      status: 'READY',
      failReason: null,
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
    const stored = await prisma().file.findUniqueOrThrow({ where: { id: fileA } });
    expect(r.data!.file!.merkleRoot).toBe(stored.merkleRoot);
    expect(r.data!.file!.createdAt).toBe(stored.createdAt.toISOString());
  });

  it('file(id) is null for an unknown or malformed id', async () => {
    for (const id of [UNKNOWN_ID, 'not-a-uuid', '1', `${fileA}x`]) {
      const r = await gql(url, alice, FileDocument, { id });
      expect(r.errors, id).toBeUndefined();
      expect(r.data, id).toEqual({ file: null });
    }
  });

  it('files pages through every file in (createdAt, id) order, two at a time', async () => {
    const expected = (await prisma().file.findMany({ orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] })).map((f) => f.id);
    // The demo file of `serve` and the three files of this test.
    expect(expected).toHaveLength(4);
    expect(expected).toEqual(expect.arrayContaining([fileA, fileB, fileC]));

    const seen: string[] = [];
    let after: string | undefined;
    let pages = 0;
    for (;;) {
      const r = await gql(url, alice, FilesDocument, { first: 2, after });
      expect(r.errors).toBeUndefined();
      const { edges, pageInfo } = r.data!.files;
      pages++;
      expect(edges.length).toBeLessThanOrEqual(2);
      expect(pageInfo.endCursor).toBe(edges.at(-1)?.cursor ?? null);
      seen.push(...edges.map((e) => e.node.id));
      if (!pageInfo.hasNextPage) break;
      expect(edges).toHaveLength(2);
      after = pageInfo.endCursor!;
      expect(pages).toBeLessThan(10);
    }
    expect(pages).toBe(2);
    expect(seen).toEqual(expected);

    // One page with everything, and an empty page after the last cursor.
    const all = await gql(url, alice, FilesDocument, { first: 100 });
    expect(all.data!.files.edges.map((e) => e.node.id)).toEqual(expected);
    expect(all.data!.files.pageInfo.hasNextPage).toBe(false);
    const past = await gql(url, alice, FilesDocument, { first: 2, after: all.data!.files.pageInfo.endCursor! });
    expect(past.data!.files).toEqual({ edges: [], pageInfo: { hasNextPage: false, endCursor: null } });
  });

  it('a malformed cursor is BAD_USER_INPUT', async () => {
    const cursors = [
      'garbage!!',
      '',
      Buffer.from('not a date|not an id').toString('base64url'),
      Buffer.from(`2024-01-01T00:00:00.000Z|not-a-uuid`).toString('base64url'),
      Buffer.from(`2024-01-01T00:00:00.000Z`).toString('base64url'),
    ];
    for (const after of cursors) {
      const r = await gql(url, alice, FilesDocument, { first: 2, after });
      // An empty cursor means "from the start"; everything else here is malformed.
      if (after === '') {
        expect(r.errors).toBeUndefined();
        continue;
      }
      expect(codeOf(r), after).toBe('BAD_USER_INPUT');
      expect(r.data).toBeNull();
    }
  });

  it('first outside 1..100 is BAD_USER_INPUT', async () => {
    for (const first of [0, 101, -1]) {
      const r = await gql(url, alice, FilesDocument, { first });
      expect(codeOf(r), String(first)).toBe('BAD_USER_INPUT');
    }
    for (const first of [1, 100]) {
      const r = await gql(url, alice, FilesDocument, { first });
      expect(r.errors, String(first)).toBeUndefined();
    }
  });
});

describe('startDownload', () => {
  it('returns a new ACTIVE session and a signed URL that serves the file', async () => {
    const before = Date.now();
    const t = await start(alice, fileA, 'laptop');
    const s = t.session;
    expect(s).toMatchObject({
      fileId: fileA,
      clientId: 'laptop',
      status: 'ACTIVE',
      totalBytes: A_SIZE,
      bytesConfirmed: 0,
      completedChunks: [],
      completedChunkCount: 0,
      percentage: 0,
      transferRateBps: 0,
      completedAt: null,
    });
    expect(t.urlExpiresAt).toBe(s.urlExpiresAt);
    // Default TTLs: URL 12 h, session 72 h.
    const urlTtl = Date.parse(s.urlExpiresAt) - before;
    expect(urlTtl).toBeGreaterThanOrEqual(12 * HOUR - 1000);
    expect(urlTtl).toBeLessThan(12 * HOUR + 60_000);
    const ttl = Date.parse(s.expiresAt) - before;
    expect(ttl).toBeGreaterThanOrEqual(72 * HOUR - 1000);
    expect(ttl).toBeLessThan(72 * HOUR + 60_000);

    const u = new URL(t.downloadUrl);
    expect(`${u.origin}`).toBe(url);
    expect(u.pathname.startsWith('/d/')).toBe(true);
    expect(u.searchParams.get('v')).toBe(sha256(A_BYTES));
    expect(u.searchParams.get('exp')).toBe(String(Math.floor(Date.parse(s.urlExpiresAt) / 1000)));

    const res = await fetch(t.downloadUrl, { headers: { range: 'bytes=0-99' } });
    expect(res.status).toBe(206);
    expect(Buffer.from(await res.arrayBuffer())).toEqual(A_BYTES.subarray(0, 100));

    const row = await sessionRow(prisma(), s.id);
    expect(row).toMatchObject({
      ownerId: 'alice',
      clientId: 'laptop',
      status: 'ACTIVE',
      totalBytes: BigInt(A_SIZE),
      bytesConfirmed: 0n,
    });
  });

  it('is idempotent per (user, file, clientId): the same session again, with a fresh URL', async () => {
    const first = await start(alice, fileA, 'idem');
    await report(alice, first.session.id, { completedChunks: [0] });
    await sleep(1100); // URL expiries have second resolution
    const again = await start(alice, fileA, 'idem');
    expect(again.session.id).toBe(first.session.id);
    expect(again.downloadUrl).not.toBe(first.downloadUrl);
    expect(Date.parse(again.urlExpiresAt)).toBeGreaterThan(Date.parse(first.urlExpiresAt));
    // Progress survives the repeated start.
    expect(again.session.bytesConfirmed).toBe(A_CHUNK);
    expect(again.session.completedChunks).toEqual([0]);
    expect(await prisma().downloadSession.count({ where: { ownerId: 'alice', fileId: fileA, clientId: 'idem' } })).toBe(1);
  });

  it('a different clientId or a different user gets a different session', async () => {
    const one = await start(alice, fileA, 'dev-1');
    const two = await start(alice, fileA, 'dev-2');
    const bobs = await start(bob, fileA, 'dev-1');
    expect(new Set([one.session.id, two.session.id, bobs.session.id]).size).toBe(3);
    expect((await sessionRow(prisma(), bobs.session.id)).ownerId).toBe('bob');
  });

  it('without a clientId the device is "default"', async () => {
    const t = await start(bob, fileB);
    expect(t.session.clientId).toBe('default');
    const again = await start(bob, fileB, 'default');
    expect(again.session.id).toBe(t.session.id);
  });

  it('concurrent starts for the same triple make exactly one session', async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, () => gql(url, alice, StartDownloadDocument, { fileId: fileB, clientId: 'race' })),
    );
    for (const r of results) expect(r.errors).toBeUndefined();
    const ids = new Set(results.map((r) => r.data!.startDownload.session.id));
    expect(ids.size).toBe(1);
    const rows = await prisma().downloadSession.findMany({ where: { ownerId: 'alice', fileId: fileB, clientId: 'race' } });
    expect(rows.map((r) => r.id)).toEqual([...ids]);
  });

  it('a file that is not READY is FILE_NOT_READY, and no session is made', async () => {
    const pending = await prisma().file.create({
      data: {
        name: 'p.bin',
        sizeBytes: 10n,
        contentType: 'application/octet-stream',
        storageKey: 'pending/p.bin',
        chunkSize: A_CHUNK,
      },
    });
    expect(pending.status).toBe('PENDING');
    const failed = await prisma().file.create({
      data: {
        name: 'f.bin',
        sizeBytes: 10n,
        contentType: 'application/octet-stream',
        storageKey: 'failed/f.bin',
        chunkSize: A_CHUNK,
        status: 'FAILED',
        failReason: 'object missing',
      },
    });
    try {
      for (const f of [pending, failed]) {
        const r = await gql(url, alice, StartDownloadDocument, { fileId: f.id, clientId: 'x' });
        expect(r.status).toBe(200);
        expect(codeOf(r)).toBe('FILE_NOT_READY');
        expect(r.data).toBeNull();
        expect(await prisma().downloadSession.count({ where: { fileId: f.id } })).toBe(0);
      }
    } finally {
      // Keep the files listing of the other tests as it was.
      await prisma().file.deleteMany({ where: { id: { in: [pending.id, failed.id] } } });
    }
  });

  it('an unknown or malformed file id is NOT_FOUND', async () => {
    const count = await prisma().downloadSession.count();
    for (const fileId of [UNKNOWN_ID, 'nope', '', `${fileA.slice(0, -1)}g`, "' OR 1=1 --"]) {
      const r = await gql(url, alice, StartDownloadDocument, { fileId, clientId: 'x' });
      expect(codeOf(r), fileId).toBe('NOT_FOUND');
      expect(r.data).toBeNull();
    }
    expect(await prisma().downloadSession.count()).toBe(count);
  });
});

describe('reportProgress', () => {
  it('bytesConfirmed is the end of the done-chunk prefix; out-of-order chunks wait for the gap', async () => {
    const { session } = await start(alice, fileA, 'rp-prefix');
    const id = session.id;

    let s = await report(alice, id, { completedChunks: [0] });
    expect([s.bytesConfirmed, s.completedChunks]).toEqual([A_CHUNK, [0]]);

    s = await report(alice, id, { completedChunks: [2] });
    expect([s.bytesConfirmed, s.completedChunks]).toEqual([A_CHUNK, [0, 2]]);

    s = await report(alice, id, { completedChunks: [1] });
    expect([s.bytesConfirmed, s.completedChunks, s.completedChunkCount]).toEqual([3 * A_CHUNK, [0, 1, 2], 3]);

    // The same report again changes nothing.
    const before = await sessionRow(prisma(), id);
    s = await report(alice, id, { completedChunks: [1, 0] });
    expect([s.bytesConfirmed, s.completedChunks]).toEqual([3 * A_CHUNK, [0, 1, 2]]);
    const after = await sessionRow(prisma(), id);
    expect(withoutActivity(after)).toEqual(withoutActivity(before));

    // The last (short) chunk completes the prefix at the file size, not at 5 × chunk size.
    s = await report(alice, id, { completedChunks: [4, 3] });
    expect([s.bytesConfirmed, s.completedChunks, s.percentage, s.status]).toEqual([A_SIZE, [0, 1, 2, 3, 4], 100, 'ACTIVE']);

    const row = await sessionRow(prisma(), id);
    expect(row.bytesConfirmed).toBe(BigInt(A_SIZE));
    expect(row.completedChunks).toEqual([0, 1, 2, 3, 4]);
  });

  it('a reported offset larger than the prefix wins, and the prefix wins once it passes it', async () => {
    const { session } = await start(alice, fileA, 'rp-offset');
    const id = session.id;
    let s = await report(alice, id, { completedChunks: [0], bytesConfirmed: 100_000, transferRateBps: 2_000_000 });
    expect([s.bytesConfirmed, s.completedChunks, s.transferRateBps]).toEqual([100_000, [0], 2_000_000]);

    s = await report(alice, id, { bytesConfirmed: 250_000 });
    expect([s.bytesConfirmed, s.completedChunks, s.transferRateBps]).toEqual([250_000, [0], 2_000_000]);

    // Prefix 0..2 ends at 196,608 < 250,000: the offset stays.
    s = await report(alice, id, { completedChunks: [1, 2] });
    expect(s.bytesConfirmed).toBe(250_000);

    // Prefix 0..3 ends at 262,144 > 250,000.
    s = await report(alice, id, { completedChunks: [3], transferRateBps: 1_500_000 });
    expect([s.bytesConfirmed, s.transferRateBps]).toEqual([4 * A_CHUNK, 1_500_000]);

    const row = await sessionRow(prisma(), id);
    expect([row.bytesConfirmed, row.completedChunks, row.transferRateBps]).toEqual([
      BigInt(4 * A_CHUNK),
      [0, 1, 2, 3],
      1_500_000n,
    ]);
  });

  it('8 concurrent reports, each with a different chunk, lose none', async () => {
    for (let round = 0; round < 3; round++) {
      const { session } = await start(alice, fileC, `rp-conc-${round}`);
      const order = [5, 0, 7, 2, 6, 1, 4, 3];
      const results = await Promise.all(
        order.map((i) => gql(url, alice, ReportProgressDocument, { sessionId: session.id, completedChunks: [i] })),
      );
      for (const r of results) expect(r.errors).toBeUndefined();
      const row = await sessionRow(prisma(), session.id);
      expect(row.completedChunks).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
      expect(row.bytesConfirmed).toBe(BigInt(8 * KiB));
      // The 9th (short) chunk completes the file.
      const last = await report(alice, session.id, { completedChunks: [8] });
      expect(last.bytesConfirmed).toBe(C_BYTES.length);
    }
  });
});

describe('pause, resume, refresh', () => {
  it('pauseDownload merges the final progress and pauses; pausing again is a no-op', async () => {
    const { session } = await start(alice, fileA, 'pz');
    const r = await gql(url, alice, PauseDownloadDocument, {
      sessionId: session.id,
      completedChunks: [1, 0],
      bytesConfirmed: 10,
      transferRateBps: 5000,
    });
    expect(r.errors).toBeUndefined();
    expect(r.data!.pauseDownload).toMatchObject({
      id: session.id,
      status: 'PAUSED',
      bytesConfirmed: 2 * A_CHUNK,
      completedChunks: [0, 1],
      transferRateBps: 5000,
    });
    const row = await sessionRow(prisma(), session.id);
    expect([row.status, row.bytesConfirmed, row.completedChunks, row.transferRateBps]).toEqual([
      'PAUSED',
      BigInt(2 * A_CHUNK),
      [0, 1],
      5000n,
    ]);

    const again = await gql(url, alice, PauseDownloadDocument, { sessionId: session.id });
    expect(again.errors).toBeUndefined();
    expect(again.data!.pauseDownload.status).toBe('PAUSED');
    expect(withoutActivity(await sessionRow(prisma(), session.id))).toEqual(withoutActivity(row));

    // A late report on a paused session still merges, and the session stays paused.
    const late = await report(alice, session.id, { completedChunks: [2] });
    expect([late.status, late.bytesConfirmed]).toEqual(['PAUSED', 3 * A_CHUNK]);
  });

  it('resumeDownload makes a paused session ACTIVE with a fresh URL and its progress intact', async () => {
    const { session } = await start(alice, fileA, 'rs');
    await gql(url, alice, PauseDownloadDocument, { sessionId: session.id, bytesConfirmed: 123_456 });
    const paused = await sessionRow(prisma(), session.id);
    expect(paused.status).toBe('PAUSED');

    const r = await gql(url, alice, ResumeDownloadDocument, { sessionId: session.id });
    expect(r.errors).toBeUndefined();
    const t = r.data!.resumeDownload;
    expect(t.session).toMatchObject({ id: session.id, status: 'ACTIVE', bytesConfirmed: 123_456 });
    expect(new URL(t.downloadUrl).searchParams.get('v')).toBe(sha256(A_BYTES));
    // The client continues with Range: bytes=<bytesConfirmed>-.
    const res = await fetch(t.downloadUrl, { headers: { range: `bytes=${t.session.bytesConfirmed}-` } });
    expect(res.status).toBe(206);
    expect(Buffer.from(await res.arrayBuffer())).toEqual(A_BYTES.subarray(123_456));

    const row = await sessionRow(prisma(), session.id);
    expect(row.status).toBe('ACTIVE');
    expect(row.bytesConfirmed).toBe(123_456n);
    expect(row.urlExpiresAt.getTime()).toBeGreaterThanOrEqual(paused.urlExpiresAt.getTime());

    // Resuming an active session only refreshes its URL.
    const again = await gql(url, alice, ResumeDownloadDocument, { sessionId: session.id });
    expect(again.errors).toBeUndefined();
    expect(again.data!.resumeDownload.session.status).toBe('ACTIVE');
  });

  it('refreshDownloadUrl gives a later URL expiry and keeps the status', async () => {
    const { session } = await start(alice, fileA, 'rf');
    await gql(url, alice, PauseDownloadDocument, { sessionId: session.id });
    // Make the stored URL expiry old, as if the URL had been handed out hours ago.
    await prisma().downloadSession.update({ where: { id: session.id }, data: { urlExpiresAt: new Date(Date.now() - 60_000) } });
    const before = Date.now();
    const r = await gql(url, alice, RefreshDownloadUrlDocument, { sessionId: session.id });
    expect(r.errors).toBeUndefined();
    const t = r.data!.refreshDownloadUrl;
    expect(t.session.status).toBe('PAUSED');
    expect(new URL(t.downloadUrl).searchParams.get('exp')).toBe(String(Math.floor(Date.parse(t.urlExpiresAt) / 1000)));
    expect(Date.parse(t.urlExpiresAt) - before).toBeGreaterThanOrEqual(12 * HOUR - 1000);
    const row = await sessionRow(prisma(), session.id);
    expect(row.status).toBe('PAUSED');
    expect(row.urlExpiresAt.toISOString()).toBe(t.urlExpiresAt);
  });
});

describe('completeDownload', () => {
  it('a wrong checksum is CHECKSUM_MISMATCH and changes nothing; the right one completes, idempotently', async () => {
    const { session } = await start(alice, fileA, 'cp');
    await report(alice, session.id, { completedChunks: [0, 1] });
    const before = await sessionRow(prisma(), session.id);

    for (const checksum of ['0'.repeat(64), sha256('something else'), sha256(A_BYTES.subarray(1))]) {
      const r = await gql(url, alice, CompleteDownloadDocument, { sessionId: session.id, checksum });
      expect(codeOf(r)).toBe('CHECKSUM_MISMATCH');
      expect(r.data).toBeNull();
    }
    const bad = await gql(url, alice, CompleteDownloadDocument, { sessionId: session.id, checksum: 'abc' });
    expect(codeOf(bad)).toBe('BAD_USER_INPUT');
    expect(await sessionRow(prisma(), session.id)).toEqual(before);

    // The checksum is compared case-insensitively.
    const r = await gql(url, alice, CompleteDownloadDocument, { sessionId: session.id, checksum: sha256(A_BYTES).toUpperCase() });
    expect(r.errors).toBeUndefined();
    expect(r.data!.completeDownload).toMatchObject({
      status: 'COMPLETED',
      bytesConfirmed: A_SIZE,
      completedChunks: [0, 1, 2, 3, 4],
      percentage: 100,
      completedAt: expect.any(String),
    });
    const done = await sessionRow(prisma(), session.id);
    expect([done.status, done.bytesConfirmed, done.completedChunks]).toEqual(['COMPLETED', BigInt(A_SIZE), [0, 1, 2, 3, 4]]);
    expect(done.completedAt).toBeInstanceOf(Date);

    const again = await gql(url, alice, CompleteDownloadDocument, { sessionId: session.id, checksum: sha256(A_BYTES) });
    expect(again.errors).toBeUndefined();
    expect(again.data!.completeDownload.status).toBe('COMPLETED');
    expect(again.data!.completeDownload.completedAt).toBe(done.completedAt!.toISOString());
    expect(await sessionRow(prisma(), session.id)).toEqual(done);

    // A completed session does not block a new download of the same file on the same device.
    const next = await start(alice, fileA, 'cp');
    expect(next.session.id).not.toBe(session.id);
    expect(next.session.status).toBe('ACTIVE');
  });

  it('pause, resume, report and refresh on a COMPLETED session are INVALID_TRANSITION and change nothing', async () => {
    const { session } = await start(alice, fileB, 'done');
    const c = await gql(url, alice, CompleteDownloadDocument, { sessionId: session.id, checksum: sha256('hello, haul\n') });
    expect(c.data!.completeDownload.status).toBe('COMPLETED');
    const before = await sessionRow(prisma(), session.id);
    const sessionId = session.id;
    const attempts = [
      gql(url, alice, PauseDownloadDocument, { sessionId }),
      gql(url, alice, PauseDownloadDocument, { sessionId, completedChunks: [0] }),
      gql(url, alice, ResumeDownloadDocument, { sessionId }),
      gql(url, alice, ReportProgressDocument, { sessionId, bytesConfirmed: 1 }),
      gql(url, alice, RefreshDownloadUrlDocument, { sessionId }),
    ];
    for (const r of await Promise.all(attempts)) {
      expect(r.status).toBe(200);
      expect(codeOf(r)).toBe('INVALID_TRANSITION');
      expect(r.data).toBeNull();
    }
    expect(await sessionRow(prisma(), session.id)).toEqual(before);
  });
});

describe('expiry', () => {
  const ops = {
    pause: (sessionId: string) => gql(url, alice, PauseDownloadDocument, { sessionId }),
    resume: (sessionId: string) => gql(url, alice, ResumeDownloadDocument, { sessionId }),
    report: (sessionId: string) => gql(url, alice, ReportProgressDocument, { sessionId, completedChunks: [0] }),
    refresh: (sessionId: string) => gql(url, alice, RefreshDownloadUrlDocument, { sessionId }),
    complete: (sessionId: string) => gql(url, alice, CompleteDownloadDocument, { sessionId, checksum: sha256(A_BYTES) }),
  };

  for (const [name, op] of Object.entries(ops)) {
    it(`${name} on a session past its expiry is SESSION_EXPIRED, the row becomes EXPIRED, and a new start makes a new session`, async () => {
      const clientId = `exp-${name}`;
      const { session } = await start(alice, fileA, clientId);
      await report(alice, session.id, { completedChunks: [0] });
      await prisma().downloadSession.update({ where: { id: session.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
      const before = await sessionRow(prisma(), session.id);

      const r = await op(session.id);
      expect(codeOf(r)).toBe('SESSION_EXPIRED');
      expect(r.data).toBeNull();
      const row = await sessionRow(prisma(), session.id);
      expect(row.status).toBe('EXPIRED');
      // Only the status moved: progress and stamps stay as they were.
      expect({ ...row, status: before.status, updatedAt: before.updatedAt }).toEqual(before);

      // Once EXPIRED, it stays refused.
      expect(codeOf(await op(session.id))).toBe('SESSION_EXPIRED');

      const next = await start(alice, fileA, clientId);
      expect(next.session.id).not.toBe(session.id);
      expect(next.session).toMatchObject({ status: 'ACTIVE', bytesConfirmed: 0, completedChunks: [] });
    });
  }

  it('reading a session past its expiry shows it EXPIRED and stores that', async () => {
    const { session } = await start(alice, fileA, 'exp-read');
    await prisma().downloadSession.update({ where: { id: session.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const r = await gql(url, alice, DownloadSessionDocument, { id: session.id });
    expect(r.errors).toBeUndefined();
    expect(r.data!.downloadSession.status).toBe('EXPIRED');
    expect((await sessionRow(prisma(), session.id)).status).toBe('EXPIRED');
    const p = await gql(url, alice, DownloadProgressDocument, { sessionId: session.id });
    expect(p.data!.downloadProgress.status).toBe('EXPIRED');
  });
});

describe('queries', () => {
  it('downloadSession returns the stored session', async () => {
    const { session } = await start(alice, fileA, 'q-read');
    await report(alice, session.id, { completedChunks: [0, 2], transferRateBps: 777 });
    const r = await gql(url, alice, DownloadSessionDocument, { id: session.id });
    expect(r.errors).toBeUndefined();
    const row = await sessionRow(prisma(), session.id);
    expect(r.data!.downloadSession).toEqual({
      id: row.id,
      fileId: fileA,
      clientId: 'q-read',
      status: 'ACTIVE',
      totalBytes: A_SIZE,
      bytesConfirmed: A_CHUNK,
      completedChunks: [0, 2],
      completedChunkCount: 2,
      percentage: 21.84,
      transferRateBps: 777,
      urlExpiresAt: row.urlExpiresAt.toISOString(),
      expiresAt: row.expiresAt.toISOString(),
      completedAt: null,
      createdAt: row.createdAt.toISOString(),
      updatedAt: row.updatedAt.toISOString(),
    });
  });

  it('downloadProgress gives the numbers and the percentage (floored to 2 decimals)', async () => {
    const { session } = await start(alice, fileA, 'q-progress');
    const cases: Array<[{ completedChunks?: number[]; bytesConfirmed?: number }, number, number]> = [
      [{}, 0, 0],
      [{ bytesConfirmed: 1 }, 1, 0],
      [{ bytesConfirmed: 3000 }, 3000, 1],
      [{ completedChunks: [0, 1] }, 131_072, 43.69],
      [{ bytesConfirmed: 299_999 }, 299_999, 99.99],
      [{ bytesConfirmed: A_SIZE }, A_SIZE, 100],
    ];
    for (const [r, bytes, pct] of cases) {
      if (Object.keys(r).length) await report(alice, session.id, { ...r, transferRateBps: 4096 });
      const p = await gql(url, alice, DownloadProgressDocument, { sessionId: session.id });
      expect(p.errors).toBeUndefined();
      const row = await sessionRow(prisma(), session.id);
      expect(p.data!.downloadProgress).toEqual({
        sessionId: session.id,
        status: 'ACTIVE',
        bytesConfirmed: bytes,
        totalBytes: A_SIZE,
        percentage: pct,
        completedChunkCount: row.completedChunks.length,
        transferRateBps: Object.keys(r).length ? 4096 : 0,
        updatedAt: row.updatedAt.toISOString(),
      });
    }
  });

  it('myDownloads lists the viewer’s sessions newest first, optionally by status', async () => {
    const carol = await server.token('carol');
    const active = (await start(carol, fileA, 'm1')).session.id;
    const paused = (await start(carol, fileB, 'm2')).session.id;
    const completed = (await start(carol, fileC, 'm3')).session.id;
    await gql(url, carol, PauseDownloadDocument, { sessionId: paused });
    await gql(url, carol, CompleteDownloadDocument, { sessionId: completed, checksum: sha256(C_BYTES) });
    const expired = (await start(carol, fileA, 'm4')).session.id;
    await prisma().downloadSession.update({ where: { id: expired }, data: { status: 'EXPIRED' } });

    const ids = async (status?: 'ACTIVE' | 'PAUSED' | 'COMPLETED' | 'EXPIRED', first?: number) => {
      const r = await gql(url, carol, MyDownloadsDocument, { status, first });
      expect(r.errors).toBeUndefined();
      return r.data!.myDownloads.map((s) => s.id);
    };
    const newestFirst = (
      await prisma().downloadSession.findMany({ where: { ownerId: 'carol' }, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] })
    ).map((s) => s.id);
    expect(newestFirst).toHaveLength(4);
    expect(await ids()).toEqual(newestFirst);
    expect(await ids(undefined, 2)).toEqual(newestFirst.slice(0, 2));
    expect(await ids('ACTIVE')).toEqual([active]);
    expect(await ids('PAUSED')).toEqual([paused]);
    expect(await ids('COMPLETED')).toEqual([completed]);
    expect(await ids('EXPIRED')).toEqual([expired]);

    const r = await gql(url, carol, MyDownloadsDocument, { status: 'PAUSED' });
    expect(r.data!.myDownloads[0]).toMatchObject({ id: paused, fileId: fileB, clientId: 'm2', status: 'PAUSED' });

    // A user with no sessions gets an empty list.
    const dave = await server.token('dave');
    const none = await gql(url, dave, MyDownloadsDocument, {});
    expect(none.data).toEqual({ myDownloads: [] });
  });

  it('a session’s file resolves through the session', async () => {
    const { session } = await start(alice, fileB, 'q-file');
    const r = await rawGql(url, alice, 'query ($id: ID!) { downloadSession(id: $id) { file { id name sizeBytes checksum } } }', {
      id: session.id,
    });
    expect(r.errors).toBeUndefined();
    expect(r.data.downloadSession.file).toEqual({ id: fileB, name: 'b.txt', sizeBytes: 12, checksum: sha256('hello, haul\n') });
  });
});
