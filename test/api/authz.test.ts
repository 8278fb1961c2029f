import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CompleteDownloadDocument,
  DownloadProgressDocument,
  DownloadSessionDocument,
  MyDownloadsDocument,
  PauseDownloadDocument,
  RefreshDownloadUrlDocument,
  ReportProgressDocument,
  ResumeDownloadDocument,
  StartDownloadDocument,
} from '../../src/client/generated/graphql.ts';
import { allSessionRows, bytesOf, handMadeJwt, sessionRow, sha256 } from '../helpers/api.ts';
import { codeOf, gql, rest, startTestServer, TEST_JWT_SECRET, type TestServer } from '../helpers/server.ts';

// Who may see and change what: every session operation checks ownership on GraphQL and REST,
// and every malformed, forged or expired token is refused with UNAUTHENTICATED (401).

const SIZE = 200_000;
const CHUNK = 64 * 1024;
const BYTES = bytesOf(SIZE, 5);
const KEY = new TextEncoder().encode(TEST_JWT_SECRET);

let server: TestServer;
let url: string;
let alice: string;
let bob: string;
let admin: string;
let fileId: string;
/** Alice's sessions: one ACTIVE with progress, one PAUSED. */
let activeId: string;
let pausedId: string;

const prisma = () => server.runtime.db.prisma;
const now = () => Math.floor(Date.now() / 1000);

beforeAll(async () => {
  server = await startTestServer({ role: 'api' });
  url = server.url;
  alice = await server.token('alice');
  bob = await server.token('bob');
  admin = await server.token('root', { role: 'admin' });
  fileId = await server.addFile('private.bin', BYTES, { chunkSize: CHUNK });

  const a = await gql(url, alice, StartDownloadDocument, { fileId, clientId: 'alice-laptop' });
  activeId = a.data!.startDownload.session.id;
  await gql(url, alice, ReportProgressDocument, { sessionId: activeId, completedChunks: [0, 2], transferRateBps: 1234 });
  const p = await gql(url, alice, StartDownloadDocument, { fileId, clientId: 'alice-phone' });
  pausedId = p.data!.startDownload.session.id;
  await gql(url, alice, PauseDownloadDocument, { sessionId: pausedId, bytesConfirmed: 5000 });
  // Bob has a session of his own on the same file and device name.
  await gql(url, bob, StartDownloadDocument, { fileId, clientId: 'alice-laptop' });
});

afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
});

