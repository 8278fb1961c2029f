import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../src/db/client.ts';
import { migrateDatabase } from '../../src/db/migrate.ts';
import { ingestObject } from '../../src/files/ingest.ts';
import { FsBlobStore } from '../../src/storage/fs.ts';
import { currentVersion, readVersion } from '../../src/storage/versions.ts';

let dir: string;
let db: Database;
let store: FsBlobStore;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'haul-versions-'));
  store = new FsBlobStore(dir);
  db = await openDatabase({ kind: 'pglite', dir: 'memory://' });
  await migrateDatabase(db);
});
afterAll(async () => {
  await db?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('object version records', () => {
  it('ingest records the SHA-256 the edge will serve the bytes under', async () => {
    const bytes = randomBytes(100_000);
    await store.put('v/a.bin', bytes);
    const f = await ingestObject(
      { prisma: db.prisma, store },
      { storageKey: 'v/a.bin', name: 'a.bin', contentType: 'application/octet-stream' },
    );
    const record = await readVersion(store, 'v/a.bin');
    expect(record?.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(record?.sha256).toBe(f.checksum);
    expect(currentVersion((await store.stat('v/a.bin'))!, record)).toBe(f.checksum);
  });

  it('bytes replaced behind haul’s back have no current version', async () => {
    await store.put('v/b.bin', randomBytes(1000));
    await ingestObject(
      { prisma: db.prisma, store },
      { storageKey: 'v/b.bin', name: 'b.bin', contentType: 'application/octet-stream' },
    );
    await store.put('v/b.bin', randomBytes(1000));
    // Same size; force a different mtime in case both writes land in the same millisecond.
    await utimes(join(dir, 'v/b.bin'), new Date(), new Date(Date.now() + 5000));
    expect(currentVersion((await store.stat('v/b.bin'))!, await readVersion(store, 'v/b.bin'))).toBeNull();
  });

  it('an object never ingested has no version; the reserved prefix cannot be ingested', async () => {
    await store.put('v/c.bin', randomBytes(10));
    expect(await readVersion(store, 'v/c.bin')).toBeNull();
    await expect(
      ingestObject(
        { prisma: db.prisma, store },
        { storageKey: '.haul/versions/v/a.bin.json', name: 'x', contentType: 'text/plain' },
      ),
    ).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
  });
});
