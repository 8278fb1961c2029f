import { createHash, type Hash } from 'node:crypto';
import { addAbortSignal } from 'node:stream';
import { HaulError } from '../errors.ts';
import type { File, PrismaClient } from '../generated/prisma/client.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import { assertUserStorageKey, writeVersion } from '../storage/versions.ts';
import { chunkCount, DEFAULT_CHUNK_SIZE, validateChunkSize } from './chunking.ts';
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
}

export interface IngestOptions {
  /** Called after each chunk and at the end; cheap enough to forward to a job's progress. */
  onProgress?(bytesDone: number, total: number): void;
  signal?: AbortSignal;
}

/** Rows per INSERT: 500 × 5 columns stays far below PostgreSQL's 65,535 bind parameters. */
const CHUNK_BATCH = 500;
const MAX_FAIL_REASON = 1000;

/**
 * Builds a file's manifest (DESIGN §7): one streaming read of the object computes every chunk's
 * SHA-256, the whole-file SHA-256 and the RFC 6962 Merkle root, then publishes the File as READY
 * together with its FileChunk rows. This is the single entry point: the GraphQL mutation, the
 * CLI, the demo seeder and (later) the BullMQ ingest job all call it.
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
    const stat = await store.stat(input.storageKey);
    if (stat === null) throw new HaulError('NOT_FOUND', `object "${input.storageKey}" not found in storage`);
    const { digests, checksum } = await hashObject(store, input.storageKey, stat.size, chunkSize, opts);
    // Bytes rewritten in place during the read would give a digest of neither version.
    const after = await store.stat(input.storageKey);
    if (after?.size !== stat.size || after.lastModified.getTime() !== stat.lastModified.getTime())
      throw new HaulError('CHECKSUM_MISMATCH', `object "${input.storageKey}" changed while it was being hashed`);
    // The edge serves these bytes under this version only while the store still reports them.
    await writeVersion(store, input.storageKey, {
      sha256: checksum,
      size: stat.size,
      lastModified: stat.lastModified.toISOString(),
    });

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
    await markFailed(prisma, file.id, err).catch(() => {
      // The original error matters more than a failed bookkeeping write; the row stays PENDING.
    });
    throw err;
  }
}

/**
 * The single pass. Each incoming buffer feeds the whole-file hasher as is and is cut at chunk
 * boundaries for the per-chunk hasher, so memory is two hash states plus one stream buffer, not
 * a chunk. Only the 32-byte digests are kept (160 KiB for a 50 GiB file at 10 MiB chunks).
 */
async function hashObject(
  store: BlobStore,
  key: string,
  size: number,
  chunkSize: number,
  opts: IngestOptions,
): Promise<{ digests: Buffer[]; checksum: string }> {
  opts.signal?.throwIfAborted();
  const stream = await store.read(key);
  // Destroys the stream on abort, so a stalled read ends too, not just the next iteration.
  if (opts.signal) addAbortSignal(opts.signal, stream);

  const whole = createHash('sha256');
  const digests: Buffer[] = [];
  let chunk: Hash = createHash('sha256');
  let inChunk = 0;
  let done = 0;
  opts.onProgress?.(0, size);
  for await (const data of stream) {
    const buf: Buffer = Buffer.isBuffer(data) ? data : Buffer.from(data as Uint8Array);
    done += buf.length;
    // The object was replaced between stat and read: its manifest would describe neither.
    if (done > size) throw new HaulError('CHECKSUM_MISMATCH', `object "${key}" grew during ingest`);
    whole.update(buf);
    for (let off = 0; off < buf.length; ) {
      const take = Math.min(chunkSize - inChunk, buf.length - off);
      chunk.update(buf.subarray(off, off + take));
      off += take;
      inChunk += take;
      if (inChunk === chunkSize) {
        digests.push(chunk.digest());
        chunk = createHash('sha256');
        inChunk = 0;
        opts.onProgress?.(digests.length * chunkSize, size);
      }
    }
  }
  if (done !== size) throw new HaulError('CHECKSUM_MISMATCH', `object "${key}" shrank during ingest`);
  if (inChunk > 0) {
    digests.push(chunk.digest());
    opts.onProgress?.(size, size);
  }
  if (digests.length !== chunkCount(size, chunkSize)) throw new Error('internal: chunk count mismatch');
  return { digests, checksum: whole.digest('hex') };
}

async function markFailed(prisma: PrismaClient, fileId: string, err: unknown): Promise<void> {
  const message = err instanceof Error ? err.message : String(err);
  const reason = err instanceof HaulError ? message : `read failed: ${message}`;
  // A FAILED file has no manifest: drop chunk rows from any earlier successful run.
  await prisma.$transaction([
    prisma.fileChunk.deleteMany({ where: { fileId } }),
    prisma.file.update({
      where: { id: fileId },
      data: { status: 'FAILED', failReason: reason.slice(0, MAX_FAIL_REASON), chunkCount: 0 },
    }),
  ]);
}
