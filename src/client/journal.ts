import { type FileHandle, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { ioError } from './errors.ts';

/**
 * The journal beside `<out>.part`: which chunks are written and verified, so a killed client
 * resumes where it was (DESIGN §4, §8), and which are written but were not verified yet.
 *
 * Format: one header line written atomically (temp file + rename), then fixed 8-byte records
 * appended as chunks complete:
 *
 *   HAULJ1 <crc32 hex of json> <json header>\n
 *   u32le (chunk index | 0x80000000 when the chunk was found bad again | 0x40000000 when it is
 *   written, its check not done yet), u32le crc32(those 4 bytes, seed = header crc)
 *
 * A chunk written but not verified when the client died is read back and checked when it starts
 * again, instead of being fetched again: on a fast link the checks trail the bytes received by
 * hundreds of MB (both cores busy), and only the chunks still arriving at the kill are lost.
 * (A client from before `written` records stops reading at the first one, as at a torn record.)
 *
 * A record is appended only after the chunk's bytes were written to the `.part`, so after a crash
 * (SIGKILL) every record names bytes that are in the file. Loading stops at the first record that
 * is short or fails its CRC (a torn write) and truncates there. Power loss can still leave a record
 * whose bytes never reached the disk; the engine re-verifies journaled chunks while computing the
 * whole-file SHA-256, so such a chunk is fetched again rather than trusted.
 */

export interface JournalHeader {
  kind: 'manifest' | 'url';
  /** What is downloaded: the file id, or the URL without its query. */
  id: string;
  /** Which version: the file's SHA-256, or the URL's ETag (else Last-Modified). */
  version: string;
  size: number;
  chunkSize: number;
  chunkCount: number;
  /** Informational: the session the chunks were reported to. */
  sessionId?: string | undefined;
}

const MAGIC = 'HAULJ1';
const UNDONE = 0x80000000;
const WRITTEN = 0x40000000;
const INDEX = 0x3fffffff;

export const journalPath = (partPath: string) => `${partPath}.journal`;

export interface LoadedJournal {
  header: JournalHeader;
  done: Set<number>;
  /** Chunks written whose check had not passed (nor failed) when the journal ended. */
  written: Set<number>;
  /** Byte length of the valid prefix (header + good records). */
  validLength: number;
  headerCrc: number;
}

/** Reads a journal; null when it is absent or its header does not parse. */
export async function readJournal(path: string): Promise<LoadedJournal | null> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw ioError(e, `cannot read ${path}`);
  }
  const nl = buf.indexOf(10);
  if (nl < 0) return null;
  const m = /^HAULJ1 ([0-9a-f]{8}) (\{.*\})$/.exec(buf.subarray(0, nl).toString('utf8'));
  if (!m?.[1] || !m[2] || crc32(m[2]) !== Number.parseInt(m[1], 16)) return null;
  let header: JournalHeader;
  try {
    header = JSON.parse(m[2]) as JournalHeader;
  } catch {
    return null;
  }
  const headerCrc = Number.parseInt(m[1], 16);
  const done = new Set<number>();
  const written = new Set<number>();
  let at = nl + 1;
  for (; at + 8 <= buf.length; at += 8) {
    const value = buf.readUInt32LE(at);
    if (crc32(buf.subarray(at, at + 4), headerCrc) !== buf.readUInt32LE(at + 4)) break;
    const index = value & INDEX;
    if (index >= header.chunkCount || (value & UNDONE && value & WRITTEN)) break;
    written.delete(index);
    if (value & UNDONE) done.delete(index);
    else if (value & WRITTEN) {
      if (!done.has(index)) written.add(index);
    } else done.add(index);
  }
  return { header, done, written, validLength: at, headerCrc };
}

const sameDownload = (a: JournalHeader, b: JournalHeader) =>
  a.kind === b.kind &&
  a.id === b.id &&
  a.version === b.version &&
  a.size === b.size &&
  a.chunkSize === b.chunkSize &&
  a.chunkCount === b.chunkCount;

export type JournalOpenOutcome = 'resumed' | 'new' | 'other-version' | 'unreadable';

export class Journal {
  readonly #fd: FileHandle;
  #position: number;
  readonly #seed: number;
  #pending: number[] = [];
  #writing: Promise<void> | undefined;
  #error: unknown;

  private constructor(fd: FileHandle, position: number, seed: number) {
    this.#fd = fd;
    this.#position = position;
    this.#seed = seed;
  }

  /**
   * Opens the journal at `path` for `header`'s download. An existing journal of the same
   * download is resumed (its done set returned, a torn tail cut off); one of another version, or
   * one that does not parse, is replaced by a fresh journal, and `outcome` says so. `discard`
   * replaces it whatever it holds (its `.part` is gone).
   */
  static async open(
    path: string,
    header: JournalHeader,
    opts: { discard?: boolean } = {},
  ): Promise<{ journal: Journal; done: Set<number>; written: Set<number>; outcome: JournalOpenOutcome }> {
    const existing = await readJournal(path);
    const present = existing !== null || (await stat(path).catch(() => null)) !== null;
    const same = existing !== null && sameDownload(existing.header, header);
    try {
      if (same && !opts.discard) {
        const fd = await open(path, 'r+');
        await fd.truncate(existing.validLength);
        return {
          journal: new Journal(fd, existing.validLength, existing.headerCrc),
          done: existing.done,
          written: existing.written,
          outcome: 'resumed',
        };
      }
      const json = JSON.stringify(header);
      const seed = crc32(json);
      const line = `${MAGIC} ${seed.toString(16).padStart(8, '0')} ${json}\n`;
      const tmp = `${path}.tmp`;
      await writeFile(tmp, line);
      await rename(tmp, path);
      const fd = await open(path, 'r+');
      const outcome: JournalOpenOutcome = existing ? (same ? 'new' : 'other-version') : present ? 'unreadable' : 'new';
      return { journal: new Journal(fd, Buffer.byteLength(line), seed), done: new Set(), written: new Set(), outcome };
    } catch (e) {
      throw ioError(e, `cannot open the journal ${path}`);
    }
  }

  /** Records chunk `index` as done (or, with `done = false`, as bad again). Written in the background, in order. */
  append(index: number, done = true): void {
    this.#pending.push(done ? index : (index | UNDONE) >>> 0);
    this.#writing ??= this.#drain();
  }

  /** Records that chunk `index`'s bytes are all in the `.part`, its check still to come. */
  written(index: number): void {
    this.#pending.push((index | WRITTEN) >>> 0);
    this.#writing ??= this.#drain();
  }

  async #drain(): Promise<void> {
    try {
      while (this.#pending.length > 0) {
        const values = this.#pending;
        this.#pending = [];
        const buf = Buffer.alloc(values.length * 8);
        values.forEach((v, i) => {
          buf.writeUInt32LE(v, i * 8);
          buf.writeUInt32LE(crc32(buf.subarray(i * 8, i * 8 + 4), this.#seed), i * 8 + 4);
        });
        await this.#fd.write(buf, 0, buf.length, this.#position);
        this.#position += buf.length;
      }
    } catch (e) {
      this.#error ??= e;
      this.#pending = [];
    } finally {
      this.#writing = undefined;
    }
  }

  /** Waits until every appended record is written; rethrows a write failure. */
  async flush(): Promise<void> {
    while (this.#writing) await this.#writing;
    if (this.#error) throw ioError(this.#error, 'cannot write the journal');
  }

  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      await this.#fd.close().catch(() => {});
    }
  }
}

export async function removeJournal(path: string): Promise<void> {
  await rm(path, { force: true });
  await rm(`${path}.tmp`, { force: true });
}
