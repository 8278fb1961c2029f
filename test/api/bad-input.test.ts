import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReportProgressDocument, StartDownloadDocument } from '../../src/client/generated/graphql.ts';
import { allSessionRows, bytesOf, postRaw, rawGql, sessionRow, sha256, UNKNOWN_ID } from '../helpers/api.ts';
import { codeOf, gql, rest, startTestServer, type TestServer } from '../helpers/server.ts';

// Bad input of every kind gets its stable error code (never INTERNAL) and leaves the stored
// state exactly as it was. The limits here are the defaults: depth 12, 30 aliases, 64 KiB bodies.

const SIZE = 300_000;
const CHUNK = 64 * 1024; // 5 chunks, indexes 0..4
const BYTES = bytesOf(SIZE, 9);
const MAX_BODY = 65_536;

let server: TestServer;
let url: string;
let token: string;
let fileId: string;
/** ACTIVE, with bytesConfirmed 200,000, chunk 0 done and a transfer rate: the state bad input must not touch. */
let sessionId: string;

const prisma = () => server.runtime.db.prisma;

beforeAll(async () => {
  server = await startTestServer({ role: 'api' });
  url = server.url;
  token = await server.token('eve');
  fileId = await server.addFile('target.bin', BYTES, { chunkSize: CHUNK });
  const s = await gql(url, token, StartDownloadDocument, { fileId, clientId: 'target' });
  sessionId = s.data!.startDownload.session.id;
  const r = await gql(url, token, ReportProgressDocument, {
    sessionId,
    bytesConfirmed: 200_000,
    completedChunks: [0],
    transferRateBps: 1000,
  });
  expect(r.data!.reportProgress.bytesConfirmed).toBe(200_000);
});

afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
});

const REPORT = `mutation ($id: ID!, $b: ByteCount, $c: [Int!], $r: ByteCount) {
  reportProgress(sessionId: $id, bytesConfirmed: $b, completedChunks: $c, transferRateBps: $r) { bytesConfirmed completedChunks }
}`;
const PAUSE = `mutation ($id: ID!, $b: ByteCount, $c: [Int!], $r: ByteCount) {
  pauseDownload(sessionId: $id, bytesConfirmed: $b, completedChunks: $c, transferRateBps: $r) { status bytesConfirmed }
}`;

/**
 * The HTTP status each code comes with on /graphql: 200 for errors raised while executing (and,
 * as graphql-yoga does for application/json, for documents that fail validation), 400 for
 * requests refused before execution (variable coercion, the limits).
 */
const GRAPHQL_STATUS: Record<string, number> = {
  INVALID_PROGRESS: 200,
  NOT_FOUND: 200,
  BAD_USER_INPUT: 400,
  GRAPHQL_VALIDATION_FAILED: 200,
  QUERY_TOO_COMPLEX: 400,
};

/** Sends the same bad request twice: the code is the expected one both times, and the row never moves. */
async function expectRefused(
  send: () => Promise<{ status: number; errors?: any; data?: any }>,
  code: string,
  status = GRAPHQL_STATUS[code],
) {
  const before = await allSessionRows(prisma());
  for (let i = 0; i < 2; i++) {
    const r = await send();
    expect(codeOf(r as never)).toBe(code);
    expect(r.errors).toHaveLength(1);
    expect(r.status).toBe(status);
    expect(r.data ?? null).toBeNull();
  }
  expect(await allSessionRows(prisma())).toEqual(before);
}

