import { createHash, type Hash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { HaulError } from '../errors.ts';
import type { BlobReader } from '../storage/blob-store.ts';

/**
 * The single pass of ingest (DESIGN §7): per-chunk SHA-256 digests and the whole-file SHA-256
 * from one read of the object. Two strategies give identical results:
 *
 * - `hashInline`: one thread; each stream buffer feeds both hashers. Memory is two hash
 *   states and one stream buffer. Used for small objects, where starting threads costs more
 *   than it saves.
 * - `hashWithThreads`: the main thread only reads, into a ring of slots in one
 *   SharedArrayBuffer; one worker thread runs the whole-file digest and another the chunk
 *   digests over the same slots, in place. The whole-file SHA-256 is inherently sequential, so
 *   this is the split that keeps both cores busy: wall time is one SHA-256 pass plus the reads
 *   that do not overlap it. Memory is bounded by the ring (slots × slot size, 16 MiB by
 *   default on a local folder), whatever the object size.
 */

export interface HashResult {
  /** Chunk digests in order (ceil(size / chunkSize) of them). */
  digests: Buffer[];
  /** Whole-file SHA-256, hex. */
  checksum: string;
}

export interface HashOptions {
  /** Called as bytes are hashed (by both digests), and with (size, size) at the end. */
  onProgress?(bytesDone: number, total: number): void;
  signal?: AbortSignal;
}

export interface ThreadedHashOptions extends HashOptions {
  /** Bytes per ring slot, one read each. Default: the reader's preferred read size. */
  slotSize?: number;
  /**
   * Slots in the ring; memory is slots × slotSize. Default: the reader's concurrency + 2, so
   * every read in flight has a slot while two more are being hashed (fs: 4 × 4 MiB; S3: 6 × 8 MiB).
   */
  slots?: number;
}

const grew = (key: string) => new HaulError('CHECKSUM_MISMATCH', `object "${key}" grew during ingest`);
const shrank = (key: string) => new HaulError('CHECKSUM_MISMATCH', `object "${key}" shrank during ingest`);

/** One thread, one stream: the reference strategy (and the one for small objects). */
export async function hashInline(
  stream: Readable,
  key: string,
  size: number,
  chunkSize: number,
  opts: HashOptions = {},
): Promise<HashResult> {
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
    if (done > size) throw grew(key);
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
  if (done !== size) throw shrank(key);
  if (inChunk > 0) digests.push(chunk.digest());
  opts.onProgress?.(size, size);
  return { digests, checksum: whole.digest('hex') };
}

const WORKER_URL = new URL('./hash-worker.js', import.meta.url);

type FromWorker = { slot: number; digests?: string[] } | { digest: string } | { end: true; digests: string[] };

/** Both digests over a positional reader, on two worker threads; see the module comment. */
export function hashWithThreads(
  reader: BlobReader,
  key: string,
  chunkSize: number,
  opts: ThreadedHashOptions = {},
): Promise<HashResult> {
  const size = reader.size;
  const slotSize = opts.slotSize ?? reader.preferredReadSize;
  // No point in more slots than the object fills; two at least so reading overlaps hashing.
  const slots = Math.max(2, Math.min(opts.slots ?? reader.readConcurrency + 2, Math.ceil(size / slotSize)));
  const ring = new SharedArrayBuffer(slots * slotSize);
  const signal = opts.signal;

  return new Promise<HashResult>((resolve, reject) => {
    const workers = (['whole', 'chunks'] as const).map(
      (role) => new Worker(WORKER_URL, { workerData: { role, ring, chunkSize }, name: `haul-hash-${role}` }),
    );
    const [whole, chunks] = workers as [Worker, Worker];
    const free = Array.from({ length: slots }, (_, i) => slots - 1 - i);
    const slotLen = new Array<number>(slots).fill(0);
    const acks = new Uint8Array(slots);
    const ready = new Map<number, number>(); // read sequence number → slot, until dispatched in order
    const hexDigests: string[] = [];
    let nextPos = 0;
    let readSeq = 0;
    let sendSeq = 0;
    let inflight = 0;
    let hashed = 0;
    let endSent = false;
    let checksum: string | undefined;
    let chunksEnded = false;
    let settled = false;

    const finish = (err?: unknown) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      for (const w of workers) {
        w.removeAllListeners();
        // Ignore late errors of a thread being torn down.
        w.on('error', () => {});
        void w.terminate();
      }
      if (err !== undefined) return reject(err);
      if (hexDigests.length !== Math.ceil(size / chunkSize)) return reject(new Error('internal: chunk count mismatch'));
      opts.onProgress?.(size, size);
      resolve({ digests: hexDigests.map((h) => Buffer.from(h, 'hex')), checksum: checksum as string });
    };
    const onAbort = () => finish(signal?.reason ?? new Error('aborted'));

    const maybeEnd = () => {
      if (endSent || nextPos < size || inflight > 0 || sendSeq !== readSeq) return;
      endSent = true;
      whole.postMessage({ end: true });
      chunks.postMessage({ end: true });
    };

    const dispatch = () => {
      for (let slot = ready.get(sendSeq); slot !== undefined; slot = ready.get(sendSeq)) {
        ready.delete(sendSeq++);
        const msg = { slot, at: slot * slotSize, len: slotLen[slot] };
        whole.postMessage(msg);
        chunks.postMessage(msg);
      }
      maybeEnd();
    };

    const pump = () => {
      while (!settled && free.length > 0 && nextPos < size && inflight < reader.readConcurrency) {
        const slot = free.pop() as number;
        const pos = nextPos;
        const len = Math.min(slotSize, size - pos);
        const seq = readSeq++;
        nextPos += len;
        inflight++;
        slotLen[slot] = len;
        reader.read(new Uint8Array(ring, slot * slotSize, len), pos, signal).then(
          (n) => {
            inflight--;
            if (settled) return;
            if (n !== len) return finish(shrank(key));
            ready.set(seq, slot);
            dispatch();
            pump();
          },
          (e: unknown) => {
            inflight--;
            finish(e);
          },
        );
      }
      maybeEnd();
    };

    const ack = (slot: number) => {
      if (++(acks[slot] as number) < 2) return;
      acks[slot] = 0;
      hashed += slotLen[slot] as number;
      free.push(slot);
      opts.onProgress?.(hashed, size);
      pump();
    };

    whole.on('message', (m: FromWorker) => {
      if ('digest' in m) {
        checksum = m.digest;
        if (chunksEnded) finish();
      } else if ('slot' in m) ack(m.slot);
    });
    chunks.on('message', (m: FromWorker) => {
      if ('digests' in m && m.digests) hexDigests.push(...m.digests);
      if ('end' in m) {
        chunksEnded = true;
        if (checksum !== undefined) finish();
      } else if ('slot' in m) ack(m.slot);
    });
    for (const w of workers) {
      w.on('error', (e) => finish(e));
      w.on('exit', (code) => finish(new Error(`hash worker exited with code ${code}`)));
    }

    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    opts.onProgress?.(0, size);
    pump();
  });
}

/**
 * A sequential stream seen as a reader, for stores without positional reads: each read copies
 * the next stream bytes into the slot. Reads must come in order, one at a time.
 */
export function streamReader(stream: Readable, size: number, lastModified: Date, key: string): BlobReader {
  const it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer | Uint8Array>;
  let pending: Uint8Array = new Uint8Array(0);
  let expected = 0;
  return {
    size,
    lastModified,
    preferredReadSize: 4 * 1024 * 1024,
    readConcurrency: 1,
    async read(into, position) {
      if (position !== expected) throw new Error('internal: stream reads must be sequential');
      let filled = 0;
      while (filled < into.length) {
        if (pending.length === 0) {
          const next = await it.next();
          if (next.done) break;
          pending = next.value;
        }
        const take = Math.min(pending.length, into.length - filled);
        into.set(pending.subarray(0, take), filled);
        pending = pending.subarray(take);
        filled += take;
      }
      expected += filled;
      // The last read must find the stream ended: more bytes mean the object grew.
      if (expected === size && (pending.length > 0 || !(await it.next()).done)) throw grew(key);
      return filled;
    },
    async close() {
      stream.destroy();
    },
  };
}
