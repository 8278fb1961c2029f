import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesOf, sessionRow, sha256, UNKNOWN_ID } from '../helpers/api.ts';
import { rest, startTestServer, type TestServer } from '../helpers/server.ts';

// The seed's REST endpoints (snake_case JSON, lowercase statuses) over HTTP, on PostgreSQL.

const SIZE = 300_000;
const CHUNK = 64 * 1024;
const BYTES = bytesOf(SIZE, 3);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let server: TestServer;
let url: string;
let token: string;
let fileId: string;

beforeAll(async () => {
  server = await startTestServer({ role: 'serve' });
  url = server.url;
  token = await server.token('rest-user');
  fileId = await server.addFile('seed.bin', BYTES, { chunkSize: CHUNK, contentType: 'application/x-seed' });
});

afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
});

const prisma = () => server.runtime.db.prisma;
const call = (method: string, path: string, body?: unknown) => rest(url, token, method, path, body);

async function startSession(clientId: string): Promise<string> {
  const r = await call('POST', '/downloads', { file_id: fileId, client_id: clientId });
  expect(r.status).toBe(201);
  return r.body.session_id;
}

/** `{ error: { code, message } }` with the code's status, and nothing else in the body. */
function expectError(r: { status: number; body: any }, status: number, code: string) {
  expect(r.status).toBe(status);
  expect(r.body).toEqual({ error: { code, message: expect.any(String) } });
  expect(r.body.error.message.length).toBeGreaterThan(0);
}

