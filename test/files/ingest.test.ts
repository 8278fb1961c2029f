import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../src/db/client.ts';
import { migrateDatabase } from '../../src/db/migrate.ts';
import { ingestObject } from '../../src/files/ingest.ts';
import { merkleRoot } from '../../src/files/merkle.ts';
import { FsBlobStore } from '../../src/storage/fs.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.ts';

const run = promisify(execFile);
const CHUNK = 64 * 1024;

/** sha256sum(1) over bytes [skip*bs, (skip+1)*bs) of a file, sliced by dd: an independent oracle. */
async function sha256sum(file: string, slice?: { bs: number; skip: number }): Promise<string> {
  const { stdout } = slice
    ? await run('sh', [
        '-c',
        'dd if="$1" bs="$2" skip="$3" count=1 iflag=fullblock status=none | sha256sum',
        'sh',
        file,
        String(slice.bs),
        String(slice.skip),
      ])
    : await run('sha256sum', [file]);
  return stdout.split(' ')[0] as string;
}

const backends: [string, () => Promise<{ db: Database; dispose?: () => Promise<void> }>][] = [
  ['PGlite', async () => ({ db: await openDatabase({ kind: 'pglite', dir: 'memory://' }) })],
  [
    'PostgreSQL',
    async () => {
      const tdb: TestDatabase = await createTestDatabase('haul_ingest');
      return { db: await openDatabase({ kind: 'postgres', url: tdb.url }), dispose: () => tdb[Symbol.asyncDispose]() };
    },
  ],
];

describe.each(backends)('ingestObject on %s', (_label, open) => {
  let db: Database;
  let dispose: (() => Promise<void>) | undefined;
  let dir: string;
  let store: FsBlobStore;

  beforeAll(async () => {
    ({ db, dispose } = await open());
    await migrateDatabase(db);
    dir = mkdtempSync(path.join(tmpdir(), 'haul-ingest-'));
    store = new FsBlobStore(dir);
  });
  afterAll(async () => {
    await db?.close();
    await dispose?.();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const sizes: [string, number][] = [
    ['empty', 0],
    ['one byte', 1],
    ['exactly one chunk', CHUNK],
    ['one byte over a chunk', CHUNK + 1],
    ['several chunks and a short tail', 5 * CHUNK + 1234],
  ];

  it.each(sizes)('%s (%i B): digests match sha256sum, rows tile the file', async (label, size) => {
    const key = `objects/${label.replaceAll(' ', '-')}.bin`;
    // Stream the body in odd-sized pieces so chunk boundaries fall inside stream buffers.
    const bytes = randomBytes(size);
    const pieces = Array.from({ length: Math.ceil(size / 7001) }, (_, i) => bytes.subarray(i * 7001, (i + 1) * 7001));
    await store.put(key, Readable.from(pieces));
    const file = path.join(dir, key);

    const progress: [number, number][] = [];
    const row = await ingestObject(
      { prisma: db.prisma, store },
      { storageKey: key, name: `${label}.bin`, contentType: 'application/octet-stream', chunkSize: CHUNK },
      { onProgress: (doneBytes, total) => progress.push([doneBytes, total]) },
    );

    expect(row.status).toBe('READY');
    expect(row.sizeBytes).toBe(BigInt(size));
    expect(row.chunkSize).toBe(CHUNK);
    expect(row.chunkCount).toBe(Math.ceil(size / CHUNK));
    expect(row.checksum).toBe(await sha256sum(file));
    expect(progress.at(-1)).toEqual([size, size]);

    const chunks = await db.prisma.fileChunk.findMany({ where: { fileId: row.id }, orderBy: { index: 'asc' } });
    expect(chunks).toHaveLength(row.chunkCount);
    let next = 0n;
    for (const c of chunks) {
      // Contiguous, inclusive, full-size except the last, ending at size - 1.
      expect(c.startByte).toBe(next);
      expect(c.endByte - c.startByte + 1n).toBe(c.index === chunks.length - 1 ? BigInt(size) - next : BigInt(CHUNK));
      next = c.endByte + 1n;
      expect(c.sha256, `chunk ${c.index}`).toBe(await sha256sum(file, { bs: CHUNK, skip: c.index }));
    }
    expect(next).toBe(BigInt(size));
    expect(row.merkleRoot).toBe(merkleRoot(chunks.map((c) => Buffer.from(c.sha256, 'hex'))).toString('hex'));
    if (size === 0) {
      expect(row.merkleRoot).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    }

    // Re-running on the same key reuses the row and rewrites identical chunk rows.
    const again = await ingestObject(
      { prisma: db.prisma, store },
      { storageKey: key, name: `${label}.bin`, contentType: 'application/octet-stream', chunkSize: CHUNK },
    );
    expect(again.id).toBe(row.id);
    expect({ ...again, updatedAt: null }).toEqual({ ...row, updatedAt: null });
    const chunks2 = await db.prisma.fileChunk.findMany({ where: { fileId: row.id }, orderBy: { index: 'asc' } });
    expect(chunks2).toEqual(chunks);
  });

  it('a missing object ends FAILED with a reason, and the error is rethrown', async () => {
    const key = 'objects/never-written.bin';
    await expect(
      ingestObject({ prisma: db.prisma, store }, { storageKey: key, name: 'ghost', contentType: 'text/plain' }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const row = await db.prisma.file.findUniqueOrThrow({ where: { storageKey: key } });
    expect(row.status).toBe('FAILED');
    expect(row.failReason).toMatch(/not found/);
    expect(row.chunkCount).toBe(0);
    expect(await db.prisma.fileChunk.count({ where: { fileId: row.id } })).toBe(0);
  });

  it('an object that vanishes after a successful ingest fails the re-run and drops the old manifest', async () => {
    const key = 'objects/vanishing.bin';
    await store.put(key, randomBytes(3 * CHUNK));
    const ok = await ingestObject(
      { prisma: db.prisma, store },
      { storageKey: key, name: 'v', contentType: 'application/octet-stream', chunkSize: CHUNK },
    );
    expect(ok.chunkCount).toBe(3);
    rmSync(path.join(dir, key));
    await expect(
      ingestObject({ prisma: db.prisma, store }, { storageKey: key, name: 'v', contentType: 'application/octet-stream' }),
    ).rejects.toThrow();
    const row = await db.prisma.file.findUniqueOrThrow({ where: { id: ok.id } });
    expect(row.status).toBe('FAILED');
    expect(await db.prisma.fileChunk.count({ where: { fileId: ok.id } })).toBe(0);
  });

  it('an aborted ingest ends FAILED', async () => {
    const key = 'objects/aborted.bin';
    await store.put(key, randomBytes(4 * CHUNK));
    const ac = new AbortController();
    ac.abort();
    await expect(
      ingestObject(
        { prisma: db.prisma, store },
        { storageKey: key, name: 'a', contentType: 'application/octet-stream', chunkSize: CHUNK },
        { signal: ac.signal },
      ),
    ).rejects.toThrow();
    expect((await db.prisma.file.findUniqueOrThrow({ where: { storageKey: key } })).status).toBe('FAILED');
  });

  it('refuses bad input before touching the database', async () => {
    const deps = { prisma: db.prisma, store };
    await expect(ingestObject(deps, { storageKey: '../x', name: 'x', contentType: 'a/b' })).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
    });
    await expect(
      ingestObject(deps, { storageKey: 'ok.bin', name: 'x', contentType: 'a/b', chunkSize: 100 }),
    ).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(await db.prisma.file.count({ where: { storageKey: { in: ['../x', 'ok.bin'] } } })).toBe(0);
  });
});
