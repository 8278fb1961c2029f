import type { Worker } from 'node:worker_threads';
import { HaulClientError } from './errors.ts';
import { startHashWorker } from './file-hasher.ts';

/**
 * Chunk digests computed on a worker thread by reading each chunk back right after it was written
 * (page cache, not disk). With it, the thread that receives does no hashing at all: on a machine
 * where one core receives, one hashes the whole file and the server shares both, taking SHA-256
 * of every chunk off the receiving thread is what keeps the sockets drained.
 */
export class ChunkVerifier {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve(hex: string): void; reject(e: unknown): void }>();
  #next = 0;
  #failure: HaulClientError | undefined;

  constructor(path: string) {
    // The whole-file hasher's script: its `check` messages are all this uses.
    this.#worker = startHashWorker(path, 'haul-chunk-verify');
    this.#worker.on('message', (m: { type: 'checked'; id: number; hex?: string; error?: string }) => {
      const p = this.#pending.get(m.id);
      this.#pending.delete(m.id);
      if (m.hex !== undefined) p?.resolve(m.hex);
      else p?.reject(new HaulClientError('IO', `verifying a chunk failed: ${m.error}`));
    });
    this.#worker.on('error', (e) => this.#fail(new HaulClientError('IO', `verifying chunks failed: ${e.message}`)));
  }

  /** Room for another check: one being hashed and one queued keep the thread busy. */
  get free(): boolean {
    return this.#pending.size < 2 && !this.#failure;
  }

  /** SHA-256 (hex) of bytes [start, end] of the file as they are now. */
  digest(start: number, end: number): Promise<string> {
    if (this.#failure) return Promise.reject(this.#failure);
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ type: 'check', id, start, end });
    });
  }

  #fail(e: HaulClientError) {
    this.#failure ??= e;
    for (const p of this.#pending.values()) p.reject(e);
    this.#pending.clear();
  }

  async close(): Promise<void> {
    this.#fail(new HaulClientError('IO', 'chunk verifier closed'));
    await this.#worker.terminate();
  }
}
