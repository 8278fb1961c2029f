import { Worker } from 'node:worker_threads';
import { HaulClientError } from './errors.ts';

const WORKER_URL = new URL('./file-hash-worker.js', import.meta.url);

/**
 * A thread running file-hash-worker.js on `path`: plain JS with no loader (inheriting tsx or
 * vitest's would cost the thread ~15 MB), and a small heap: one 1 MiB read buffer and a few hash
 * states. The whole-file hasher and the chunk verifier each run one.
 */
export function startHashWorker(path: string, name: string, native?: string): Worker {
  return new Worker(WORKER_URL, {
    workerData: { path, native },
    name,
    execArgv: [],
    resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 16 },
  });
}

type FromWorker =
  | { type: 'bad'; index: number; check?: number }
  | { type: 'hashed'; index: number; upTo: number; check?: number }
  | { type: 'skipped'; index: number; check?: number }
  | { type: 'rewound'; upTo: number }
  | { type: 'checked'; id: number; hex?: string; error?: string }
  | { type: 'incomplete'; upTo: number }
  | { type: 'digest'; hex: string }
  | { type: 'error'; message: string };

/**
 * The whole-file SHA-256, computed incrementally on a worker thread (the second core) as the
 * written prefix of the `.part` grows: each chunk is read back right after it was written, so
 * the read is served by the page cache and the final gate needs no second pass over the disk.
 * It does not wait for the chunk verifier: a chunk that then fails its check is rewound (the
 * state before it is kept until it passes). Waiting for verified chunks made the two threads
 * finish one after the other: when the last byte of 1 GiB arrived, a third of the chunks were
 * still to verify and half the file to hash, and the download took ~0.3 s more (bench/client).
 * Chunks resumed from a journal are re-verified on the same read (`verify`), which is what makes
 * trusting the journal safe after a power loss.
 */
export class FileHasher {
  readonly #worker: Worker;
  #finish: { resolve(hex: string | null): void; reject(e: unknown): void } | undefined;
  #failure: Error | undefined;
  /** Bytes hashed so far (the hashed prefix). */
  hashedBytes = 0;
  /** Regions sent and not answered yet. */
  #regions = 0;
  /** A chunk check it is doing for the chunk verifier. */
  #check: { id: number; resolve(hex: string): void; reject(e: unknown): void } | undefined;
  #nextCheck = 0;
  /** Regions that are also a chunk's check (`addChecked`), by id. */
  readonly #checkedRegions = new Map<number, { resolve(ok: boolean | null): void; reject(e: unknown): void }>();
  /**
   * Its thread hashes with the two-state addon (native-sha.ts): a chunk checked on a region's read
   * costs about what a plain region does instead of 2x, so the caller should hand it fresh chunks
   * (`addChecked`) rather than leave their checks to the chunk verifier.
   */
  readonly pairs: boolean;

  constructor(
    path: string,
    private readonly hooks: {
      onBad(index: number): void;
      onError(e: HaulClientError): void;
      onIdle?(): void;
    },
    native?: string,
  ) {
    this.pairs = native !== undefined;
    this.#worker = startHashWorker(path, 'haul-file-hash', native);
    this.#worker.on('message', (m: FromWorker) => {
      if (m.type === 'bad' || m.type === 'hashed' || m.type === 'skipped') {
        this.#regions--;
        const check = m.check === undefined ? undefined : this.#checkedRegions.get(m.check);
        if (check) {
          this.#checkedRegions.delete(m.check!);
          check.resolve(m.type === 'hashed' ? true : m.type === 'bad' ? false : null);
        } else if (m.type === 'bad') this.hooks.onBad(m.index);
        if (m.type === 'hashed') this.hashedBytes = m.upTo;
        if (this.free) this.hooks.onIdle?.();
      } else if (m.type === 'rewound') this.hashedBytes = m.upTo;
      else if (m.type === 'checked') {
        const c = this.#check;
        this.#check = undefined;
        if (m.hex !== undefined) c?.resolve(m.hex);
        else c?.reject(new HaulClientError('IO', `verifying a chunk failed: ${m.error}`));
      } else if (m.type === 'incomplete') this.#settle(null);
      else if (m.type === 'digest') this.#settle(m.hex);
      else this.#fail(new HaulClientError('IO', `hashing the download failed: ${m.message}`));
    });
    this.#worker.on('error', (e) => this.#fail(new HaulClientError('IO', `hashing the download failed: ${e.message}`)));
  }

  /**
   * The next region of the prefix (regions must come in file order; a repeat after `bad` is
   * expected). `keep`: the chunk is not verified yet; its hash state is kept for `rewind`.
   */
  add(index: number, offset: number, length: number, verify?: string, keep = false): void {
    this.#regions++;
    this.#worker.postMessage({ type: 'region', index, offset, length, verify, keep });
  }

  /**
   * The next region of the prefix, a chunk just written whose check has not started: the thread
   * checks it against `sha256` and hashes it on one read, so the chunk is read back once instead
   * of twice. Resolves with whether it matched (a chunk that did not is left out of the whole-file
   * hash, and later regions are skipped until it is added again), or null when the region was
   * skipped (an earlier one was bad) and the chunk still needs its check.
   */
  addChecked(index: number, offset: number, length: number, sha256: string): Promise<boolean | null> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      const check = this.#nextCheck++;
      this.#checkedRegions.set(check, { resolve, reject });
      this.#regions++;
      this.#worker.postMessage({ type: 'region', index, offset, length, verify: sha256, check });
    });
  }

  /** Nothing to hash and no check running: it may check a chunk for the chunk verifier. */
  get free(): boolean {
    return this.#regions === 0 && !this.#check && !this.#failure && !this.#finish;
  }

  /** SHA-256 (hex) of bytes [start, end] of the file (a chunk check; one at a time, when `free`). */
  digest(start: number, end: number): Promise<string> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      const id = this.#nextCheck++;
      this.#check = { id, resolve, reject };
      this.#worker.postMessage({ type: 'check', id, start, end });
    });
  }

  /** Chunk `index`, added with `keep`, failed its check: the hash goes back to before it. */
  rewind(index: number): void {
    this.#worker.postMessage({ type: 'rewind', index });
  }

  /** Chunk `index`, added with `keep`, passed its check: its saved state is dropped. */
  verified(index: number): void {
    this.#worker.postMessage({ type: 'verified', index });
  }

  /**
   * Resolves with the digest once all `size` bytes are hashed, or null when a region was bad
   * (it will be added again after it is fetched again).
   */
  finish(size: number): Promise<string | null> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#finish = { resolve, reject };
      this.#worker.postMessage({ type: 'finish', size });
    });
  }

  #settle(hex: string | null) {
    const f = this.#finish;
    this.#finish = undefined;
    f?.resolve(hex);
  }

  #fail(e: HaulClientError) {
    if (!this.#failure) this.hooks.onError(e);
    this.#failure ??= e;
    const f = this.#finish;
    this.#finish = undefined;
    f?.reject(e);
    const c = this.#check;
    this.#check = undefined;
    c?.reject(e);
    this.#rejectCheckedRegions(e);
  }

  #rejectCheckedRegions(e: unknown) {
    for (const r of this.#checkedRegions.values()) r.reject(e);
    this.#checkedRegions.clear();
  }

  async close(): Promise<void> {
    this.#rejectCheckedRegions(new HaulClientError('IO', 'whole-file hasher closed'));
    await this.#worker.terminate();
  }
}