describe('the seed flow', () => {
  it('POST, PATCH paused, GET, GET progress, PATCH resumed, PATCH completed', async () => {
    // POST /downloads: 201 for a new session.
    const started = await call('POST', '/downloads', { file_id: fileId, client_id: 'seed-client' });
    expect(started.status).toBe(201);
    const row0 = await sessionRow(prisma(), started.body.session_id);
    expect(started.body).toEqual({
      session_id: expect.stringMatching(UUID),
      download_url: expect.stringMatching(new RegExp(`^${url}/d/`)),
      file_size: SIZE,
      checksum: sha256(BYTES),
      content_type: 'application/x-seed',
      expires_at: row0.urlExpiresAt.toISOString(),
      session_expires_at: row0.expiresAt.toISOString(),
      status: 'active',
      bytes_confirmed: 0,
    });
    const id: string = started.body.session_id;
    expect(row0).toMatchObject({ ownerId: 'rest-user', clientId: 'seed-client', fileId, status: 'ACTIVE' });

    // The URL serves the file's bytes.
    const head = await fetch(started.body.download_url, { headers: { range: 'bytes=0-9' } });
    expect(head.status).toBe(206);
    expect(Buffer.from(await head.arrayBuffer())).toEqual(BYTES.subarray(0, 10));

    // POST again: 200, the same session.
    const again = await call('POST', '/downloads', { file_id: fileId, client_id: 'seed-client' });
    expect(again.status).toBe(200);
    expect(again.body.session_id).toBe(id);
    expect(await prisma().downloadSession.count({ where: { ownerId: 'rest-user', clientId: 'seed-client' } })).toBe(1);

    // PATCH paused with the confirmed offset.
    const paused = await call('PATCH', `/downloads/${id}`, { status: 'paused', bytes_confirmed: 100_000 });
    expect(paused.status).toBe(200);
    expect(paused.body).toMatchObject({ session_id: id, status: 'paused', bytes_confirmed: 100_000, download_url: null });
    const row1 = await sessionRow(prisma(), id);
    expect([row1.status, row1.bytesConfirmed]).toEqual(['PAUSED', 100_000n]);

    // GET /downloads/{id}: the whole session, snake_case.
    const got = await call('GET', `/downloads/${id}`);
    expect(got.status).toBe(200);
    expect(got.body).toEqual({
      session_id: id,
      file_id: fileId,
      client_id: 'seed-client',
      status: 'paused',
      bytes_confirmed: 100_000,
      total_bytes: SIZE,
      completed_chunks: [],
      download_url: expect.stringMatching(new RegExp(`^${url}/d/`)),
      url_expires_at: row1.urlExpiresAt.toISOString(),
      expires_at: row1.expiresAt.toISOString(),
      created_at: row1.createdAt.toISOString(),
      updated_at: row1.updatedAt.toISOString(),
    });

    // GET /downloads/{id}/progress.
    const progress = await call('GET', `/downloads/${id}/progress`);
    expect(progress.status).toBe(200);
    expect(progress.body).toEqual({
      session_id: id,
      bytes_confirmed: 100_000,
      total_bytes: SIZE,
      percentage: 33.33,
      status: 'paused',
      transfer_rate_bps: 0,
      completed_chunk_count: 0,
    });

    // PATCH resumed: active again, with a URL to continue from bytes_confirmed.
    const resumed = await call('PATCH', `/downloads/${id}`, { status: 'resumed' });
    expect(resumed.status).toBe(200);
    expect(resumed.body).toMatchObject({ session_id: id, status: 'active', bytes_confirmed: 100_000 });
    const rest2 = await fetch(resumed.body.download_url, { headers: { range: `bytes=${resumed.body.bytes_confirmed}-` } });
    expect(rest2.status).toBe(206);
    expect(Buffer.from(await rest2.arrayBuffer())).toEqual(BYTES.subarray(100_000));
    expect((await sessionRow(prisma(), id)).status).toBe('ACTIVE');

    // PATCH completed with the checksum.
    const done = await call('PATCH', `/downloads/${id}`, { status: 'completed', checksum: sha256(BYTES) });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({
      session_id: id,
      status: 'completed',
      bytes_confirmed: SIZE,
      completed_chunks: [0, 1, 2, 3, 4],
      download_url: null,
    });
    const row2 = await sessionRow(prisma(), id);
    expect([row2.status, row2.bytesConfirmed]).toEqual(['COMPLETED', BigInt(SIZE)]);
    expect(row2.completedAt).toBeInstanceOf(Date);

    const final = await call('GET', `/downloads/${id}/progress`);
    expect(final.body).toMatchObject({ bytes_confirmed: SIZE, total_bytes: SIZE, percentage: 100, status: 'completed' });
    // A completed session shows no download URL.
    expect((await call('GET', `/downloads/${id}`)).body.download_url).toBeNull();

    // A new POST after completion starts a new session.
    const next = await call('POST', '/downloads', { file_id: fileId, client_id: 'seed-client' });
    expect(next.status).toBe(201);
    expect(next.body.session_id).not.toBe(id);
  });

  it('a plain sequential client PATCHes increasing offsets; a lower late value does not move progress back', async () => {
    const id = await startSession('sequential');
    const steps: Array<[number, number]> = [
      [50_000, 50_000],
      [150_000, 150_000],
      [250_000, 250_000],
      [100_000, 250_000], // late report: accepted, no change
      [0, 250_000],
      [SIZE, SIZE],
    ];
    for (const [sent, expected] of steps) {
      const r = await call('PATCH', `/downloads/${id}`, { bytes_confirmed: sent, transfer_rate_bps: 1_000_000 });
      expect(r.status, `bytes_confirmed ${sent}`).toBe(200);
      expect(r.body.bytes_confirmed).toBe(expected);
      expect(r.body.status).toBe('active');
      expect((await sessionRow(prisma(), id)).bytesConfirmed).toBe(BigInt(expected));
    }
    const p = await call('GET', `/downloads/${id}/progress`);
    expect(p.body).toEqual({
      session_id: id,
      bytes_confirmed: SIZE,
      total_bytes: SIZE,
      percentage: 100,
      status: 'active',
      transfer_rate_bps: 1_000_000,
      completed_chunk_count: 0,
    });
  });

  it('a parallel client PATCHes completed_chunks and gets the done-prefix', async () => {
    const id = await startSession('parallel');
    let r = await call('PATCH', `/downloads/${id}`, { completed_chunks: [1, 3] });
    expect([r.status, r.body.bytes_confirmed, r.body.completed_chunks]).toEqual([200, 0, [1, 3]]);
    r = await call('PATCH', `/downloads/${id}`, { completed_chunks: [0] });
    expect([r.status, r.body.bytes_confirmed, r.body.completed_chunks]).toEqual([200, 2 * CHUNK, [0, 1, 3]]);
    const p = await call('GET', `/downloads/${id}/progress`);
    expect(p.body).toMatchObject({ bytes_confirmed: 2 * CHUNK, completed_chunk_count: 3, percentage: 43.69 });
  });

  it('PATCH paused then resumed accepts a progress report in the same call', async () => {
    const id = await startSession('resume-with-report');
    await call('PATCH', `/downloads/${id}`, { status: 'paused' });
    const r = await call('PATCH', `/downloads/${id}`, { status: 'resumed', bytes_confirmed: 70_000 });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: 'active', bytes_confirmed: 70_000, download_url: expect.any(String) });
  });
});

