import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../src/db/client.ts';
import { migrateDatabase } from '../../src/db/migrate.ts';
import { hashInline, hashWithThreads } from '../../src/files/hashing.ts';
import { ingestObject } from '../../src/files/ingest.ts';
import { merkleRoot } from '../../src/files/merkle.ts';
import type { BlobStore } from '../../src/storage/blob-store.ts';
import { FsBlobStore } from '../../src/storage/fs.ts';
import { S3BlobStore } from '../../src/storage/s3.ts';
import { createS3Client } from '../../src/storage/s3-client.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.ts';
import { startTestS3, type TestS3 } from '../helpers/s3.ts';

const run = promisify(execFile);
const CHUNK = 64 * 1024;

/** Independent oracles: `openssl dgst -sha256` for the whole file, `dd | sha256sum` per chunk. */
async function openssl(file: string): Promise<string> {
  const { stdout } = await run('openssl', ['dgst', '-sha256', '-r', file]);
  return stdout.split(' ')[0] as string;
}
async function chunkSums(file: string, size: number, chunkSize: number): Promise<string[]> {
  const { stdout } = await run('sh', [
    '-c',
    // One shell for all chunks: dd reads block i, sha256sum digests it.
    'i=0; while [ "$i" -lt "$3" ]; do dd if="$1" bs="$2" skip="$i" count=1 iflag=fullblock status=none | sha256sum; i=$((i+1)); done',
    'sh',
    file,
    String(chunkSize),
    String(Math.ceil(size / chunkSize)),
  ]);
  return stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ')[0] as string);
}

let dir: string;
let store: FsBlobStore;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'haul-hashing-'));
  store = new FsBlobStore(dir);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sizes: [string, number][] = [
  ['empty', 0],
  ['one byte', 1],
  ['exactly one chunk', CHUNK],
  ['one byte over a chunk', CHUNK + 1],
  ['several chunks and a short tail', 5 * CHUNK + 1234],
];

describe('hashWithThreads (two worker threads over a shared ring)', () => {
  // Ring slots smaller than, equal to, larger than and unaligned with the chunk size, and a
  // two-slot ring so reads must wait for both threads to release a slot.
  const rings = [
    { slotSize: 3001, slots: 2 },
    { slotSize: CHUNK, slots: 8 },
    { slotSize: 3 * CHUNK + 17, slots: 3 },
  ];

  it.each(sizes)('%s (%i B): equals openssl, sha256sum per chunk, and the inline strategy', async (label, size) => {
    const key = `threads/${label.replaceAll(' ', '-')}.bin`;
    await store.put(key, randomBytes(size));
    const file = path.join(dir, key);
    const whole = await openssl(file);
    const chunks = await chunkSums(file, size, CHUNK);
    expect(chunks).toHaveLength(Math.ceil(size / CHUNK));

    const inline = await hashInline(await store.read(key), key, size, CHUNK);
    expect(inline.checksum).toBe(whole);
    expect(inline.digests.map((d) => d.toString('hex'))).toEqual(chunks);

    for (const ring of rings) {
      const reader = await store.openReader(key);
      const progress: number[] = [];
      try {
        const r = await hashWithThreads(reader, key, CHUNK, { ...ring, onProgress: (done) => progress.push(done) });
        expect(r.checksum, JSON.stringify(ring)).toBe(whole);
        expect(r.digests.map((d) => d.toString('hex'))).toEqual(chunks);
      } finally {
        await reader.close();
      }
      expect(progress.at(-1)).toBe(size);
      expect(progress).toEqual([...progress].sort((a, b) => a - b));
    }
  });

  it('rejects with CHECKSUM_MISMATCH when the object shrinks under an open reader', async () => {
    const key = 'threads/shrinks.bin';
    await store.put(key, randomBytes(8 * CHUNK));
    const reader = await store.openReader(key);
    try {
      truncateSync(path.join(dir, key), 3 * CHUNK);
      await expect(hashWithThreads(reader, key, CHUNK, { slotSize: CHUNK, slots: 2 })).rejects.toMatchObject({
        code: 'CHECKSUM_MISMATCH',
      });
    } finally {
      await reader.close();
    }
  });

  it('stops promptly on abort, with the abort reason', async () => {
    const key = 'threads/aborted.bin';
    await store.put(key, randomBytes(64 * CHUNK));
    const reader = await store.openReader(key);
    const ac = new AbortController();
    try {
      const p = hashWithThreads(reader, key, CHUNK, {
        slotSize: 4096,
        slots: 2,
        signal: ac.signal,
        onProgress: (done) => done > 0 && ac.abort(new Error('stop here')),
      });
      await expect(p).rejects.toThrow('stop here');
    } finally {
      await reader.close();
    }
  });
});

