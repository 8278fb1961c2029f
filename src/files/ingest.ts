import { addAbortSignal } from 'node:stream';
import { HaulError } from '../errors.ts';
import type { File, PrismaClient } from '../generated/prisma/client.ts';
import { type BlobReader, type BlobStat, type BlobStore, sameVersion } from '../storage/blob-store.ts';
import { assertUserStorageKey, versionOf, writeVersion } from '../storage/versions.ts';
import { chunkCount, DEFAULT_CHUNK_SIZE, MiB, validateChunkSize } from './chunking.ts';
import { type HashResult, hashInline, hashWithThreads, streamReader, type ThreadedHashOptions } from './hashing.ts';
import { merkleRoot } from './merkle.ts';

export interface IngestDeps {
  prisma: PrismaClient;
  store: BlobStore;
}

export interface IngestInput {
  storageKey: string;
  name: string;
  contentType: string;
  chunkSize?: number;
  /** Use this id for a new row (e.g. one the caller already returned to a client). */
  fileId?: string;
  /** The SHA-256 (hex) the caller expects: other bytes end FAILED with CHECKSUM_MISMATCH, not retried. */
  checksum?: string;
}

export interface IngestOptions {
  /** Called as bytes are hashed and at the end; cheap enough to forward to a job's progress. */
  onProgress?(bytesDone: number, total: number): void;
  signal?: AbortSignal;
  /**
   * `threads`: read into a shared ring and hash on two worker threads (src/files/hashing.ts);
   * `inline`: one thread. Default `auto`: threads from 8 MiB up, where they pay for their start.
   */
  hashing?: 'auto' | 'threads' | 'inline';
  /** Ring geometry for the threaded path (tests and the benchmark tune it). */
  ring?: Pick<ThreadedHashOptions, 'slotSize' | 'slots'>;
  /**
   * Whether a failure marks the file FAILED (default true). A job with attempts left passes
   * false: the file stays PENDING, with the error in failReason, until the last attempt. A
   * permanent failure (`isPermanentIngestError`) marks it FAILED regardless.
   */
  markFailed?: boolean;
}

/** Objects at least this large are hashed on worker threads when `hashing` is `auto`. */
export const THREADS_MIN_BYTES = 8 * MiB;

/** Failures a retry cannot fix: bad input, or bytes that are not the ones the caller named. */
export function isPermanentIngestError(e: unknown): boolean {
  return e instanceof HaulError && (e.code === 'BAD_USER_INPUT' || e.details?.permanent === true);
}

/** Rows per INSERT: 500 × 5 columns stays far below PostgreSQL's 65,535 bind parameters. */
const CHUNK_BATCH = 500;
const MAX_FAIL_REASON = 1000;

/**
 * Builds a file's manifest (DESIGN §7): one streaming read of the object computes every chunk's
 * SHA-256, the whole-file SHA-256 and the RFC 6962 Merkle root, then publishes the File as READY
 * together with its FileChunk rows. This is the single entry point: the GraphQL mutation, the
 * CLI, the demo seeder and the ingest job (jobs/ingest.ts) all call it.
 *
 * Idempotent per storage key: re-running reuses the File row and rewrites its chunk rows, so the
 * same bytes always give the same rows. A missing object or a read error leaves the row FAILED
 * with a reason, and the error is rethrown for the caller (or the job's retry policy).
 */
