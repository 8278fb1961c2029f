import type { PartFile } from './part-file.ts';

/** Bytes a connection gathers small pieces into before writing them. */
export const GATHER_BYTES = 256 * 1024;
/** A piece at least this large is written straight from where it arrived. */
const DIRECT_BYTES = 32 * 1024;

/**
 * A connection's writes into the `.part`, one run of bytes at a time, synchronously: a piece is in
 * the file (the page cache) when `push` returns, written straight from the socket's read buffer.
 * Small pieces (TLS records through undici) are gathered into one buffer first, so that a write is
 * never much smaller than a socket read.
 *
 * Why not the thread pool: on a machine whose cores are all busy (receiving, hashing, and in the
 * benchmark the server too), an asynchronous write waited ~2 ms for a pool thread, the staging
 * buffers in front of it filled, and every read was copied once more while it waited; writing in
 * place costs the one copy into the page cache the kernel makes anyway (bench/client: 1.50 → 1.42 s
 * and ~0.2 s less CPU per GiB). A write into the page cache takes ~0.1 ms per 256 KiB; when the
 * disk cannot keep up, the kernel holds back writers and the download runs at the disk's speed,
 * as aria2c's and curl's do.
 */
export class PartWriter {
  /** File offset of the next byte pushed. */
  #at = 0;
  /** Bytes gathered in `buf`, to be written at `#at - #gathered`. */
  #gathered = 0;
  #error: unknown;

  constructor(
    private readonly part: PartFile,
    private readonly buf: Buffer,
  ) {}

  /** Starts a new run of bytes at file offset `at` (flush the previous run first). */
  reset(at: number): void {
    this.#at = at;
    this.#gathered = 0;
  }

  /**
   * Writes `piece` at the run's next offset (or gathers it); false once a write failed: stop
   * feeding, `drained()` and `flush()` throw the error. `piece` is only read during the call.
   */
  push(piece: Buffer): boolean {
    if (this.#error !== undefined) return false;
    try {
      if (piece.length >= DIRECT_BYTES) {
        this.#writeGathered();
        this.part.writeSync(piece, piece.length, this.#at);
      } else {
        if (this.#gathered + piece.length > this.buf.length) this.#writeGathered();
        piece.copy(this.buf, this.#gathered);
        this.#gathered += piece.length;
      }
      this.#at += piece.length;
      return true;
    } catch (e) {
      this.#error = e;
      return false;
    }
  }

  /** Resolves when the caller may feed again; rejects with the error of a failed write. */
  async drained(): Promise<void> {
    this.#throwIfFailed();
  }

  /** Writes everything gathered; after it, every byte pushed is in the file. */
  async flush(): Promise<void> {
    this.#throwIfFailed();
    try {
      this.#writeGathered();
    } catch (e) {
      this.#error = e;
      throw e;
    }
  }

  #writeGathered(): void {
    if (this.#gathered === 0) return;
    const n = this.#gathered;
    this.#gathered = 0;
    this.part.writeSync(this.buf, n, this.#at - n);
  }

  #throwIfFailed(): void {
    if (this.#error !== undefined) throw this.#error;
  }
}