describe('progress values', () => {
  // [what, variables, code]. Numbers reach the session rules (INVALID_PROGRESS); non-numbers are
  // refused by GraphQL's own variable coercion (BAD_USER_INPUT, HTTP 400) before any resolver runs.
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['negative offset', { b: -1 }, 'INVALID_PROGRESS'],
    ['negative fractional offset', { b: -0.5 }, 'INVALID_PROGRESS'],
    ['fractional offset', { b: 1.5 }, 'INVALID_PROGRESS'],
    ['fractional offset above the stored one', { b: 200_000.5 }, 'INVALID_PROGRESS'],
    ['offset one past the file size', { b: SIZE + 1 }, 'INVALID_PROGRESS'],
    ['offset 2^53', { b: 2 ** 53 }, 'INVALID_PROGRESS'],
    ['offset 1e20', { b: 1e20 }, 'INVALID_PROGRESS'],
    ['offset as a numeric string', { b: '100' }, 'BAD_USER_INPUT'],
    ['offset "NaN"', { b: 'NaN' }, 'BAD_USER_INPUT'],
    ['offset as an empty string', { b: '' }, 'BAD_USER_INPUT'],
    ['offset as a boolean', { b: true }, 'BAD_USER_INPUT'],
    ['offset as an object', { b: { n: 1 } }, 'BAD_USER_INPUT'],
    ['offset as a list', { b: [1] }, 'BAD_USER_INPUT'],
    ['chunk index = chunk count', { c: [5] }, 'INVALID_PROGRESS'],
    ['negative chunk index', { c: [-1] }, 'INVALID_PROGRESS'],
    ['valid chunks with one out of range', { c: [1, 2, 99] }, 'INVALID_PROGRESS'],
    ['valid offset with an invalid chunk', { b: 250_000, c: [7] }, 'INVALID_PROGRESS'],
    ['valid chunk with an oversized offset', { b: SIZE + 1, c: [1] }, 'INVALID_PROGRESS'],
    ['fractional chunk index', { c: [1.5] }, 'BAD_USER_INPUT'],
    ['chunk index as a string', { c: ['1'] }, 'BAD_USER_INPUT'],
    ['chunk index beyond Int', { c: [2 ** 31] }, 'BAD_USER_INPUT'],
    ['null chunk index', { c: [null] }, 'BAD_USER_INPUT'],
    ['negative transfer rate', { r: -1 }, 'INVALID_PROGRESS'],
    ['fractional transfer rate', { r: 0.5 }, 'INVALID_PROGRESS'],
    ['transfer rate above 100 Gbit/s', { r: 12_500_000_001 }, 'INVALID_PROGRESS'],
  ];

  for (const [what, vars, code] of cases) {
    it(`reportProgress: ${what} → ${code}`, async () => {
      await expectRefused(() => rawGql(url, token, REPORT, { id: sessionId, ...vars }), code);
    });
    it(`pauseDownload: ${what} → ${code}, and the session is not paused`, async () => {
      await expectRefused(() => rawGql(url, token, PAUSE, { id: sessionId, ...vars }), code);
      expect((await sessionRow(prisma(), sessionId)).status).toBe('ACTIVE');
    });
  }

  it('a non-finite offset (JSON 1e400, i.e. Infinity) → BAD_USER_INPUT', async () => {
    const send = async () => {
      const res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: `{"query": ${JSON.stringify(REPORT)}, "variables": {"id": "${sessionId}", "b": 1e400}}`,
      });
      return { status: res.status, ...((await res.json()) as object) };
    };
    await expectRefused(send, 'BAD_USER_INPUT');
  });

  it('literals in the document: a negative offset → INVALID_PROGRESS; non-numbers fail validation', async () => {
    const lit = (args: string) => () =>
      rawGql(url, token, `mutation { reportProgress(sessionId: "${sessionId}", ${args}) { bytesConfirmed } }`);
    await expectRefused(lit('bytesConfirmed: -5'), 'INVALID_PROGRESS');
    await expectRefused(lit('bytesConfirmed: 1e400'), 'INVALID_PROGRESS');
    await expectRefused(lit('bytesConfirmed: 3.25'), 'INVALID_PROGRESS');
    await expectRefused(lit('bytesConfirmed: "5"'), 'GRAPHQL_VALIDATION_FAILED');
    await expectRefused(lit('bytesConfirmed: true'), 'GRAPHQL_VALIDATION_FAILED');
    await expectRefused(lit('completedChunks: [1.5]'), 'GRAPHQL_VALIDATION_FAILED');
    await expectRefused(lit('completedChunks: [-1]'), 'INVALID_PROGRESS');
  });

  it('backwards progress is accepted but moves nothing back (late reports are no-ops, DESIGN §4)', async () => {
    const before = await sessionRow(prisma(), sessionId);
    expect([before.bytesConfirmed, before.completedChunks]).toEqual([200_000n, [0]]);
    for (const b of [100_000, 0, 199_999, 200_000]) {
      const r = await rawGql(url, token, REPORT, { id: sessionId, b });
      expect(r.errors).toBeUndefined();
      expect(r.data.reportProgress).toEqual({ bytesConfirmed: 200_000, completedChunks: [0] });
    }
    // A repeated chunk is no news either.
    const again = await rawGql(url, token, REPORT, { id: sessionId, c: [0] });
    expect(again.data.reportProgress).toEqual({ bytesConfirmed: 200_000, completedChunks: [0] });

    const after = await sessionRow(prisma(), sessionId);
    // Every column is as it was, except the activity stamps: a report is activity, so it may
    // extend the session's lifetime (DESIGN §4) but never shorten it.
    const { updatedAt: ua, expiresAt: ea, ...rest } = after;
    const { updatedAt: ub, expiresAt: eb, ...restBefore } = before;
    expect(rest).toEqual(restBefore);
    expect(ea.getTime()).toBeGreaterThanOrEqual(eb.getTime());
    expect(ua.getTime()).toBeGreaterThanOrEqual(ub.getTime());
  });

  it('REST: non-numbers are 400 BAD_REQUEST, bad numbers 422 INVALID_PROGRESS, and nothing moves', async () => {
    const before = await allSessionRows(prisma());
    const cases: Array<[Record<string, unknown>, number, string]> = [
      [{ bytes_confirmed: -1 }, 422, 'INVALID_PROGRESS'],
      [{ bytes_confirmed: 0.5 }, 422, 'INVALID_PROGRESS'],
      [{ bytes_confirmed: SIZE + 1 }, 422, 'INVALID_PROGRESS'],
      [{ bytes_confirmed: 2 ** 60 }, 422, 'INVALID_PROGRESS'],
      [{ completed_chunks: [5] }, 422, 'INVALID_PROGRESS'],
      [{ completed_chunks: [-1] }, 422, 'INVALID_PROGRESS'],
      [{ completed_chunks: [0.5] }, 422, 'INVALID_PROGRESS'],
      [{ transfer_rate_bps: -5 }, 422, 'INVALID_PROGRESS'],
      [{ status: 'paused', bytes_confirmed: -1 }, 422, 'INVALID_PROGRESS'],
      [{ bytes_confirmed: '100' }, 400, 'BAD_REQUEST'],
      [{ bytes_confirmed: 'NaN' }, 400, 'BAD_REQUEST'],
      [{ bytes_confirmed: true }, 400, 'BAD_REQUEST'],
      [{ completed_chunks: [1, '2'] }, 400, 'BAD_REQUEST'],
    ];
    for (const [body, status, code] of cases) {
      const r = await rest(url, token, 'PATCH', `/downloads/${sessionId}`, body);
      expect([r.status, r.body.error?.code], JSON.stringify(body)).toEqual([status, code]);
    }
    // 1e400 in raw JSON is Infinity to JSON.parse: not a JSON number the body schema accepts.
    const inf = await rest(url, token, 'PATCH', `/downloads/${sessionId}`, '{"bytes_confirmed": 1e400}');
    expect([inf.status, inf.body.error.code]).toEqual([400, 'BAD_REQUEST']);
    expect(await allSessionRows(prisma())).toEqual(before);
  });
});

