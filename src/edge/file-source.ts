import type { ChunkSource } from './origin.ts';

const noop = () => {};

/**
 * The chunks of a range read by position from a shared open file: one read in flight at a time,
 * the next started as soon as the current one is handed out, so the file read overlaps sending.
 * At most two chunks are held (the one the socket is sending and the one read ahead), and chunks
 * the socket has written are read into again (`recycle`): a download allocates a couple of
 * buffers, not one per chunk, so a 1 GiB download does not make the garbage collector chase
 * 4,096 short-lived 256 KiB buffers (measured: ten times the CPU of the copies themselves).
 */
export class FileSource implements ChunkSource {
  readonly #readAt: (into: Buffer, position: number) => Promise<Buffer>;
  readonly #release: () => void;
  readonly #chunk: number;
  readonly #end: number;
  #pos: number;
  #ahead: { promise: Promise<Buffer>; value: Buffer | undefined } | undefined;
  #reading = 0;
  #closed = false;
  #released = false;
  /** Written chunks of full size, to read into again (at most two). */
  readonly #spare: Buffer[] = [];

  constructor(
    readAt: (into: Buffer, position: number) => Promise<Buffer>,
    release: () => void,
    range: { start: number; end: number },
    chunk: number,
  ) {
    this.#readAt = readAt;
    this.#release = release;
    this.#chunk = chunk;
    this.#pos = range.start;
    this.#end = range.end;
  }

  next(): Buffer | null | Promise<Buffer | null> {
    if (this.#closed) return null;
    const ahead = this.#ahead ?? (this.#pos <= this.#end ? this.#read() : undefined);
    this.#ahead = undefined;
    if (!ahead) return null;
    if (ahead.value) {
      this.#readAhead();
      return ahead.value;
    }
    return ahead.promise.then((buf) => {
      this.#readAhead();
      return buf;
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ahead = undefined;
    this.#spare.length = 0;
    this.#maybeRelease();
  }

  recycle(chunk: Buffer): void {
    if (!this.#closed && chunk.length === this.#chunk && this.#spare.length < 2) this.#spare.push(chunk);
  }

  #readAhead(): void {
    if (!this.#closed && this.#pos <= this.#end) this.#ahead = this.#read();
  }

  #read(): { promise: Promise<Buffer>; value: Buffer | undefined } {
    const length = Math.min(this.#chunk, this.#end - this.#pos + 1);
    const at = this.#pos;
    this.#pos += length;
    this.#reading++;
    // A written chunk if there is one (full-size reads only), else a new unpooled buffer.
    const into = (length === this.#chunk ? this.#spare.pop() : undefined) ?? Buffer.allocUnsafeSlow(length);
    const entry: { promise: Promise<Buffer>; value: Buffer | undefined } = {
      promise: this.#readAt(into, at).then((buf) => {
        entry.value = buf;
        return buf;
      }),
      value: undefined,
    };
    entry.promise
      .finally(() => {
        this.#reading--;
        this.#maybeRelease();
      })
      .catch(noop);
    return entry;
  }

  #maybeRelease(): void {
    if (this.#closed && this.#reading === 0 && !this.#released) {
      this.#released = true;
      this.#release();
    }
  }
}
