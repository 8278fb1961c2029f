import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ingestProcessor } from '../../jobs/ingest.ts';
import { openDatabase } from '../../src/db/client.ts';
import { migrateDatabase } from '../../src/db/migrate.ts';
import { FsBlobStore } from '../../src/storage/fs.ts';

it('the ingest processor builds the manifest and reports monotonic progress up to 100%', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'haul-jobs-'));
  const db = await openDatabase({ kind: 'pglite', dir: 'memory://' });
  try {
    await migrateDatabase(db);
    const store = new FsBlobStore(dir);
    const bytes = randomBytes(5 * 64 * 1024 + 777);
    await store.put('in/file.bin', bytes);
    const progress: number[] = [];
    const result = await ingestProcessor({ prisma: db.prisma, store })({
      data: { storageKey: 'in/file.bin', name: 'file.bin', contentType: 'application/octet-stream', chunkSize: 64 * 1024 },
      attemptsMade: 0,
      opts: { attempts: 1 },
      updateProgress: (p) => void progress.push(p as number),
    });
    const file = await db.prisma.file.findUniqueOrThrow({ where: { id: result.fileId } });
    expect(file.status).toBe('READY');
    expect(result).toEqual({
      fileId: file.id,
      sizeBytes: bytes.length,
      chunkCount: 6,
      checksum: file.checksum,
      merkleRoot: file.merkleRoot,
    });
    expect(file.checksum).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(file.chunkCount).toBe(6);
    expect(progress.at(-1)).toBe(100);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(new Set(progress).size).toBe(progress.length);
  } finally {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  }
});
