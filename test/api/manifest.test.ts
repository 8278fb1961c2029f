import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ChunkProofDocument,
  FileChunksDocument,
  IngestFileDocument,
  IngestStatusDocument,
} from '../../src/client/generated/graphql.ts';
import { verifyChunk, verifyChunkDigest, verifyManifest } from '../../src/client/verify.ts';
import { ingestObject } from '../../src/files/ingest.ts';
import { rawGql, UNKNOWN_ID } from '../helpers/api.ts';
import { codeOf, gql, startTestServer, type TestServer } from '../helpers/server.ts';

const KiB = 1024;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

let server: TestServer;
let admin: string;
let user: string;
let bigId: string;
const big = randomBytes(5120 * KiB - 300); // 5,120 chunks of 1 KiB, the last one short

/**
 * Counts SQL statements the server sends: every statement goes through pg's Client#query
 * (the Prisma adapter's pool included), in this process.
 */
let statements = 0;
const original = pg.Client.prototype.query;
async function countQueries<T>(fn: () => Promise<T>): Promise<{ value: T; queries: number }> {
  statements = 0;
  const value = await fn();
  return { value, queries: statements };
}

beforeAll(async () => {
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    statements++;
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof original;
  server = await startTestServer({ env: { HAUL_INGEST_BACKOFF: '20ms', HAUL_EXPIRE_EVERY: '1h' } });
  admin = await server.token('root', { role: 'admin' });
  user = await server.token('alice');
  bigId = await server.addFile('big.bin', big, { chunkSize: KiB });
});
afterAll(async () => {
  pg.Client.prototype.query = original;
  await server?.[Symbol.asyncDispose]();
});

describe('the chunk manifest over GraphQL', () => {
  it('pages a 5,120-chunk manifest in bounded queries (two per page), and it verifies against the root', async () => {
    const chunks: { index: number; startByte: number; endByte: number; sha256: string }[] = [];
    let after: string | null = null;
    let pages = 0;
    let root = '';
    for (;;) {
      const { value: r, queries } = await countQueries(() =>
        gql(server.url, user, FileChunksDocument, { id: bigId, first: 1000, after }),
      );
      pages++;
      // One statement for the file, one for the page of chunks: never one per chunk.
      expect(queries, `page ${pages}`).toBe(2);
      const file = r.data?.file;
      expect(file?.chunks.totalCount).toBe(5120);
      root = file?.merkleRoot ?? '';
      chunks.push(...(file?.chunks.edges.map((e) => e.node) ?? []));
      if (!file?.chunks.pageInfo.hasNextPage) break;
      after = file.chunks.pageInfo.endCursor ?? null;
    }
    expect(pages).toBe(6);
    expect(chunks).toHaveLength(5120);
    expect(chunks.map((c) => c.sha256)).toEqual(chunks.map((c) => sha(big.subarray(c.startByte, c.endByte + 1))));
    expect(chunks.at(-1)).toMatchObject({ index: 5119, startByte: 5119 * KiB, endByte: big.length - 1 });
    expect(verifyManifest(chunks, root, { size: big.length, chunkSize: KiB })).toBe(true);
    const tampered = chunks.map((c, i) => (i === 77 ? { ...c, sha256: sha(Buffer.from('x')) } : c));
    expect(verifyManifest(tampered, root)).toBe(false);
    expect(verifyManifest(chunks.slice(1), root)).toBe(false);
  });

  it('lists files with their manifests in a constant number of queries (no N+1)', async () => {
    const ids = [bigId];
    for (let i = 0; i < 4; i++) ids.push(await server.addFile(`small-${i}.bin`, randomBytes(3000 + i), { chunkSize: KiB }));
    const query =
      '{ files(first: 20) { edges { node { id chunkCount chunks(first: 2) { edges { node { index sha256 } } pageInfo { hasNextPage } } } } } }';
    const { value: r, queries } = await countQueries(() => rawGql(server.url, user, query));
    // The files page, then one statement for every file's chunk page together.
    expect(queries).toBe(2);
    const nodes = r.data.files.edges.map((e: any) => e.node);
    expect(nodes.map((n: any) => n.id)).toEqual(expect.arrayContaining(ids));
    for (const n of nodes) {
      expect(n.chunks.edges.map((e: any) => e.node.index)).toEqual([0, 1].slice(0, Math.min(2, n.chunkCount)));
      expect(n.chunks.pageInfo.hasNextPage).toBe(n.chunkCount > 2);
    }
  });

  it('refuses oversized pages and malformed cursors', async () => {
    const tooBig = await gql(server.url, user, FileChunksDocument, { id: bigId, first: 1001 });
    expect(codeOf(tooBig)).toBe('BAD_USER_INPUT');
    const badCursor = await gql(server.url, user, FileChunksDocument, { id: bigId, first: 10, after: 'nope' });
    expect(codeOf(badCursor)).toBe('BAD_USER_INPUT');
  });
});

