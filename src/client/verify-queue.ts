import type { Chunk } from './job.ts';

/** A thread that can compute a chunk's SHA-256 from the `.part`. */
export interface ChunkChecker {
  /** SHA-256 (hex) of bytes [start, end] of the file as they are now. */
  digest(start: number, end: number): Promise<string>;
  /** Whether it has room for another check now. */
  readonly free: boolean;
}

interface PendingCheck {
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

  constructor(private readonly checkers: ChunkChecker[]) {}

  /** Resolves with whether `chunk`'s bytes on disk match its digest. */
  request(chunk: Chunk): Promise<boolean> {
    if (this.#closed !== undefined) return Promise.reject(this.#closed);
    const checked = new Promise<boolean>((resolve, reject) => {
      this.#waiting.set(chunk.index, { chunk, resolve, reject });
    });
    this.pump();
    return checked;
  }

  /** Hands waiting checks to checkers with room (call when one may have some again). */
  pump(): void {
    for (const [index, p] of this.#waiting) {
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