describe('ids, device names and checksums', () => {
  const malformed = [
    'abc',
    '123',
    '',
    ' ',
    UNKNOWN_ID.replaceAll('-', ''),
    `${UNKNOWN_ID} `,
    `${UNKNOWN_ID}0`,
    '\'; DROP TABLE "DownloadSession"; --',
    'x'.repeat(5000),
  ];

  it('malformed and unknown session ids are NOT_FOUND on every operation, and nothing changes', async () => {
    const ops = [
      (id: string) => rawGql(url, token, 'query ($id: ID!) { downloadSession(id: $id) { id } }', { id }),
      (id: string) => rawGql(url, token, 'query ($id: ID!) { downloadProgress(sessionId: $id) { sessionId } }', { id }),
      (id: string) => rawGql(url, token, REPORT, { id, c: [1] }),
      (id: string) => rawGql(url, token, PAUSE, { id }),
      (id: string) => rawGql(url, token, 'mutation ($id: ID!) { resumeDownload(sessionId: $id) { downloadUrl } }', { id }),
      (id: string) => rawGql(url, token, 'mutation ($id: ID!) { refreshDownloadUrl(sessionId: $id) { downloadUrl } }', { id }),
      (id: string) =>
        rawGql(url, token, 'mutation ($id: ID!, $c: String!) { completeDownload(sessionId: $id, checksum: $c) { id } }', {
          id,
          c: sha256(BYTES),
        }),
    ];
    for (const id of [...malformed, UNKNOWN_ID]) {
      for (const op of ops) await expectRefused(() => op(id), 'NOT_FOUND');
      if (id.trim() && id.length < 1000) {
        const r = await rest(url, token, 'GET', `/downloads/${encodeURIComponent(id)}`);
        expect([r.status, r.body.error?.code], id).toEqual([404, 'NOT_FOUND']);
      }
    }
  });

  it('an upper-case spelling of a real id finds the session (ids are UUIDs, compared canonically)', async () => {
    const r = await rawGql(url, token, 'query ($id: ID!) { downloadSession(id: $id) { id } }', { id: sessionId.toUpperCase() });
    expect(r.errors).toBeUndefined();
    expect(r.data.downloadSession.id).toBe(sessionId);
  });

  it('malformed file ids are NOT_FOUND for startDownload, and no session is made', async () => {
    for (const id of malformed) {
      await expectRefused(
        () => rawGql(url, token, 'mutation ($f: ID!) { startDownload(fileId: $f, clientId: "x") { downloadUrl } }', { f: id }),
        'NOT_FOUND',
      );
    }
  });

  it('a clientId with spaces, control or non-ASCII characters, empty, or over 128 characters is BAD_USER_INPUT', async () => {
    for (const clientId of ['my laptop', ' lead', 'tab\there', 'line\nbreak', 'gerät', '', 'a'.repeat(129), 'x'.repeat(10_000)]) {
      const send = () => gql(url, token, StartDownloadDocument, { fileId, clientId });
      const before = await allSessionRows(prisma());
      const r = await send();
      expect([r.status, codeOf(r)], JSON.stringify(clientId)).toEqual([200, 'BAD_USER_INPUT']);
      expect(r.data).toBeNull();
      const viaRest = await rest(url, token, 'POST', '/downloads', { file_id: fileId, client_id: clientId });
      expect([viaRest.status, viaRest.body.error?.code]).toEqual([400, 'BAD_USER_INPUT']);
      expect(await allSessionRows(prisma())).toEqual(before);
    }
    // The limits themselves are fine.
    for (const clientId of ['a'.repeat(128), 'device-1_A.b:c@host!~']) {
      const r = await gql(url, token, StartDownloadDocument, { fileId, clientId });
      expect(r.errors, clientId).toBeUndefined();
      expect(r.data!.startDownload.session.clientId).toBe(clientId);
    }
  });

  it('a checksum that is not 64 hex characters is BAD_USER_INPUT and completes nothing', async () => {
    const complete = 'mutation ($id: ID!, $c: String!) { completeDownload(sessionId: $id, checksum: $c) { id } }';
    for (const c of ['', 'abc', 'g'.repeat(64), `${sha256(BYTES)}0`, sha256(BYTES).slice(1)]) {
      // Raised by the session rules during execution, so HTTP 200 with the error (unlike coercion's 400).
      await expectRefused(() => rawGql(url, token, complete, { id: sessionId, c }), 'BAD_USER_INPUT', 200);
    }
  });
});

