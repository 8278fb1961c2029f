import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { HaulError } from '../errors.ts';
import type { BlobStat, BlobStore, ByteRange } from './blob-store.ts';
import { validateByteRange, validateStorageKey } from './blob-store.ts';

/**
 * Part size for streamed uploads. S3 needs ≥ 5 MiB for every part but the last and allows
 * 10,000 parts, so 16 MiB parts cover objects up to ~156 GiB while holding at most one part in
 * memory. (A stream of unknown length cannot go through a single PutObject without buffering
 * it whole, which the seam forbids.)
 */
export const S3_PART_SIZE = 16 * 1024 * 1024;

const status = (e: unknown): number | undefined =>
  (e as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
const errName = (e: unknown): string | undefined => (e as { name?: string } | null)?.name;

/** S3 or any S3-compatible store (MinIO, s3rver, R2…), one bucket; keys are used as given. */
export class S3BlobStore implements BlobStore {
  readonly kind = 's3' as const;

  constructor(
    readonly client: S3Client,
    readonly bucket: string,
  ) {}

  async stat(key: string): Promise<BlobStat | null> {
    validateStorageKey(key);
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { size: out.ContentLength ?? 0, lastModified: out.LastModified ?? new Date(0) };
    } catch (e) {
      // HEAD has no body, so a missing key surfaces only as a bare 404 ("NotFound").
      if (status(e) === 404 || errName(e) === 'NotFound' || errName(e) === 'NoSuchKey') return null;
      throw e;
    }
  }

  async has(key: string): Promise<boolean> {
    return (await this.stat(key)) !== null;
  }

  async read(key: string, range?: ByteRange): Promise<Readable> {
    validateStorageKey(key);
    if (range) validateByteRange(range);
    try {
      const out = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Range: range ? `bytes=${range.start}-${range.end}` : undefined,
        }),
      );
      // In Node the SDK hands back the HTTP response stream itself: pass it on, unbuffered.
      if (!(out.Body instanceof Readable)) throw new Error('S3 GetObject returned no Node stream body');
      return out.Body;
    } catch (e) {
      if (errName(e) === 'NoSuchKey' || status(e) === 404) {
        throw new HaulError('NOT_FOUND', `no object with key "${key}"`);
      }
      if (errName(e) === 'InvalidRange' || status(e) === 416) {
        throw new HaulError('BAD_USER_INPUT', `range ${range?.start}-${range?.end} not satisfiable for "${key}"`);
      }
      throw e;
    }
  }

  async put(key: string, body: Readable | Buffer): Promise<void> {
    validateStorageKey(key);
    if (Buffer.isBuffer(body)) {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body }));
      return;
    }
    const parts = readParts(body, S3_PART_SIZE);
    const first = await parts.next();
    const firstBuf = first.done ? Buffer.alloc(0) : first.value;
    // Small objects (one part or less) take a single PUT; S3 objects are atomic either way.
    if (firstBuf.length < S3_PART_SIZE) {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: firstBuf }));
      return;
    }
    const { UploadId } = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key }));
    if (!UploadId) throw new Error('S3 CreateMultipartUpload returned no UploadId');
    const done: { ETag: string | undefined; PartNumber: number }[] = [];
    try {
      let part: Buffer | undefined = firstBuf;
      while (part !== undefined) {
        const PartNumber = done.length + 1;
        const out = await this.client.send(
          new UploadPartCommand({ Bucket: this.bucket, Key: key, UploadId, PartNumber, Body: part }),
        );
        done.push({ ETag: out.ETag, PartNumber });
        const next = await parts.next();
        part = next.done ? undefined : next.value;
      }
      // Only Complete makes the object visible: until then readers see the previous version.
      await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: key,
          UploadId,
          MultipartUpload: { Parts: done },
        }),
      );
    } catch (e) {
      // Abandoned parts are billed until aborted.
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId })).catch(() => {});
      body.destroy();
      throw e;
    }
  }
}

/** Re-cuts a stream into buffers of exactly `size` bytes (the last may be shorter). */
async function* readParts(src: Readable, size: number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let have = 0;
  for await (const raw of src) {
    let chunk: Buffer = Buffer.isBuffer(raw) ? raw : Buffer.from(raw as Uint8Array);
    while (have + chunk.length >= size) {
      const take = size - have;
      pending.push(chunk.subarray(0, take));
      yield Buffer.concat(pending, size);
      pending = [];
      have = 0;
      chunk = chunk.subarray(take);
    }
    if (chunk.length > 0) {
      pending.push(chunk);
      have += chunk.length;
    }
  }
  if (have > 0) yield Buffer.concat(pending, have);
}
