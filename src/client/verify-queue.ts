import type { Chunk } from './job.ts';

/** A thread that can compute a chunk's SHA-256 from the `.part`. */
export interface ChunkChecker {
  /** SHA-256 (hex) of bytes [start, end] of the file as they are now. */
  digest(start: number, end: number): Promise<string>;
  /** Whether it has room for another check now. */
  readonly free: boolean;
}

export interface PendingCheck {
  chunk: Chunk;
  resolve(ok: boolean): void;
  reject(e: unknown): void;
}

/**
 * Chunks written and waiting for their SHA-256 check, handed out oldest first to whichever
 * checker has room: the chunk verifier thread, and the whole-file hasher's thread when it has
 * caught up with the written prefix and would otherwise wait. Near the end of a fast download
 * the checks left over are then shared by both threads instead of running on one while the
 * other idles.
 */
export class VerifyQueue {
  /** In the order they arrived (a Map iterates in insertion order). */
  readonly #waiting = new Map<number, PendingCheck>();
  #closed: unknown;

  /**
   * `newestFirst`: checks are handed out newest first, leaving the oldest (those the whole-file
   * hasher reaches next, and checks on the same read) waiting.
   */
  constructor(
    private readonly checkers: ChunkChecker[],
    private readonly newestFirst = false,
  ) {}

  /** Resolves with whether `chunk`'s bytes on disk match its digest. */
  request(chunk: Chunk): Promise<boolean> {
    const checked = this.enqueue(chunk);
    this.pump();
    return checked;
  }

  /** `request` without handing anything out yet: the caller may `claim` it first, then `pump`. */
  enqueue(chunk: Chunk): Promise<boolean> {
    if (this.#closed !== undefined) return Promise.reject(this.#closed);
    return new Promise<boolean>((resolve, reject) => {
      this.#waiting.set(chunk.index, { chunk, resolve, reject });
    });
  }

  /**
   * Takes chunk `index`'s check out of the queue if it has not been handed out, for the caller to
   * do another way and settle through the returned check (or `giveBack`).
   */
  claim(index: number): PendingCheck | undefined {
    const p = this.#waiting.get(index);
    this.#waiting.delete(index);
    return p;
  }

  /** A claimed check that was not done after all: it waits again. */
  giveBack(p: PendingCheck): void {
    if (this.#closed !== undefined) {
      p.reject(this.#closed);
      return;
    }
    this.#waiting.set(p.chunk.index, p);
    this.pump();
  }

  /** Hands waiting checks to checkers with room (call when one may have some again). */
  pump(): void {
    for (const [index, p] of this.newestFirst ? [...this.#waiting].reverse() : this.#waiting) {
      const checker = this.checkers.find((c) => c.free);
      if (!checker) return;
      this.#waiting.delete(index);
      checker.digest(p.chunk.start, p.chunk.end).then(
        (hex) => {
          p.resolve(hex === p.chunk.sha256);
          this.pump();
        },
        (e) => {
          p.reject(e);
          this.pump();
        },
      );
    }
  }

  /** Rejects every waiting check with `reason`, and any that arrives later. */
  close(reason: unknown): void {
    this.#closed = reason;
    for (const p of this.#waiting.values()) p.reject(reason);
    this.#waiting.clear();
  }
}