describe('query limits', () => {
  /** `{ __schema { types { fields { type { ofType … { name } } } } } }` nested to `depth` levels in all. */
  const introspection = (depth: number) => {
    // __schema, types, fields, type = 4 levels; name = 1; the rest are ofType.
    const ofTypes = depth - 5;
    return `{ __schema { types { fields { type { ${'ofType { '.repeat(ofTypes)}name${' }'.repeat(ofTypes)} } } } } }`;
  };

  it('depth 12 is answered; depth 13 is QUERY_TOO_COMPLEX (HTTP 400), with no data', async () => {
    const ok = await rawGql(url, token, introspection(12));
    expect(ok.status).toBe(200);
    expect(ok.errors).toBeUndefined();
    expect(ok.data.__schema.types.length).toBeGreaterThan(5);

    const r = await rawGql(url, token, introspection(13));
    expect(r.status).toBe(400);
    expect(codeOf(r)).toBe('QUERY_TOO_COMPLEX');
    expect(r.errors![0]!.message).toBe('query depth 13 exceeds the limit of 12');
    expect(r.data ?? null).toBeNull();
  });

  it('depth is counted through named fragments; inline fragments add no level of their own', async () => {
    const viaFragments = (ofTypes: number) => `
      { __schema { types { ...F } } }
      fragment F on __Type { fields { type { ...G } } }
      fragment G on __Type { ${'ofType { '.repeat(ofTypes)}name${' }'.repeat(ofTypes)} }`;
    const ok = await rawGql(url, token, viaFragments(7));
    expect(ok.errors).toBeUndefined();
    const deep = await rawGql(url, token, viaFragments(8));
    expect(codeOf(deep)).toBe('QUERY_TOO_COMPLEX');

    const inline = (ofTypes: number) =>
      `{ __schema { types { ... on __Type { fields { type { ${'... on __Type { ofType { '.repeat(ofTypes)}name${' } }'.repeat(ofTypes)} } } } } } }`;
    expect((await rawGql(url, token, inline(7))).errors).toBeUndefined();
    expect(codeOf(await rawGql(url, token, inline(8)))).toBe('QUERY_TOO_COMPLEX');
  });

  it('a fragment cycle is refused by validation and does not hang the server', async () => {
    const r = await rawGql(url, token, '{ __schema { types { ...A } } } fragment A on __Type { ofType { ...A } }');
    expect(codeOf(r)).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(r.errors!.some((e) => /^Cannot spread fragment "A" within itself\.$/.test(e.message))).toBe(true);
  });

  const aliased = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: myDownloads(first: 1) { id }`).join(' ')} }`;

  it('30 aliases are answered; 31 are QUERY_TOO_COMPLEX', async () => {
    const ok = await rawGql(url, token, aliased(30));
    expect(ok.errors).toBeUndefined();
    expect(Object.keys(ok.data)).toHaveLength(30);
    const r = await rawGql(url, token, aliased(31));
    expect(r.status).toBe(400);
    expect(codeOf(r)).toBe('QUERY_TOO_COMPLEX');
    expect(r.errors![0]!.message).toBe('more than 30 aliases in one document');
  });

  it('aliases are counted across nesting levels', async () => {
    const nested = (inner: number) =>
      `{ ${Array.from({ length: 15 }, (_, i) => `a${i}: myDownloads(first: 1) { id }`).join(' ')} x: myDownloads(first: 1) { ${Array.from({ length: inner }, (_, i) => `f${i}: id`).join(' ')} } }`;
    // 15 top-level aliases, the aliased `x`, and `inner` aliases inside it.
    expect((await rawGql(url, token, nested(14))).errors).toBeUndefined();
    expect(codeOf(await rawGql(url, token, nested(15)))).toBe('QUERY_TOO_COMPLEX');
  });

  it('31 aliased mutations are refused before any runs: the session is unchanged', async () => {
    const doc = `mutation { ${Array.from({ length: 31 }, (_, i) => `m${i}: reportProgress(sessionId: "${sessionId}", completedChunks: [${i % 5}]) { bytesConfirmed }`).join(' ')} }`;
    await expectRefused(() => rawGql(url, token, doc), 'QUERY_TOO_COMPLEX');
  });
});