describe.each([
  ['the fs reader (pread into the ring)', () => store],
  [
    'a store without positional reads (stream copied into the ring)',
    (): BlobStore => ({
      kind: 'fs',
      stat: (k) => store.stat(k),
      read: (k, r) => store.read(k, r),
      put: (k, b) => store.put(k, b),
      has: (k) => store.has(k),
    }),
  ],
])('ingestObject with hashing: threads, through %s, on PostgreSQL', (_label, storeOf) => {
  let tdb: TestDatabase;
  let db: Database;
  beforeAll(async () => {
    tdb = await createTestDatabase('haul_hashing');
    db = await openDatabase({ kind: 'postgres', url: tdb.url });
    await migrateDatabase(db);
  });
  afterAll(async () => {
    await db?.close();
    await tdb?.[Symbol.asyncDispose]();
  });

  it.each(sizes)('%s (%i B): rows equal the oracles and re-running rewrites the same rows', async (label, size) => {
    const key = `ingest/${label.replaceAll(' ', '-')}.bin`;
    await store.put(key, randomBytes(size));
    const file = path.join(dir, key);
    const deps = { prisma: db.prisma, store: storeOf() };
    const input = { storageKey: key, name: label, contentType: 'application/octet-stream', chunkSize: CHUNK };
    const row = await ingestObject(deps, input, { hashing: 'threads', ring: { slotSize: 5000, slots: 3 } });
    expect(row.status).toBe('READY');
    expect(row.checksum).toBe(await openssl(file));
    const rows = await db.prisma.fileChunk.findMany({ where: { fileId: row.id }, orderBy: { index: 'asc' } });
    expect(rows.map((c) => c.sha256)).toEqual(await chunkSums(file, size, CHUNK));
    expect(row.merkleRoot).toBe(merkleRoot(rows.map((c) => Buffer.from(c.sha256, 'hex'))).toString('hex'));

    const again = await ingestObject(deps, input, { hashing: 'threads' });
    expect({ ...again, updatedAt: null }).toEqual({ ...row, updatedAt: null });
    expect(await db.prisma.fileChunk.findMany({ where: { fileId: row.id }, orderBy: { index: 'asc' } })).toEqual(rows);
  });
});

describe('the S3 reader (parallel ranged GETs pinned to one ETag) feeding the threads', () => {
  let s3: TestS3;
  let s3store: S3BlobStore;
  beforeAll(async () => {
    s3 = await startTestS3();
    const client = createS3Client({
      kind: 's3',
      bucket: s3.bucket,
      region: 'us-east-1',
      endpoint: s3.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    s3store = new S3BlobStore(client, s3.bucket);
  });
  afterAll(async () => {
    await s3?.[Symbol.asyncDispose]();
  });

  it('hashes an object read as several concurrent ranges exactly like the local copy', async () => {
    const bytes = randomBytes(3 * 1024 * 1024 + 4321);
    writeFileSync(path.join(dir, 's3-copy.bin'), bytes);
    await s3store.put('s3/object.bin', bytes);
    const reader = await s3store.openReader('s3/object.bin');
    expect(reader.size).toBe(bytes.length);
    expect(reader.readConcurrency).toBeGreaterThan(1);
    // 256 KiB ranges: thirteen GETs, four in flight at a time, reassembled in order.
    const r = await hashWithThreads(reader, 's3/object.bin', 1024 * 1024, { slotSize: 256 * 1024, slots: 6 });
    expect(r.checksum).toBe(await openssl(path.join(dir, 's3-copy.bin')));
    expect(r.digests.map((d) => d.toString('hex'))).toEqual(
      await chunkSums(path.join(dir, 's3-copy.bin'), bytes.length, 1024 * 1024),
    );
  });

  it('a missing S3 object is NOT_FOUND; one replaced between ranges is CHECKSUM_MISMATCH', async () => {
    await expect(s3store.openReader('s3/none.bin')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await s3store.put('s3/replaced.bin', randomBytes(1024 * 1024));
    const reader = await s3store.openReader('s3/replaced.bin');
    await s3store.put('s3/replaced.bin', randomBytes(1024 * 1024));
    await expect(reader.read(new Uint8Array(4096), 0)).rejects.toMatchObject({ code: 'CHECKSUM_MISMATCH' });
  });
});
