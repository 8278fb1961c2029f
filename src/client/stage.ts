import type { PartFile } from './part-file.ts';

/** Bytes per staging buffer; each connection owns two. */
export const STAGE_BYTES = 256 * 1024;

/**
 * A connection's two staging buffers in front of the `.part`: bytes are copied into one while the
 * other is being written at its offset, so the socket keeps flowing during a write, and the
 * caller is told to pause only when both are busy. Copying costs a memcpy but lets every socket
 * buffer die young (holding them across writes let dead buffers pile up to tens of MiB before a GC),
 * and it turns 64 KiB socket reads into 256 KiB writes.
 */
export class StagedWriter {
  #cur = 0;
  #filled = 0;
  #at = 0;
  #writing: Promise<void> | undefined;
  /** File offset up to which every write has completed. */
  #written = 0;
  #error: unknown;
  /** Bytes that arrived while both buffers were busy (at most one socket read, normally). */
  #pending: Buffer[] = [];

  constructor(
    private readonly part: PartFile,
    private readonly bufs: [Buffer, Buffer],
  ) {}

  /** Starts a new run of bytes at file offset `at` (flush the previous run first). */
  reset(at: number): void {
    this.#at = at;
    this.#written = at;
    this.#filled = 0;
    this.#pending = [];
  }

  /**
   * Takes `piece`; false when both buffers are busy: stop feeding until `drained()` resolves.
   * `piece` is only read during the call (a socket's reusable read buffer may be passed): what
   * cannot be staged yet is copied.
   */
  push(piece: Buffer): boolean {
    if (this.#pending.length > 0) {
      this.#pending.push(Buffer.from(piece));
      return false;
    }
    return this.#stage(piece, false);
  }

  /** Copies `piece` into the buffers; the rest, when both are busy, is kept (a copy unless `owned`). */
  #stage(piece: Buffer, owned: boolean): boolean {
    const size = this.bufs[0].length;
    for (let off = 0; off < piece.length; ) {
      const n = piece.copy(this.bufs[this.#cur]!, this.#filled, off);
      this.#filled += n;
      off += n;
      if (this.#filled < size) continue;
      if (this.#writing) {
        if (off < piece.length) {
          const rest = piece.subarray(off);
          this.#pending.push(owned ? rest : Buffer.from(rest));
        }
        return false;
      }
      this.#swap();
    }
    return true;
  }

  /** Resolves once the caller may feed again (the blocked write finished and pending bytes are staged). */
  async drained(): Promise<void> {
    for (;;) {
      await this.#writing;
      this.#throwIfFailed();
      if (this.#filled === this.bufs[0].length) this.#swap();
      const pending = this.#pending;
      this.#pending = [];
      let blocked = false;
      // Pending pieces are the writer's own copies: staged again without another copy.
      for (const [i, p] of pending.entries())
        if (!this.#stage(p, true)) {
          this.#pending.push(...pending.slice(i + 1));
          blocked = true;
          break;
        }
      if (!blocked) return;
    }
  }

  /** Resolves once every byte pushed so far is in the file (a partly filled buffer is written out). */
  async barrier(): Promise<void> {
    const target = this.#at + this.#filled + this.#pending.reduce((n, p) => n + p.length, 0);
    while (this.#written < target) {
      if (this.#writing) {
        await this.#writing;
        this.#throwIfFailed();
      } else if (this.#pending.length > 0) await this.drained();
      else if (this.#filled > 0) this.#swap();
      else break;
    }
    this.#throwIfFailed();
  }

  /** Writes everything staged; after it, every byte pushed is in the file. */
  async flush(): Promise<void> {
    await this.drained();
    await this.#writing;
    this.#throwIfFailed();
    if (this.#filled > 0) this.#swap();
    await this.#writing;
    this.#throwIfFailed();
  }

  #swap(): void {
    const buf = this.bufs[this.#cur]!;
    const len = this.#filled;
    const at = this.#at;
    this.#at += len;
    this.#filled = 0;
    this.#cur ^= 1;
    this.#writing = this.part.write(buf, len, at).then(
      () => {
        this.#written = at + len;
        this.#writing = undefined;
      },
      (e) => {
        this.#error ??= e;
        this.#writing = undefined;
      },
    );
  }

  #throwIfFailed(): void {
    if (this.#error !== undefined) throw this.#error;
  }
}
