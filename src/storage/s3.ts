import { Readable, Transform } from 'node:stream';
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
import type { BlobReader, BlobStat, BlobStore, ByteRange, ReadOptions } from './blob-store.ts';
import { objectChanged, sameVersion, validateByteRange, validateStorageKey } from './blob-store.ts';

/**
 * Part size for streamed uploads. S3 needs ≥ 5 MiB for every part but the last and allows
 * 10,000 parts, so 16 MiB parts cover objects up to ~156 GiB while holding at most one part in
 * memory. (A stream of unknown length cannot go through a single PutObject without buffering
 * it whole, which the seam forbids.)
 */
export const S3_PART_SIZE = 16 * 1024 * 1024;

/**
 * Ingest reads S3 objects as ranged GETs of 8 MiB, four at a time: one request's latency
 * (tens of ms to first byte) hides behind three others, and 32 MiB in flight stays far below
 * the memory budget. Each range lands directly in the hashing ring, so nothing is copied twice.
 */
export const S3_RANGE_SIZE = 8 * 1024 * 1024;
export const S3_RANGE_CONCURRENCY = 4;

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
      return { size: out.ContentLength ?? 0, lastModified: out.LastModified ?? new Date(0), etag: out.ETag };
    } catch (e) {
      // HEAD has no body, so a missing key surfaces only as a bare 404 ("NotFound").
      if (status(e) === 404 || errName(e) === 'NotFound' || errName(e) === 'NoSuchKey') return null;
      throw e;
    }
  }

  async has(key: string): Promise<boolean> {
    return (await this.stat(key)) !== null;
  }

  async read(key: string, range?: ByteRange, opts: ReadOptions = {}): Promise<Readable> {
    validateStorageKey(key);
    if (range) validateByteRange(range);
    const { expect } = opts;
    try {
      const out = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Range: range ? `bytes=${range.start}-${range.end}` : undefined,
          // S3 refuses (412) an object modified after the expected time; the response's own
          // metadata is compared below too, for stores that ignore the header.
          ...(expect ? { IfUnmodifiedSince: expect.lastModified } : {}),
          ...(expect?.etag ? { IfMatch: expect.etag } : {}),
        }),
      );
      // In Node the SDK hands back the HTTP response stream itself: pass it on, unbuffered.
      if (!(out.Body instanceof Readable)) throw new Error('S3 GetObject returned no Node stream body');
      if (expect) {
        // The total size: after the slash of Content-Range for a ranged GET, else Content-Length.
        const total = range ? Number(/\/(\d+)$/.exec(out.ContentRange ?? '')?.[1]) : out.ContentLength;
        const got = { size: total ?? Number.NaN, lastModified: out.LastModified ?? new Date(Number.NaN), etag: out.ETag };
        if (!sameVersion(got, expect)) {
          out.Body.destroy();
          throw objectChanged(key);
        }
      }
      return range ? exactRange(out.Body, out.ContentRange, range) : out.Body;
    } catch (e) {
      if (status(e) === 412 || errName(e) === 'PreconditionFailed') throw objectChanged(key);
      if (errName(e) === 'NoSuchKey' || status(e) === 404) {
        throw new HaulError('NOT_FOUND', `no object with key "${key}"`);
      }
      if (errName(e) === 'InvalidRange' || status(e) === 416) {
        throw new HaulError('BAD_USER_INPUT', `range ${range?.start}-${range?.end} not satisfiable for "${key}"`);
      }
      throw e;
    }
  }

  /**
   * Ranged GETs pinned to the ETag seen by HEAD: `If-Match` makes S3 refuse (412) a range of a
   * replaced object, and the ETag of every answer is compared too, for S3-compatible stores that
   * ignore the header. So the ranges of one ingest can never splice two versions.
   */
  async openReader(key: string): Promise<BlobReader> {
    validateStorageKey(key);
    let head: { ContentLength?: number; LastModified?: Date; ETag?: string };
    try {
      head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (e) {
      if (status(e) === 404 || errName(e) === 'NotFound' || errName(e) === 'NoSuchKey')
        throw new HaulError('NOT_FOUND', `no object with key "${key}"`);
      throw e;
    }
    const etag = head.ETag;
    const changed = () => new HaulError('CHECKSUM_MISMATCH', `object "${key}" changed while it was being read`);
    const { client, bucket } = this;
    return {
      size: head.ContentLength ?? 0,
      lastModified: head.LastModified ?? new Date(0),
      etag,
      preferredReadSize: S3_RANGE_SIZE,
      readConcurrency: S3_RANGE_CONCURRENCY,
      async read(into, position, signal) {
        if (into.length === 0) return 0;
        let body: Readable;
        try {
          const out = await client.send(
            new GetObjectCommand({
              Bucket: bucket,
              Key: key,
              Range: `bytes=${position}-${position + into.length - 1}`,
              IfMatch: etag,
            }),
            { abortSignal: signal },
          );
          if (etag && out.ETag && out.ETag !== etag) throw changed();
          if (!(out.Body instanceof Readable)) throw new Error('S3 GetObject returned no Node stream body');
          body = out.Body;
        } catch (e) {
          if (status(e) === 412 || errName(e) === 'PreconditionFailed') throw changed();
          if (errName(e) === 'NoSuchKey' || status(e) === 404) throw changed();
          // A range at or past the end: the object shrank since HEAD.
          if (errName(e) === 'InvalidRange' || status(e) === 416) return 0;
          throw e;
        }
        let filled = 0;
        for await (const part of body as AsyncIterable<Uint8Array>) {
          if (filled + part.length > into.length) {
            body.destroy();
            throw changed();
          }
          into.set(part, filled);
          filled += part.length;
        }
        return filled;
      },
      close: async () => {},
    };
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

/**
 * The body of a ranged GET, cut to the requested range. Some S3-compatible stores answer more
 * than asked (s3rver reads `bytes=0-0` as `bytes=0-`); the bytes are right, there are just too
 * many of them. A response starting elsewhere is refused outright.
 */
function exactRange(body: Readable, contentRange: string | undefined, range: ByteRange): Readable {
  const m = /^bytes (\d+)-(\d+)\//.exec(contentRange ?? '');
  if (!m || Number(m[1]) !== range.start) {
    body.destroy();
    throw new Error(`S3 answered Content-Range ${contentRange} for bytes=${range.start}-${range.end}`);
  }
  if (Number(m[2]) <= range.end) return body;
  let left = range.end - range.start + 1;
  const cut = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (left <= 0) return cb();
      const piece = chunk.length <= left ? chunk : chunk.subarray(0, left);
      left -= piece.length;
      cb(null, piece);
      // Everything asked for has passed: end here and stop the download of the rest.
      if (left === 0) {
        this.end();
        body.unpipe(this);
        body.destroy();
      }
    },
  });
  body.on('error', (e) => cut.destroy(e));
  cut.on('close', () => body.destroy());
  return body.pipe(cut);
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
