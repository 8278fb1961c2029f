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
import { bytesOf, sessionRow, sha256 } from '../helpers/api.ts';
import { codeOf, gql, rest, startTestServer, type TestServer } from '../helpers/server.ts';

// The same control plane on embedded PGlite (what `haul serve` runs on): the core flow, the
// single-statement progress merge, the partial unique index behind idempotent starts, expiry.

const KiB = 1024;
const SIZE = 100 * KiB + 10; // five 20 KiB chunks and a 10-byte sixth
const CHUNK = 20 * KiB;
const BYTES = bytesOf(SIZE, 21);

let server: TestServer;
let url: string;
let token: string;
let fileId: string;
let otherFileId: string;

const prisma = () => server.runtime.db.prisma;

beforeAll(async () => {
  server = await startTestServer({ db: 'pglite', role: 'api' });
  expect(server.config.database.kind).toBe('pglite');
  url = server.url;
  token = await server.token('pat');
  fileId = await server.addFile('embedded.bin', BYTES, { chunkSize: CHUNK });
  otherFileId = await server.addFile('small.txt', Buffer.from('tiny'), { contentType: 'text/plain' });
});

afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
});

describe('core flow on PGlite', () => {
  it('file and files', async () => {
    const f = await gql(url, token, FileDocument, { id: fileId });
    expect(f.errors).toBeUndefined();
    expect(f.data!.file).toMatchObject({
      id: fileId,
      sizeBytes: SIZE,
      chunkSize: CHUNK,
      chunkCount: 6,
      checksum: sha256(BYTES),
      status: 'READY',
    });

    const p1 = await gql(url, token, FilesDocument, { first: 1 });
    expect(p1.data!.files.edges.map((e) => e.node.id)).toEqual([fileId]);
    expect(p1.data!.files.pageInfo.hasNextPage).toBe(true);
    const p2 = await gql(url, token, FilesDocument, { first: 1, after: p1.data!.files.pageInfo.endCursor! });
    expect(p2.data!.files.edges.map((e) => e.node.id)).toEqual([otherFileId]);
    expect(p2.data!.files.pageInfo.hasNextPage).toBe(false);
    expect(codeOf(await gql(url, token, FilesDocument, { first: 1, after: 'bogus' }))).toBe('BAD_USER_INPUT');
  });

  it('start, report, pause, resume, refresh, progress, complete', async () => {
    const started = await gql(url, token, StartDownloadDocument, { fileId, clientId: 'embedded' });
    expect(started.errors).toBeUndefined();
    const t = started.data!.startDownload;
    expect(t.session).toMatchObject({ status: 'ACTIVE', totalBytes: SIZE, bytesConfirmed: 0, completedChunks: [] });
    expect(new URL(t.downloadUrl).searchParams.get('v')).toBe(sha256(BYTES));
    const sessionId = t.session.id;

    // Idempotent start.
    const again = await gql(url, token, StartDownloadDocument, { fileId, clientId: 'embedded' });
    expect(again.data!.startDownload.session.id).toBe(sessionId);

    // Out-of-order chunks, then the gap.
    let r = await gql(url, token, ReportProgressDocument, { sessionId, completedChunks: [2, 1] });
    expect([r.data!.reportProgress.bytesConfirmed, r.data!.reportProgress.completedChunks]).toEqual([0, [1, 2]]);
    r = await gql(url, token, ReportProgressDocument, { sessionId, completedChunks: [0], transferRateBps: 9000 });
    expect([r.data!.reportProgress.bytesConfirmed, r.data!.reportProgress.completedChunks]).toEqual([3 * CHUNK, [0, 1, 2]]);
    // A larger sequential offset wins; a smaller one later changes nothing.
    r = await gql(url, token, ReportProgressDocument, { sessionId, bytesConfirmed: 70_000 });
    expect(r.data!.reportProgress.bytesConfirmed).toBe(70_000);
    r = await gql(url, token, ReportProgressDocument, { sessionId, bytesConfirmed: 100 });
    expect(r.data!.reportProgress.bytesConfirmed).toBe(70_000);
    // Out of range is refused and stores nothing.
    const before = await sessionRow(prisma(), sessionId);
    expect(codeOf(await gql(url, token, ReportProgressDocument, { sessionId, completedChunks: [6] }))).toBe('INVALID_PROGRESS');
    expect(codeOf(await gql(url, token, ReportProgressDocument, { sessionId, bytesConfirmed: SIZE + 1 }))).toBe(
      'INVALID_PROGRESS',
    );
    expect(await sessionRow(prisma(), sessionId)).toEqual(before);

    // Pause with the final progress merged.
    const paused = await gql(url, token, PauseDownloadDocument, { sessionId, completedChunks: [3] });
    expect(paused.data!.pauseDownload).toMatchObject({
      status: 'PAUSED',
      bytesConfirmed: 4 * CHUNK,
      completedChunks: [0, 1, 2, 3],
    });
    expect((await sessionRow(prisma(), sessionId)).status).toBe('PAUSED');

    const progress = await gql(url, token, DownloadProgressDocument, { sessionId });
    expect(progress.data!.downloadProgress).toEqual({
      sessionId,
      status: 'PAUSED',
      bytesConfirmed: 4 * CHUNK,
      totalBytes: SIZE,
      percentage: 79.99,
      completedChunkCount: 4,
      transferRateBps: 9000,
      updatedAt: (await sessionRow(prisma(), sessionId)).updatedAt.toISOString(),
    });

    const resumed = await gql(url, token, ResumeDownloadDocument, { sessionId });
    expect(resumed.data!.resumeDownload.session).toMatchObject({ status: 'ACTIVE', bytesConfirmed: 4 * CHUNK });
    const refreshed = await gql(url, token, RefreshDownloadUrlDocument, { sessionId });
    expect(refreshed.data!.refreshDownloadUrl.session.status).toBe('ACTIVE');

    const wrong = await gql(url, token, CompleteDownloadDocument, { sessionId, checksum: sha256('nope') });
    expect(codeOf(wrong)).toBe('CHECKSUM_MISMATCH');
    const done = await gql(url, token, CompleteDownloadDocument, { sessionId, checksum: sha256(BYTES) });
    expect(done.data!.completeDownload).toMatchObject({
      status: 'COMPLETED',
      bytesConfirmed: SIZE,
      completedChunks: [0, 1, 2, 3, 4, 5],
      percentage: 100,
    });
    const row = await sessionRow(prisma(), sessionId);
    expect([row.status, row.bytesConfirmed]).toEqual(['COMPLETED', BigInt(SIZE)]);
    expect(codeOf(await gql(url, token, PauseDownloadDocument, { sessionId }))).toBe('INVALID_TRANSITION');

    const read = await gql(url, token, DownloadSessionDocument, { id: sessionId });
    expect(read.data!.downloadSession.status).toBe('COMPLETED');
    const mine = await gql(url, token, MyDownloadsDocument, { status: 'COMPLETED' });
    expect(mine.data!.myDownloads.map((s) => s.id)).toEqual([sessionId]);
  });

  it('concurrent starts make one session; concurrent reports lose no chunk', async () => {
    const starts = await Promise.all(
      Array.from({ length: 6 }, () => gql(url, token, StartDownloadDocument, { fileId, clientId: 'embedded-race' })),
    );
    for (const s of starts) expect(s.errors).toBeUndefined();
    const ids = new Set(starts.map((s) => s.data!.startDownload.session.id));
    expect(ids.size).toBe(1);
    const [sessionId] = [...ids] as [string];
    expect(await prisma().downloadSession.count({ where: { clientId: 'embedded-race' } })).toBe(1);

    const reports = await Promise.all(
      [4, 0, 5, 2, 1, 3].map((i) => gql(url, token, ReportProgressDocument, { sessionId, completedChunks: [i] })),
    );
    for (const r of reports) expect(r.errors).toBeUndefined();
    const row = await sessionRow(prisma(), sessionId);
    expect(row.completedChunks).toEqual([0, 1, 2, 3, 4, 5]);
    expect(row.bytesConfirmed).toBe(BigInt(SIZE));
  });

  it('an expired session is SESSION_EXPIRED, stored EXPIRED, and a new start makes a new one', async () => {
    const s = await gql(url, token, StartDownloadDocument, { fileId: otherFileId, clientId: 'embedded-exp' });
    const sessionId = s.data!.startDownload.session.id;
    await prisma().downloadSession.update({ where: { id: sessionId }, data: { expiresAt: new Date(Date.now() - 1000) } });
    expect(codeOf(await gql(url, token, ReportProgressDocument, { sessionId, bytesConfirmed: 1 }))).toBe('SESSION_EXPIRED');
    expect((await sessionRow(prisma(), sessionId)).status).toBe('EXPIRED');
    const next = await gql(url, token, StartDownloadDocument, { fileId: otherFileId, clientId: 'embedded-exp' });
    expect(next.data!.startDownload.session.id).not.toBe(sessionId);
  });

  it('REST on PGlite: POST, PATCH paused, GET progress', async () => {
    const started = await rest(url, token, 'POST', '/downloads', { file_id: otherFileId, client_id: 'embedded-rest' });
    expect(started.status).toBe(201);
    expect(started.body).toMatchObject({ file_size: 4, checksum: sha256('tiny'), content_type: 'text/plain', status: 'active' });
    const id = started.body.session_id;
    const paused = await rest(url, token, 'PATCH', `/downloads/${id}`, { status: 'paused', bytes_confirmed: 3 });
    expect(paused.body).toMatchObject({ status: 'paused', bytes_confirmed: 3 });
    const p = await rest(url, token, 'GET', `/downloads/${id}/progress`);
    expect(p.body).toEqual({
      session_id: id,
      bytes_confirmed: 3,
      total_bytes: 4,
      percentage: 75,
      status: 'paused',
      transfer_rate_bps: 0,
      completed_chunk_count: 0,
    });
  });
});
