import { createHash, type Hash } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';
import { HaulClientError } from './errors.ts';

interface Region {
  index: number;
  offset: number;
  length: number;
  verify: string | undefined;
}

const READ_BYTES = 1 << 20;

/**
 * The whole-file hasher of file-hasher.ts on the main thread: the same protocol (regions in file
 * order, `verify` for chunks trusted from a journal, `bad` and a repeat after it), reading back
 * with async reads (the thread pool) and hashing 1 MiB at a time between them, so the event loop
 * keeps serving the connections. It saves the ~10 MB a worker isolate costs.
 */
export class InlineFileHasher {
  #fd: Promise<FileHandle>;
  #queue: Region[] = [];
  #running = false;
  #whole: Hash = createHash('sha256');
  #next = 0;
  #finish: { size: number; resolve(hex: string | null): void; reject(e: unknown): void } | undefined;
  #failure: HaulClientError | undefined;
  #closed = false;
  readonly #buf = Buffer.allocUnsafeSlow(READ_BYTES);
  hashedBytes = 0;

  constructor(
    readonly path: string,
    private readonly hooks: { onBad(index: number): void; onError(e: HaulClientError): void },
  ) {
    this.#fd = open(path, 'r');
    this.#fd.catch(() => {});
  }

  add(index: number, offset: number, length: number, verify?: string): void {
    this.#queue.push({ index, offset, length, verify });
    void this.#drain();
  }

  finish(size: number): Promise<string | null> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#finish = { size, resolve, reject };
      void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      const fd = await this.#fd;
      for (let r = this.#queue.shift(); r && !this.#closed; r = this.#queue.shift()) {
        if (r.offset !== this.#next) continue;
        if (r.verify) {
          const chunk = createHash('sha256');
          const candidate = this.#whole.copy();
          if (!(await this.#read(fd, r, [chunk, candidate])) || chunk.digest('hex') !== r.verify) {
            this.hooks.onBad(r.index);
            continue;
          }
          this.#whole = candidate;
        } else if (!(await this.#read(fd, r, [this.#whole]))) throw new Error(`${this.path} is shorter than expected`);
        this.#next += r.length;
        this.hashedBytes = this.#next;
      }
      const f = this.#finish;
      if (f && this.#queue.length === 0 && !this.#closed) {
        this.#finish = undefined;
        f.resolve(this.#next === f.size ? this.#whole.digest('hex') : null);
      }
    } catch (e) {
      if (this.#closed) return;
      const err = new HaulClientError('IO', `hashing the download failed: ${(e as Error).message}`, { cause: e });
      if (!this.#failure) this.hooks.onError(err);
      this.#failure ??= err;
      this.#finish?.reject(err);
      this.#finish = undefined;
    } finally {
      this.#running = false;
    }
    if (this.#queue.length > 0 && !this.#closed) void this.#drain();
  }

  async #read(fd: FileHandle, r: Region, sinks: Hash[]): Promise<boolean> {
    for (let at = r.offset; at < r.offset + r.length; ) {
      const { bytesRead } = await fd.read(this.#buf, 0, Math.min(READ_BYTES, r.offset + r.length - at), at);
      if (bytesRead === 0) return false;
      const bytes = this.#buf.subarray(0, bytesRead);
      for (const s of sinks) s.update(bytes);
      at += bytesRead;
    }
    return true;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await (await this.#fd.catch(() => undefined))?.close().catch(() => {});
  }
}