describe('bad requests', () => {
  it('bad JSON is 400 BAD_REQUEST on POST and PATCH, and stores nothing', async () => {
    const id = await startSession('bad-json');
    const before = await sessionRow(prisma(), id);
    const count = await prisma().downloadSession.count();
    for (const body of ['{', '{"file_id": }', 'not json', '[1,2', '{"status":"paused",}']) {
      expectError(await call('POST', '/downloads', body), 400, 'BAD_REQUEST');
      expectError(await call('PATCH', `/downloads/${id}`, body), 400, 'BAD_REQUEST');
    }
    expect(await prisma().downloadSession.count()).toBe(count);
    expect(await sessionRow(prisma(), id)).toEqual(before);
  });

  it('unknown fields, wrong types and missing fields are 400 BAD_REQUEST', async () => {
    const id = await startSession('bad-fields');
    const before = await sessionRow(prisma(), id);
    const count = await prisma().downloadSession.count();
    for (const body of [
      { file_id: fileId, client_id: 'x', extra: 1 },
      { fileId },
      { client_id: 'x' },
      { file_id: 42 },
      [fileId],
      'null',
      '"a string"',
    ]) {
      expectError(await call('POST', '/downloads', body), 400, 'BAD_REQUEST');
    }
    for (const body of [
      { status: 'paused', bytesConfirmed: 5 },
      { status: 'bogus' },
      { status: 'PAUSED' },
      { bytes_confirmed: '100' },
      { bytes_confirmed: null },
      { completed_chunks: 'all' },
      { completed_chunks: ['1'] },
      {},
      { status: 'completed' }, // no checksum
    ]) {
      expectError(await call('PATCH', `/downloads/${id}`, body), 400, 'BAD_REQUEST');
    }
    expect(await prisma().downloadSession.count()).toBe(count);
    expect(await sessionRow(prisma(), id)).toEqual(before);
  });

  it('methods a route does not take are refused with a stable code', async () => {
    const id = await startSession('methods');
    expectError(await call('GET', '/downloads'), 400, 'BAD_REQUEST');
    expectError(await call('DELETE', `/downloads/${id}`), 400, 'BAD_REQUEST');
    expectError(await call('POST', `/downloads/${id}/progress`, {}), 400, 'BAD_REQUEST');
    expect((await sessionRow(prisma(), id)).status).toBe('ACTIVE');
  });
});

