// One ingest in a process of its own, so its peak RSS is ingest's alone (the sparse-file test
// and bench/ingest/run.ts use it): ingestObject on an fs store and PostgreSQL, then one JSON
// line on stdout: { ms, cpuMs, maxRssMiB, fileId, size, chunkCount, checksum, merkleRoot }.
//
//   tsx bench/ingest/ingest-once.ts --dir D --key K --database-url URL [--chunk-size N] [--hashing threads|inline] [--no-warmup]
import { parseArgs } from 'node:util';
import { openDatabase } from '../../src/db/client.ts';
import { migrateDatabase } from '../../src/db/migrate.ts';
import { ingestObject } from '../../src/files/ingest.ts';
import { FsBlobStore } from '../../src/storage/fs.ts';

const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    key: { type: 'string' },
    'database-url': { type: 'string' },
    'chunk-size': { type: 'string', default: String(10 * 1024 * 1024) },
    hashing: { type: 'string', default: 'auto' },
    warmup: { type: 'boolean', default: true },
  },
});
if (!values.dir || !values.key || !values['database-url']) {
  console.error('usage: ingest-once.ts --dir D --key K --database-url URL [--chunk-size N] [--hashing threads|inline]');
  process.exit(2);
}
const db = await openDatabase({ kind: 'postgres', url: values['database-url'] });
try {
  await migrateDatabase(db);
  const store = new FsBlobStore(values.dir);
  if (values.warmup) {
    // A long-lived worker has Prisma's query paths and the thread code warm: so do we, with a
    // throwaway small ingest on the threads, before the clock starts.
    await store.put('.warmup/object.bin', Buffer.alloc(64 * 1024, 1));
    await ingestObject(
      { prisma: db.prisma, store },
      { storageKey: '.warmup/object.bin', name: 'warmup', contentType: 'application/octet-stream', chunkSize: 16 * 1024 },
      { hashing: 'threads' },
    );
  }
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const file = await ingestObject(
    { prisma: db.prisma, store },
    {
      storageKey: values.key,
      name: values.key,
      contentType: 'application/octet-stream',
      chunkSize: Number(values['chunk-size']),
    },
    { hashing: values.hashing as 'auto' | 'threads' | 'inline' },
  );
  const ms = performance.now() - t0;
  // User + system CPU of every thread of the process: above `ms` means more than one core worked.
  const cpu = process.cpuUsage(cpu0);
  console.log(
    JSON.stringify({
      ms: Math.round(ms),
      cpuMs: Math.round((cpu.user + cpu.system) / 1000),
      // Linux reports maxRSS in KiB; it includes the hashing threads (one address space).
      maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
      fileId: file.id,
      size: Number(file.sizeBytes),
      chunkCount: file.chunkCount,
      checksum: file.checksum,
      merkleRoot: file.merkleRoot,
    }),
  );
} finally {
  await db.close();
}
