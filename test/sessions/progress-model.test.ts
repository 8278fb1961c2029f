import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Viewer } from '../../src/auth/jwt.ts';
import { type Database, openDatabase } from '../../src/db/client.ts';
import { migrateDatabase } from '../../src/db/migrate.ts';
import { type FileShape, mergeProgress, type Progress, validateReport } from '../../src/sessions/progress.ts';
import { createSessionService } from '../../src/sessions/service.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.ts';

// A file of 12 chunks of 1,000 bytes with a 500-byte tail.
const FILE: FileShape = { sizeBytes: 11_500, chunkSize: 1000, chunkCount: 12 };
const alice: Viewer = { sub: 'alice', role: 'user' };

const report = fc.record({
  completedChunks: fc.option(fc.uniqueArray(fc.integer({ min: 0, max: FILE.chunkCount - 1 }), { maxLength: 6 }), {
    nil: undefined,
  }),
  bytesConfirmed: fc.option(fc.integer({ min: 0, max: FILE.sizeBytes }), { nil: undefined }),
});

for (const kind of ['pglite', 'postgres'] as const) {
  describe(`progress merge in SQL equals the pure model (${kind})`, () => {
    let pg: TestDatabase | undefined;
    let db: Database;
    let fileId: string;
    let service: ReturnType<typeof createSessionService>;

    beforeAll(async () => {
      if (kind === 'postgres') pg = await createTestDatabase();
      db = await openDatabase(pg ? { kind: 'postgres', url: pg.url } : { kind: 'pglite', dir: 'memory://' });
      await migrateDatabase(db);
      const f = await db.prisma.file.create({
        data: {
          name: 'model.bin',
          sizeBytes: BigInt(FILE.sizeBytes),
          contentType: 'application/octet-stream',
          storageKey: 'model.bin',
          checksum: 'a'.repeat(64),
          chunkSize: FILE.chunkSize,
          chunkCount: FILE.chunkCount,
          status: 'READY',
        },
      });
      fileId = f.id;
      service = createSessionService({
        prisma: db.prisma,
        signer: { sign: async () => 'http://edge.invalid/d/model.bin' },
        sessionTtlMs: 3_600_000,
        urlTtlMs: 3_600_000,
      });
    });

    afterAll(async () => {
      await db?.close();
      await pg?.[Symbol.asyncDispose]();
    });

    it('for any sequence of reports, sequential or concurrent', async () => {
      let n = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(report, { minLength: 1, maxLength: 8 }), fc.boolean(), async (reports, concurrent) => {
          for (const r of reports) validateReport(r, FILE);
          const { session } = await service.start(alice, { fileId, clientId: `model-${kind}-${++n}` });
          if (concurrent) await Promise.all(reports.map((r) => service.report(alice, session.id, r)));
          else for (const r of reports) await service.report(alice, session.id, r);
          const expected = reports.reduce<Progress>((p, r) => mergeProgress(p, r, FILE), {
            bytesConfirmed: 0,
            completedChunks: [],
          });
          const stored = await service.get(alice, session.id);
          expect({ bytesConfirmed: stored.bytesConfirmed, completedChunks: stored.completedChunks }).toEqual(expected);
        }),
        { numRuns: 40 },
      );
    });
  });
}
