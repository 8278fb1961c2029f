import { execFile } from 'node:child_process';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.ts';

/**
 * A large sparse file through the real ingest path, in a child process of its own so that its
 * peak RSS is ingest's alone. The suite uses 5 GiB in 1 MiB chunks: the same 5,120 chunk rows
 * as 50 GiB in the default 10 MiB chunks, at a tenth of the hashing time. The 50 GiB case runs
 * in bench/ingest (about a minute of hashing on two cores; too long for the suite).
 */

const run = promisify(execFile);
/**
 * `openssl dgst -sha256` of 5 GiB of zeros (`truncate -s 5G z && openssl dgst -sha256 z`), fixed
 * here rather than recomputed, to spare the suite four seconds of hashing on a busy machine.
 */
const OPENSSL_5GIB_ZEROS = '7f06c62352aebd8125b2a1841e2b9e1ffcbed602f381c3dcb3200200e383d1d5';
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const ONCE = new URL('../../bench/ingest/ingest-once.ts', import.meta.url).pathname;
const TSX = new URL('../../node_modules/.bin/tsx', import.meta.url).pathname;

interface Once {
  ms: number;
  maxRssMiB: number;
  fileId: string;
  size: number;
  chunkCount: number;
  checksum: string;
  merkleRoot: string;
}

let dir: string;
let db: TestDatabase;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'haul-sparse-'));
  db = await createTestDatabase('haul_sparse');
});
afterAll(async () => {
  await db?.[Symbol.asyncDispose]();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function ingestOnce(key: string, chunkSize: number): Promise<Once> {
  const { stdout } = await run(
    TSX,
    [ONCE, '--dir', dir, '--key', key, '--database-url', db.url, '--chunk-size', String(chunkSize), '--hashing', 'threads'],
    { timeout: 120_000 },
  );
  return JSON.parse(stdout.trim().split('\n').at(-1) as string) as Once;
}

it('a 5 GiB sparse file: 5,120 chunks whose digests equal openssl/sha256sum, with memory that does not grow with size', async () => {
  await writeFile(join(dir, 'small.bin'), '');
  await truncate(join(dir, 'small.bin'), 64 * MiB);
  await writeFile(join(dir, 'big.bin'), '');
  await truncate(join(dir, 'big.bin'), 5 * GiB);

  // The same process shape on 64 MiB: the baseline (runtime, Prisma, the threads, the ring).
  const small = await ingestOnce('small.bin', MiB);
  const big = await ingestOnce('big.bin', MiB);

  expect(big.size).toBe(5 * GiB);
  expect(big.chunkCount).toBe(5120);
  const zeros = await run('sh', ['-c', `head -c ${MiB} /dev/zero | sha256sum`]);
  expect(big.checksum).toBe(OPENSSL_5GIB_ZEROS);

  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string; distinct_sha: string; sha: string; last_end: string }>(
      `SELECT count(*) AS n, count(DISTINCT sha256) AS distinct_sha, min(sha256) AS sha, max("endByte") AS last_end
       FROM "FileChunk" WHERE "fileId" = $1`,
      [big.fileId],
    );
    expect(rows[0]).toEqual({ n: '5120', distinct_sha: '1', sha: zeros.stdout.split(' ')[0], last_end: String(5 * GiB - 1) });
  } finally {
    await client.end();
  }

  // Memory is bounded by the ring and the threads, not by the object: 80× the bytes, about the
  // same peak. Peaks of identical runs differ by up to ~35 MiB (when V8 and the hashing threads
  // collect), more under the full suite's load: 64 MiB of slack still catches growth with size
  // (80× the bytes), and the 50 GiB bound (≤ 300 MiB) is checked in bench/ingest.
  console.log(`sparse ingest: 64 MiB peak ${small.maxRssMiB} MiB; 5 GiB in ${big.ms} ms, peak ${big.maxRssMiB} MiB`);
  expect(big.maxRssMiB - small.maxRssMiB).toBeLessThan(64);
  expect(big.maxRssMiB).toBeLessThan(384);
}, 120_000);