describe('chunkProof and the SDK verifier', () => {
  it('proves chunks against the root in O(1) queries after the first, and every proof verifies', async () => {
    const file = (await gql(server.url, user, IngestStatusDocument, { id: bigId })).data?.file;
    const root = file?.merkleRoot as string;
    const first = await countQueries(() => gql(server.url, user, ChunkProofDocument, { fileId: bigId, index: 5119 }));
    // The file, then its leaf digests (sha256 only, by the primary key): the tree is cached.
    expect(first.queries).toBe(2);
    for (const index of [0, 1, 2, 1023, 4095, 4096, 5000, 5119]) {
      const { value: r, queries } = await countQueries(() => gql(server.url, user, ChunkProofDocument, { fileId: bigId, index }));
      expect(queries).toBe(1);
      const proof = r.data!.chunkProof;
      const bytes = big.subarray(proof.startByte, proof.endByte + 1);
      expect(proof.treeSize).toBe(5120);
      expect(proof.merkleRoot).toBe(root);
      expect(verifyChunk(bytes, proof, root), `chunk ${index}`).toBe(true);
      expect(verifyChunkDigest(sha(bytes), proof)).toBe(true);
      // A flipped bit in the data, a proof for another index, or another root: all refused.
      const flipped = Buffer.from(bytes);
      flipped[0] = (flipped[0] as number) ^ 1;
      expect(verifyChunk(flipped, proof)).toBe(false);
      expect(verifyChunk(bytes, { ...proof, index: (index + 1) % 5120 })).toBe(false);
      expect(verifyChunk(bytes, proof, sha(Buffer.from('another root')))).toBe(false);
    }
    expect(verifyChunkDigest('zz', { index: 0, sha256: 'zz', treeSize: 1, auditPath: [], merkleRoot: root })).toBe(false);
  });

  it('a re-ingest with other bytes changes the root, and proofs follow it', async () => {
    const id = await server.addFile('changes.bin', randomBytes(10 * KiB), { chunkSize: KiB });
    const before = (await gql(server.url, user, ChunkProofDocument, { fileId: id, index: 3 })).data!.chunkProof;
    const row = await server.runtime.db.prisma.file.findUniqueOrThrow({ where: { id } });
    const next = randomBytes(10 * KiB);
    await server.runtime.store.put(row.storageKey, next);
    await ingestObject(
      { prisma: server.runtime.db.prisma, store: server.runtime.store },
      { storageKey: row.storageKey, name: row.name, contentType: row.contentType, chunkSize: KiB },
    );
    const after = (await gql(server.url, user, ChunkProofDocument, { fileId: id, index: 3 })).data!.chunkProof;
    expect(after.merkleRoot).not.toBe(before.merkleRoot);
    expect(verifyChunk(next.subarray(3 * KiB, 4 * KiB), after, after.merkleRoot)).toBe(true);
  });

  it('answers BAD_USER_INPUT out of range, NOT_FOUND for no file', async () => {
    expect(codeOf(await gql(server.url, user, ChunkProofDocument, { fileId: bigId, index: 5120 }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await gql(server.url, user, ChunkProofDocument, { fileId: bigId, index: -1 }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await gql(server.url, user, ChunkProofDocument, { fileId: UNKNOWN_ID, index: 0 }))).toBe('NOT_FOUND');
  });
});

describe('ingestFile', () => {
  const input = { storageKey: 'incoming/a.bin', name: 'a.bin', contentType: 'application/octet-stream', chunkSize: 4096 };

  it('is FORBIDDEN to a non-admin (real JWT over HTTP) and UNAUTHENTICATED without a token; nothing is written', async () => {
    const before = await server.runtime.db.prisma.file.count();
    const r = await gql(server.url, user, IngestFileDocument, input);
    expect(r.status).toBe(200);
    expect(codeOf(r)).toBe('FORBIDDEN');
    const anon = await gql(server.url, undefined, IngestFileDocument, input);
    expect(anon.status).toBe(401);
    expect(codeOf(anon)).toBe('UNAUTHENTICATED');
    expect(await server.runtime.db.prisma.file.count()).toBe(before);
  });

  it('refuses bad input with BAD_USER_INPUT before writing anything', async () => {
    const before = await server.runtime.db.prisma.file.count();
    for (const bad of [
      { storageKey: '../etc/passwd' },
      { storageKey: '.haul/versions/x.json' },
      { storageKey: 'a//b' },
      { chunkSize: 100 },
      { chunkSize: 2 ** 30 + 1 },
      { contentType: 'not a media type' },
      { contentType: 'text/plain\r\nx-injected: 1' },
      { name: '' },
      { name: 'a\nb' },
      { checksum: 'xyz' },
    ]) {
      const r = await gql(server.url, admin, IngestFileDocument, { ...input, ...bad });
      expect(codeOf(r), JSON.stringify(bad)).toBe('BAD_USER_INPUT');
    }
    expect(await server.runtime.db.prisma.file.count()).toBe(before);
  });

  it('records a PENDING file, runs the job, and the file becomes READY with the right manifest', async () => {
    const bytes = randomBytes(3 * 4096 + 5);
    await server.runtime.store.put(input.storageKey, bytes);
    const r = await gql(server.url, admin, IngestFileDocument, input);
    const file = r.data!.ingestFile;
    expect(file).toMatchObject({ status: 'PENDING', name: 'a.bin', chunkSize: 4096, checksum: null });
    let status = file;
    for (let i = 0; status.status === 'PENDING' && i < 200; i++) {
      await new Promise((res) => setTimeout(res, 25));
      status = (await gql(server.url, admin, IngestStatusDocument, { id: file.id })).data!.file!;
    }
    expect(status).toMatchObject({
      status: 'READY',
      checksum: sha(bytes),
      chunkCount: 4,
      sizeBytes: bytes.length,
      ingestProgress: null,
    });
  });

  it('a missing object ends FAILED with a reason after the retries', async () => {
    const r = await gql(server.url, admin, IngestFileDocument, { ...input, storageKey: 'incoming/missing.bin' });
    let file = r.data!.ingestFile;
    for (let i = 0; file.status === 'PENDING' && i < 200; i++) {
      await new Promise((res) => setTimeout(res, 25));
      file = (await gql(server.url, admin, IngestStatusDocument, { id: file.id })).data!.file!;
    }
    expect(file.status).toBe('FAILED');
    expect(file.failReason).toMatch(/not found/);
    expect(codeOf(await gql(server.url, user, ChunkProofDocument, { fileId: file.id, index: 0 }))).toBe('FILE_NOT_READY');
    const chunks = await gql(server.url, user, FileChunksDocument, { id: file.id });
    expect(chunks.data?.file?.chunks).toMatchObject({ totalCount: 0, edges: [] });
  });
});