export async function ingestObject(deps: IngestDeps, input: IngestInput, opts: IngestOptions = {}): Promise<File> {
  const { prisma, store } = deps;
  assertUserStorageKey(input.storageKey);
  const chunkSize = validateChunkSize(input.chunkSize ?? DEFAULT_CHUNK_SIZE);
  if (!input.name) throw new HaulError('BAD_USER_INPUT', 'name must not be empty', { field: 'name' });
  if (input.checksum !== undefined && !/^[0-9a-fA-F]{64}$/.test(input.checksum))
    throw new HaulError('BAD_USER_INPUT', 'checksum must be 64 hex characters (SHA-256)', { field: 'checksum' });

  // A re-run is a fresh attempt: stale manifest fields must not stay visible meanwhile.
  const pending = {
    name: input.name,
    contentType: input.contentType,
    chunkSize,
    status: 'PENDING' as const,
    failReason: null,
    checksum: null,
    merkleRoot: null,
  };
  const file = input.fileId
    ? await prisma.file.upsert({
        where: { id: input.fileId },
        create: { id: input.fileId, storageKey: input.storageKey, sizeBytes: 0n, ...pending },
        update: { storageKey: input.storageKey, ...pending },
      })
    : await prisma.file.upsert({
        where: { storageKey: input.storageKey },
        create: { storageKey: input.storageKey, sizeBytes: 0n, ...pending },
        update: pending,
      });

  try {
    const { stat, digests, checksum } = await hashObject(store, input.storageKey, chunkSize, opts);
    // Bytes rewritten in place during the read would give a digest of neither version.
    const after = await store.stat(input.storageKey);
    if (!after || !sameVersion(after, stat))
      throw new HaulError('CHECKSUM_MISMATCH', `object "${input.storageKey}" changed while it was being hashed`);
    if (input.checksum !== undefined && input.checksum.toLowerCase() !== checksum)
      throw new HaulError(
        'CHECKSUM_MISMATCH',
        `object "${input.storageKey}" has SHA-256 ${checksum}, not the expected ${input.checksum.toLowerCase()}`,
        { permanent: true },
      );
    // The edge serves these bytes under this version only while the store still reports them.
    await writeVersion(store, input.storageKey, versionOf(checksum, stat));

    const rows = digests.map((d, index) => ({
      fileId: file.id,
      index,
      startByte: BigInt(index * chunkSize),
      endByte: BigInt(Math.min((index + 1) * chunkSize, stat.size) - 1),
      sha256: d.toString('hex'),
    }));
    // One transaction: readers see the old state or a READY file with its complete manifest,
    // never a READY file with half its chunks. The row lock serialises two concurrent runs.
    return await prisma.$transaction(
      async (tx) => {
        await tx.$queryRaw`SELECT 1 FROM "File" WHERE "id" = ${file.id}::uuid FOR UPDATE`;
        await tx.fileChunk.deleteMany({ where: { fileId: file.id } });
        for (let i = 0; i < rows.length; i += CHUNK_BATCH) {
          await tx.fileChunk.createMany({ data: rows.slice(i, i + CHUNK_BATCH) });
        }
        return tx.file.update({
          where: { id: file.id },
          data: {
            sizeBytes: BigInt(stat.size),
            checksum,
            chunkSize,
            chunkCount: rows.length,
            merkleRoot: merkleRoot(digests).toString('hex'),
            status: 'READY',
            failReason: null,
          },
        });
      },
      { maxWait: 10_000, timeout: 120_000 },
    );
  } catch (err) {
    const retrying = opts.markFailed === false && !isPermanentIngestError(err);
    // A retrying job aborted by its runner (shutdown) is handed back as is: nothing to record.
    if (retrying && opts.signal?.aborted) throw err;
    await (retrying ? noteRetry : markFailed)(prisma, file.id, err).catch(() => {
      // The original error matters more than a failed bookkeeping write; the row stays PENDING.
    });
    throw err;
  }
}

/**
 * The single pass, by the strategy `opts.hashing` picks (src/files/hashing.ts). Returns the
 * version that was read: with a positional reader that is the opened object itself (an fs
 * handle, or an S3 ETag), so a concurrent replace cannot mix two versions into one manifest.
 */
async function hashObject(
  store: BlobStore,
  key: string,
  chunkSize: number,
  opts: IngestOptions,
): Promise<HashResult & { stat: BlobStat }> {
  opts.signal?.throwIfAborted();
  const stat = await store.stat(key);
  if (stat === null) throw new HaulError('NOT_FOUND', `object "${key}" not found in storage`);
  const threads = opts.hashing === 'threads' || ((opts.hashing ?? 'auto') === 'auto' && stat.size >= THREADS_MIN_BYTES);
  let result: HashResult & { stat: BlobStat };
  if (!threads) {
    const stream = await store.read(key);
    // Destroys the stream on abort, so a stalled read ends too, not just the next iteration.
    if (opts.signal) addAbortSignal(opts.signal, stream);
    result = { stat, ...(await hashInline(stream, key, stat.size, chunkSize, opts)) };
  } else {
    let reader: BlobReader;
    if (store.openReader) {
      reader = await store.openReader(key);
    } else {
      const stream = await store.read(key);
      if (opts.signal) addAbortSignal(opts.signal, stream);
      reader = streamReader(stream, stat.size, stat.lastModified, key);
    }
    try {
      const opened = { size: reader.size, lastModified: reader.lastModified, etag: reader.etag ?? stat.etag };
      result = { stat: opened, ...(await hashWithThreads(reader, key, chunkSize, { ...opts, ...opts.ring })) };
    } finally {
      await reader.close();
    }
  }
  if (result.digests.length !== chunkCount(result.stat.size, chunkSize)) throw new Error('internal: chunk count mismatch');
  return result;
}

function failReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return err instanceof HaulError ? message : `read failed: ${message}`;
}

/** A failed attempt with retries left: still PENDING, and the error is visible meanwhile. */
async function noteRetry(prisma: PrismaClient, fileId: string, err: unknown): Promise<void> {
  const reason = `${failReason(err)} (will retry)`;
  await prisma.file.updateMany({
    where: { id: fileId, status: 'PENDING' },
    data: { failReason: reason.slice(0, MAX_FAIL_REASON) },
  });
}

async function markFailed(prisma: PrismaClient, fileId: string, err: unknown): Promise<void> {
  const reason = failReason(err);
  // A FAILED file has no manifest: drop chunk rows from any earlier successful run.
  await prisma.$transaction([
    prisma.fileChunk.deleteMany({ where: { fileId } }),
    prisma.file.update({
      where: { id: fileId },
      data: { status: 'FAILED', failReason: reason.slice(0, MAX_FAIL_REASON), chunkCount: 0 },
    }),
  ]);
}
