import { createCipheriv, createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { File } from '../generated/prisma/client.ts';
import { MiB } from './chunking.ts';
import { type IngestDeps, type IngestInput, ingestObject } from './ingest.ts';

export const DEMO_STORAGE_KEY = 'demo/haul-demo.bin';
export const DEMO_NAME = 'haul-demo.bin';
/** 8 MiB and a bit: with 1 MiB chunks that is 8 full chunks and a 12,345-byte tail. */
export const DEMO_DEFAULT_SIZE = 8 * MiB + 12_345;
export const DEMO_DEFAULT_CHUNK_SIZE = MiB;

export interface DemoOptions {
  sizeBytes?: number;
  chunkSize?: number;
  /** How to ingest the generated object: the job processor under `haul serve`; default ingestObject. */
  ingest?: (input: IngestInput) => Promise<File>;
}

/**
 * Seeds a fresh single-machine install with one downloadable file, so `haul serve` followed by
 * `haul get` works with nothing else set up. Does nothing (returns null) once any File row
 * exists: an operator's catalogue is never touched, and a restart does not re-seed.
 *
 * Two processes starting at once on an empty database may both get here; the object write is
 * atomic and deterministic and ingest upserts by storage key, so the worst case is one of them
 * failing on the unique key, not a duplicate file.
 */
export async function ensureDemoFile(deps: IngestDeps, opts: DemoOptions = {}): Promise<File | null> {
  if ((await deps.prisma.file.count()) > 0) return null;
  const size = opts.sizeBytes ?? DEMO_DEFAULT_SIZE;
  const chunkSize = opts.chunkSize ?? DEMO_DEFAULT_CHUNK_SIZE;
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`invalid demo size ${size}`);

  // The bytes are a pure function of the size, so an object already present with that size is
  // the same object: skip the rewrite (it may be large, and an edge may be serving it).
  const existing = await deps.store.stat(DEMO_STORAGE_KEY);
  if (existing?.size !== size) await deps.store.put(DEMO_STORAGE_KEY, demoBytes(size));

  const ingest = opts.ingest ?? ((input: IngestInput) => ingestObject(deps, input));
  return ingest({
    storageKey: DEMO_STORAGE_KEY,
    name: DEMO_NAME,
    contentType: 'application/octet-stream',
    chunkSize,
  });
}

/**
 * Deterministic pseudo-random bytes, streamed in 1 MiB pieces: the AES-256-CTR keystream under a
 * fixed key (AES-CTR over zeros is a counter-mode PRG, like a SHA-256 counter stream, but runs
 * at several GB/s with AES-NI). Incompressible, so compression in any layer cannot flatter a
 * benchmark, and identical on every machine, so checksums can be compared across installs.
 */
export function demoBytes(size: number, seed = 'haul-demo'): Readable {
  const key = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(MiB);
  let left = size;
  return new Readable({
    read() {
      if (left === 0) {
        this.push(null);
        return;
      }
      const n = Math.min(left, zeros.length);
      left -= n;
      this.push(cipher.update(zeros.subarray(0, n)));
    },
  });
}
