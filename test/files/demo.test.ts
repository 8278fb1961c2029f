import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../src/db/client.ts';
import { migrateDatabase } from '../../src/db/migrate.ts';
import { DEMO_STORAGE_KEY, demoBytes, ensureDemoFile } from '../../src/files/demo.ts';
import { FsBlobStore } from '../../src/storage/fs.ts';

const MiB = 1024 * 1024;

describe('ensureDemoFile (PGlite)', () => {
  let db: Database;
  let dir: string;
  let store: FsBlobStore;

  beforeAll(async () => {
    db = await openDatabase({ kind: 'pglite', dir: 'memory://' });
    await migrateDatabase(db);
    dir = mkdtempSync(path.join(tmpdir(), 'haul-demo-'));
    store = new FsBlobStore(dir);
  });
  afterAll(async () => {
    await db?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('seeds one READY file with several chunks and a short tail, once', async () => {
    const file = await ensureDemoFile({ prisma: db.prisma, store });
    expect(file).not.toBeNull();
    if (!file) return;
    expect(file.status).toBe('READY');
    expect(file.name).toBe('haul-demo.bin');
    expect(file.storageKey).toBe(DEMO_STORAGE_KEY);
    expect(file.contentType).toBe('application/octet-stream');
    expect(file.sizeBytes).toBe(BigInt(8 * MiB + 12_345));
    expect(file.chunkSize).toBe(MiB);
    expect(file.chunkCount).toBe(9);

    const last = await db.prisma.fileChunk.findUniqueOrThrow({ where: { fileId_index: { fileId: file.id, index: 8 } } });
    expect(last.endByte - last.startByte + 1n).toBe(12_345n);

    // The checksum is that of the bytes actually stored, hashed independently here.
    const h = createHash('sha256');
    for await (const c of await store.read(DEMO_STORAGE_KEY)) h.update(c as Buffer);
    expect(file.checksum).toBe(h.digest('hex'));

    expect(await ensureDemoFile({ prisma: db.prisma, store })).toBeNull();
    expect(await db.prisma.file.count()).toBe(1);
  });

  it('generates the same bytes every time (deterministic, not all zeros)', async () => {
    const digest = async (n: number) => {
      const h = createHash('sha256');
      let len = 0;
      for await (const c of demoBytes(n)) {
        h.update(c as Buffer);
        len += (c as Buffer).length;
      }
      return { hex: h.digest('hex'), len };
    };
    const a = await digest(3 * MiB + 7);
    expect(a).toEqual(await digest(3 * MiB + 7));
    expect(a.len).toBe(3 * MiB + 7);
    const zeros = createHash('sha256')
      .update(Buffer.alloc(3 * MiB + 7))
      .digest('hex');
    expect(a.hex).not.toBe(zeros);
    // A prefix of a longer stream is the shorter stream: the generator depends on position only.
    let prefix = Buffer.alloc(0);
    for await (const c of demoBytes(MiB + 10)) prefix = Buffer.concat([prefix, c as Buffer]);
    let shorter = Buffer.alloc(0);
    for await (const c of demoBytes(100)) shorter = Buffer.concat([shorter, c as Buffer]);
    expect(prefix.subarray(0, 100).equals(shorter)).toBe(true);
  });
});