describe('error body shape and status', () => {
  it('401 UNAUTHENTICATED without a token, with WWW-Authenticate: Bearer', async () => {
    const res = await fetch(`${url}/downloads`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ file_id: fileId }),
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ error: { code: 'UNAUTHENTICATED', message: expect.any(String) } });
    expectError(await rest(url, undefined, 'GET', `/downloads/${UNKNOWN_ID}`), 401, 'UNAUTHENTICATED');
    expectError(await rest(url, 'garbage', 'GET', `/downloads/${UNKNOWN_ID}/progress`), 401, 'UNAUTHENTICATED');
  });

  it('404 NOT_FOUND for unknown and malformed ids, and for an unknown file', async () => {
    for (const path of [
      `/downloads/${UNKNOWN_ID}`,
      '/downloads/not-a-uuid',
      `/downloads/${UNKNOWN_ID}/progress`,
      '/downloads/%20/progress',
    ]) {
      expectError(await call('GET', path), 404, 'NOT_FOUND');
    }
    expectError(await call('PATCH', `/downloads/${UNKNOWN_ID}`, { status: 'paused' }), 404, 'NOT_FOUND');
    expectError(await call('PATCH', '/downloads/123', { bytes_confirmed: 1 }), 404, 'NOT_FOUND');
    expectError(await call('POST', '/downloads', { file_id: UNKNOWN_ID }), 404, 'NOT_FOUND');
    expectError(await call('POST', '/downloads', { file_id: 'nope' }), 404, 'NOT_FOUND');
  });

  it('409 INVALID_TRANSITION on a completed session; 409 FILE_NOT_READY for a pending file', async () => {
    const id = await startSession('conflict');
    await call('PATCH', `/downloads/${id}`, { status: 'completed', checksum: sha256(BYTES) });
    const before = await sessionRow(prisma(), id);
    expectError(await call('PATCH', `/downloads/${id}`, { status: 'paused' }), 409, 'INVALID_TRANSITION');
    expectError(await call('PATCH', `/downloads/${id}`, { status: 'resumed' }), 409, 'INVALID_TRANSITION');
    expectError(await call('PATCH', `/downloads/${id}`, { bytes_confirmed: 5 }), 409, 'INVALID_TRANSITION');
    expect(await sessionRow(prisma(), id)).toEqual(before);

    const pending = await prisma().file.create({
      data: { name: 'p', sizeBytes: 1n, contentType: 'application/octet-stream', storageKey: 'rest/pending', chunkSize: CHUNK },
    });
    expectError(await call('POST', '/downloads', { file_id: pending.id, client_id: 'x' }), 409, 'FILE_NOT_READY');
    expect(await prisma().downloadSession.count({ where: { fileId: pending.id } })).toBe(0);
  });

  it('410 SESSION_EXPIRED for a session past its expiry', async () => {
    const id = await startSession('expired');
    await prisma().downloadSession.update({ where: { id }, data: { expiresAt: new Date(Date.now() - 5000) } });
    expectError(await call('PATCH', `/downloads/${id}`, { bytes_confirmed: 10 }), 410, 'SESSION_EXPIRED');
    const row = await sessionRow(prisma(), id);
    expect([row.status, row.bytesConfirmed]).toEqual(['EXPIRED', 0n]);
    expectError(await call('PATCH', `/downloads/${id}`, { status: 'resumed' }), 410, 'SESSION_EXPIRED');
    // Reads still answer, with the expired status.
    const p = await call('GET', `/downloads/${id}/progress`);
    expect([p.status, p.body.status]).toEqual([200, 'expired']);
    // And a new POST starts over.
    const next = await call('POST', '/downloads', { file_id: fileId, client_id: 'expired' });
    expect(next.status).toBe(201);
    expect(next.body.session_id).not.toBe(id);
  });

  it('422 INVALID_PROGRESS and CHECKSUM_MISMATCH leave the session unchanged', async () => {
    const id = await startSession('unprocessable');
    await call('PATCH', `/downloads/${id}`, { bytes_confirmed: 1000 });
    const before = await sessionRow(prisma(), id);
    expectError(await call('PATCH', `/downloads/${id}`, { bytes_confirmed: SIZE + 1 }), 422, 'INVALID_PROGRESS');
    expectError(await call('PATCH', `/downloads/${id}`, { bytes_confirmed: -1 }), 422, 'INVALID_PROGRESS');
    expectError(await call('PATCH', `/downloads/${id}`, { bytes_confirmed: 1.5 }), 422, 'INVALID_PROGRESS');
    expectError(await call('PATCH', `/downloads/${id}`, { completed_chunks: [5] }), 422, 'INVALID_PROGRESS');
    expectError(
      await call('PATCH', `/downloads/${id}`, { status: 'paused', bytes_confirmed: SIZE + 1 }),
      422,
      'INVALID_PROGRESS',
    );
    expectError(
      await call('PATCH', `/downloads/${id}`, { status: 'completed', checksum: sha256('other') }),
      422,
      'CHECKSUM_MISMATCH',
    );
    expect(await sessionRow(prisma(), id)).toEqual(before);
  });
});