describe('body size', () => {
  /** A valid GraphQL request body of exactly `size` bytes (the query padded with spaces). */
  const bodyOf = (size: number) => {
    const base = JSON.stringify({ query: '{ myDownloads(first: 1) { id } }' });
    const pad = size - base.length;
    const body = JSON.stringify({ query: `{ myDownloads(first: 1) { id } }${' '.repeat(pad)}` });
    expect(body.length).toBe(size);
    return Buffer.from(body);
  };

  it(`a body of exactly ${MAX_BODY} bytes is answered; one byte more is 413 PAYLOAD_TOO_LARGE on /graphql`, async () => {
    const ok = await postRaw(url, '/graphql', token, bodyOf(MAX_BODY));
    expect(ok.status).toBe(200);
    expect(ok.body.data.myDownloads).toHaveLength(1);

    const r = await postRaw(url, '/graphql', token, bodyOf(MAX_BODY + 1));
    expect(r.status).toBe(413);
    expect(r.body).toEqual({
      errors: [{ message: `request body over ${MAX_BODY} bytes`, extensions: { code: 'PAYLOAD_TOO_LARGE' } }],
    });
  });

  it('a chunked body (no Content-Length) is counted as it streams: 413 on /graphql', async () => {
    const ok = await postRaw(url, '/graphql', token, bodyOf(MAX_BODY), { chunked: true });
    expect(ok.status).toBe(200);
    const r = await postRaw(url, '/graphql', token, bodyOf(200_000), { chunked: true });
    expect(r.status).toBe(413);
    expect(r.body.errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('after a 413 the connection is closed, so a keep-alive client’s next request is answered', async () => {
    for (const chunked of [true, false]) {
      const r = await postRaw(url, '/graphql', token, bodyOf(200_000), { chunked });
      expect(r.status).toBe(413);
      expect(r.headers.connection).toBe('close');
      // The same (keep-alive) agent: this once hung when it reused the half-read connection.
      const next = await postRaw(url, '/graphql', token, bodyOf(1000));
      expect(next.status).toBe(200);
      expect(next.body.data.myDownloads).toHaveLength(1);
    }
  });

  it('an oversized mutation stores nothing', async () => {
    const q = `mutation { reportProgress(sessionId: "${sessionId}", completedChunks: [1, 2, 3, 4]) { bytesConfirmed } }`;
    const body = Buffer.from(JSON.stringify({ query: q + ' '.repeat(MAX_BODY) }));
    const before = await allSessionRows(prisma());
    for (const chunked of [false, true]) {
      const r = await postRaw(url, '/graphql', token, body, { chunked });
      expect([r.status, r.body.errors[0].extensions.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    }
    expect(await allSessionRows(prisma())).toEqual(before);
  });

  it('REST: 413 PAYLOAD_TOO_LARGE for POST /downloads and PATCH /downloads/{id}, and nothing stored', async () => {
    const before = await allSessionRows(prisma());
    const big = Buffer.from(JSON.stringify({ file_id: fileId, client_id: 'big', pad: ' '.repeat(MAX_BODY) }));
    for (const chunked of [false, true]) {
      const r = await postRaw(url, '/downloads', token, big, { chunked });
      expect(r.status).toBe(413);
      expect(r.body).toEqual({ error: { code: 'PAYLOAD_TOO_LARGE', message: `request body over ${MAX_BODY} bytes` } });
    }
    const res = await fetch(`${url}/downloads/${sessionId}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      // 40,000 × "1," = 80,000 bytes of otherwise valid JSON.
      body: JSON.stringify({ completed_chunks: Array.from({ length: 40_000 }, () => 1) }),
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as any).error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(await allSessionRows(prisma())).toEqual(before);
  });
});

describe('routes', () => {
  it('an unknown route is 404 NOT_FOUND with the error body', async () => {
    for (const [path, auth] of [
      ['/', false],
      ['/nope', false],
      ['/graphql/extra', false],
      ['/download', false],
      ['/downloads/a/b/c', true],
      [`/downloads/${sessionId}/progress/extra`, true],
      [`/downloads/${sessionId}/other`, true],
    ] as const) {
      const r = await rest(url, auth ? token : undefined, 'GET', path);
      expect([r.status, r.body], path).toEqual([404, { error: { code: 'NOT_FOUND', message: `no route for ${path}` } }]);
    }
  });
});