describe("user B cannot touch user A's sessions (NOT_FOUND, nothing changes)", () => {
  const graphqlOps = {
    downloadSession: (id: string) => gql(url, bob, DownloadSessionDocument, { id }),
    downloadProgress: (id: string) => gql(url, bob, DownloadProgressDocument, { sessionId: id }),
    pauseDownload: (id: string) =>
      gql(url, bob, PauseDownloadDocument, { sessionId: id, completedChunks: [1], bytesConfirmed: 10 }),
    resumeDownload: (id: string) => gql(url, bob, ResumeDownloadDocument, { sessionId: id }),
    reportProgress: (id: string) =>
      gql(url, bob, ReportProgressDocument, { sessionId: id, completedChunks: [1], bytesConfirmed: 100 }),
    completeDownload: (id: string) => gql(url, bob, CompleteDownloadDocument, { sessionId: id, checksum: sha256(BYTES) }),
    completeDownloadWrongChecksum: (id: string) =>
      gql(url, bob, CompleteDownloadDocument, { sessionId: id, checksum: sha256('x') }),
    refreshDownloadUrl: (id: string) => gql(url, bob, RefreshDownloadUrlDocument, { sessionId: id }),
  };

  for (const [name, op] of Object.entries(graphqlOps)) {
    it(`GraphQL ${name}`, async () => {
      for (const id of [activeId, pausedId]) {
        const before = await allSessionRows(prisma());
        const r = await op(id);
        expect(r.status).toBe(200);
        expect(codeOf(r)).toBe('NOT_FOUND');
        expect(r.errors).toHaveLength(1);
        expect(r.data).toBeNull();
        // The refusal says nothing about the session: the same message as for an id that does not exist.
        expect(r.errors![0]!.message).toBe('session not found');
        expect(await allSessionRows(prisma())).toEqual(before);
      }
    });
  }

  const restOps = {
    'GET /downloads/{id}': (id: string) => rest(url, bob, 'GET', `/downloads/${id}`),
    'GET /downloads/{id}/progress': (id: string) => rest(url, bob, 'GET', `/downloads/${id}/progress`),
    'PATCH paused': (id: string) => rest(url, bob, 'PATCH', `/downloads/${id}`, { status: 'paused', bytes_confirmed: 10 }),
    'PATCH resumed': (id: string) => rest(url, bob, 'PATCH', `/downloads/${id}`, { status: 'resumed' }),
    'PATCH bytes_confirmed': (id: string) => rest(url, bob, 'PATCH', `/downloads/${id}`, { bytes_confirmed: 100 }),
    'PATCH completed_chunks': (id: string) => rest(url, bob, 'PATCH', `/downloads/${id}`, { completed_chunks: [1] }),
    'PATCH completed': (id: string) =>
      rest(url, bob, 'PATCH', `/downloads/${id}`, { status: 'completed', checksum: sha256(BYTES) }),
  };

  for (const [name, op] of Object.entries(restOps)) {
    it(`REST ${name}`, async () => {
      for (const id of [activeId, pausedId]) {
        const before = await allSessionRows(prisma());
        const r = await op(id);
        expect(r.status).toBe(404);
        expect(r.body).toEqual({ error: { code: 'NOT_FOUND', message: 'session not found' } });
        expect(await allSessionRows(prisma())).toEqual(before);
      }
    });
  }

  it("B's myDownloads lists only B's sessions", async () => {
    const r = await gql(url, bob, MyDownloadsDocument, {});
    expect(r.errors).toBeUndefined();
    const bobs = await prisma().downloadSession.findMany({ where: { ownerId: 'bob' } });
    expect(bobs).toHaveLength(1);
    expect(r.data!.myDownloads.map((s) => s.id)).toEqual([bobs[0]!.id]);
    for (const status of ['ACTIVE', 'PAUSED'] as const) {
      const f = await gql(url, bob, MyDownloadsDocument, { status });
      expect(f.data!.myDownloads.map((s) => s.id)).not.toContain(status === 'ACTIVE' ? activeId : pausedId);
    }
  });

  it("B's startDownload with A's device name makes B's own session, never hands out A's", async () => {
    const r = await gql(url, bob, StartDownloadDocument, { fileId, clientId: 'alice-phone' });
    expect(r.errors).toBeUndefined();
    const id = r.data!.startDownload.session.id;
    expect([activeId, pausedId]).not.toContain(id);
    expect(r.data!.startDownload.session.bytesConfirmed).toBe(0);
    expect((await sessionRow(prisma(), id)).ownerId).toBe('bob');
    expect((await sessionRow(prisma(), pausedId)).status).toBe('PAUSED');
  });

  it("an admin can read A's session on GraphQL and REST", async () => {
    const row = await sessionRow(prisma(), activeId);
    const s = await gql(url, admin, DownloadSessionDocument, { id: activeId });
    expect(s.errors).toBeUndefined();
    expect(s.data!.downloadSession).toMatchObject({
      id: activeId,
      clientId: 'alice-laptop',
      status: 'ACTIVE',
      bytesConfirmed: CHUNK,
      completedChunks: [0, 2],
      transferRateBps: 1234,
    });
    const p = await gql(url, admin, DownloadProgressDocument, { sessionId: pausedId });
    expect(p.data!.downloadProgress).toMatchObject({
      sessionId: pausedId,
      status: 'PAUSED',
      bytesConfirmed: 5000,
      totalBytes: SIZE,
    });
    const g = await rest(url, admin, 'GET', `/downloads/${activeId}`);
    expect(g.status).toBe(200);
    expect(g.body).toMatchObject({ session_id: activeId, status: 'active', bytes_confirmed: CHUNK });
    const gp = await rest(url, admin, 'GET', `/downloads/${pausedId}/progress`);
    expect(gp.body).toMatchObject({ session_id: pausedId, status: 'paused', bytes_confirmed: 5000 });
    // Reading changed nothing.
    expect(await sessionRow(prisma(), activeId)).toEqual(row);
  });

  it('a role claim other than admin gives no extra rights', async () => {
    const token = await new SignJWT({ role: 'superuser' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('mallory')
      .setExpirationTime('1h')
      .sign(KEY);
    const r = await gql(url, token, DownloadSessionDocument, { id: activeId });
    expect(codeOf(r)).toBe('NOT_FOUND');
  });
});

describe('tokens refused with UNAUTHENTICATED (401) on GraphQL and REST', () => {
  const sign = (claims: Record<string, unknown>, header: { alg: string } = { alg: 'HS256' }, key: Uint8Array = KEY) =>
    new SignJWT(claims).setProtectedHeader({ ...header, typ: 'JWT' }).sign(key);

  const validPayload = () => ({ sub: 'alice', exp: now() + 3600, iat: now() });

  /** Each case: a name and the Authorization header value (undefined: no header). */
  const cases: Array<[string, () => Promise<string | undefined>]> = [
    ['missing header', async () => undefined],
    ['empty header', async () => ''],
    ['"Bearer" without a token', async () => 'Bearer '],
    ['another scheme', async () => `Basic ${Buffer.from('alice:secret').toString('base64')}`],
    ['the token without a scheme', async () => server.token('alice')],
    ['garbage', async () => 'Bearer garbage'],
    ['three garbage parts', async () => 'Bearer a.b.c'],
    [
      'bad signature (another secret)',
      async () =>
        `Bearer ${await sign(validPayload(), undefined, new TextEncoder().encode('another-secret-another-secret-0123'))}`,
    ],
    [
      'alg: none, no signature',
      async () => `Bearer ${handMadeJwt({ alg: 'none', typ: 'JWT' }, { ...validPayload(), role: 'admin' })}`,
    ],
    ['alg: none, with a signature', async () => `Bearer ${handMadeJwt({ alg: 'none', typ: 'JWT' }, validPayload(), 'c2ln')}`],
    ['alg: NONE', async () => `Bearer ${handMadeJwt({ alg: 'NONE', typ: 'JWT' }, validPayload())}`],
    [
      'payload swapped under a valid signature',
      async () => {
        const [h, , s] = (await server.token('bob')).split('.');
        const p = Buffer.from(JSON.stringify(validPayload())).toString('base64url');
        return `Bearer ${h}.${p}.${s}`;
      },
    ],
    [
      'expired exp (beyond the 30 s tolerance)',
      async () => `Bearer ${await sign({ sub: 'alice', iat: now() - 7200, exp: now() - 120 })}`,
    ],
    ['missing sub', async () => `Bearer ${await sign({ exp: now() + 3600 })}`],
    ['empty sub', async () => `Bearer ${await sign({ sub: '', exp: now() + 3600 })}`],
    ['non-string sub', async () => `Bearer ${handMadeJwt({ alg: 'none' }, { sub: 42, exp: now() + 3600 })}`],
    ['sub over 256 characters', async () => `Bearer ${await sign({ sub: 'a'.repeat(257), exp: now() + 3600 })}`],
    ['missing exp', async () => `Bearer ${await sign({ sub: 'alice', iat: now() })}`],
    ['not valid yet (nbf in an hour)', async () => `Bearer ${await sign({ ...validPayload(), nbf: now() + 3600 })}`],
    ['HS512 with the right secret', async () => `Bearer ${await sign(validPayload(), { alg: 'HS512' })}`],
    ['HS384 with the right secret', async () => `Bearer ${await sign(validPayload(), { alg: 'HS384' })}`],
    ['an oversized token', async () => `Bearer ${'a'.repeat(9000)}`],
  ];

  for (const [name, header] of cases) {
    it(name, async () => {
      const authorization = await header();
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (authorization !== undefined) headers.authorization = authorization;
      const before = await allSessionRows(prisma());

      // GraphQL: a read and a write, both 401 with a GraphQL-shaped error.
      for (const query of [
        `{ downloadSession(id: "${activeId}") { id status } }`,
        `mutation { startDownload(fileId: "${fileId}", clientId: "intruder") { downloadUrl } }`,
        `mutation { pauseDownload(sessionId: "${activeId}") { id } }`,
      ]) {
        const res = await fetch(`${url}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query }) });
        expect(res.status).toBe(401);
        expect(res.headers.get('www-authenticate')).toBe('Bearer');
        const body = (await res.json()) as any;
        expect(body.data).toBeUndefined();
        expect(body.errors).toHaveLength(1);
        expect(body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
      }

      // REST: reads and writes, 401 with the REST error body.
      for (const [method, path, body] of [
        ['GET', `/downloads/${activeId}`, undefined],
        ['GET', `/downloads/${activeId}/progress`, undefined],
        ['POST', '/downloads', { file_id: fileId, client_id: 'intruder' }],
        ['PATCH', `/downloads/${activeId}`, { status: 'paused' }],
      ] as const) {
        const res = await fetch(`${url}${path}`, { method, headers, body: body && JSON.stringify(body) });
        expect(res.status, `${method} ${path}`).toBe(401);
        expect(res.headers.get('www-authenticate')).toBe('Bearer');
        expect(await res.json()).toEqual({ error: { code: 'UNAUTHENTICATED', message: expect.any(String) } });
      }

      expect(await allSessionRows(prisma())).toEqual(before);
    });
  }

  it('control: well-formed tokens are accepted (lowercase scheme, exp just inside the tolerance, admin role)', async () => {
    const ok = [
      `bearer ${await server.token('alice')}`,
      `Bearer ${await sign({ sub: 'alice', iat: now() - 600, exp: now() - 10 })}`,
      `Bearer ${await sign({ sub: 'alice', exp: now() + 60 })}`,
    ];
    for (const authorization of ok) {
      const res = await fetch(`${url}/downloads/${activeId}/progress`, { headers: { authorization } });
      expect(res.status, authorization).toBe(200);
      expect(((await res.json()) as any).session_id).toBe(activeId);
    }
  });
});
