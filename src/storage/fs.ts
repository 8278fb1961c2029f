import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, mkdir, open, readlink, realpath, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HaulError } from '../errors.ts';
import type { BlobReader, BlobStat, BlobStore, ByteRange, ReadOptions } from './blob-store.ts';
import { objectChanged, sameVersion, validateByteRange, validateStorageKey } from './blob-store.ts';

const isErrno = (e: unknown, ...codes: string[]): boolean =>
  typeof e === 'object' && e !== null && codes.includes((e as NodeJS.ErrnoException).code ?? '');

/**
 * The embedded object store: a local folder, key `a/b.bin` → `<root>/a/b.bin`.
 *
 * Confinement is enforced twice: lexically (validated key, resolved path under root) and
 * physically (realpath of what we touch stays under realpath(root)), because a symlink inside
 * the folder (placed by an operator or another tool) could otherwise point anywhere.
 */
export class FsBlobStore implements BlobStore {
  readonly kind = 'fs' as const;
  readonly root: string;
  #realRoot: Promise<string> | undefined;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  async stat(key: string): Promise<BlobStat | null> {
    const file = await this.#existing(key);
    if (file === null) return null;
    const st = await stat(file);
    // A directory is not an object (keys `a` and `a/b` cannot both exist on a filesystem).
    return st.isFile() ? { size: st.size, lastModified: st.mtime } : null;
  }

  async has(key: string): Promise<boolean> {
    return (await this.stat(key)) !== null;
  }

  async read(key: string, range?: ByteRange, opts: ReadOptions = {}): Promise<Readable> {
    if (range) validateByteRange(range);
    const file = await this.#existing(key);
    if (file === null) throw notFound(key);
    // Open first, so a missing file rejects here rather than as a later stream error, and the
    // size check and the read see the same inode even if the path is replaced meanwhile.
    const fh = await open(file, 'r');
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw notFound(key);
      // Checked on the opened file itself: the stream reads exactly the inode that passed.
      const { expect } = opts;
      if (expect && !sameVersion({ size: st.size, lastModified: st.mtime }, expect)) throw objectChanged(key);
      if (range && range.start >= st.size) {
        throw new HaulError('BAD_USER_INPUT', `range starts at ${range.start}, object has ${st.size} bytes`);
      }
    } catch (e) {
      await fh.close();
      throw e;
    }
    // The stream owns the handle from here (autoClose), including on destroy().
    return createReadStream('', { fd: fh, start: range?.start, end: range?.end, highWaterMark: opts.highWaterMark });
  }

  async openReader(key: string): Promise<BlobReader> {
    const file = await this.#existing(key);
    if (file === null) throw notFound(key);
    // The handle pins the inode: a writer that replaces the key (put renames over it) cannot
    // change what this reader sees, so every read belongs to the version that was opened.
    const fh = await open(file, 'r');
    let st: Awaited<ReturnType<typeof fh.stat>>;
    try {
      st = await fh.stat();
      if (!st.isFile()) throw notFound(key);
    } catch (e) {
      await fh.close();
      throw e;
    }
    return {
      size: st.size,
      lastModified: st.mtime,
      preferredReadSize: 4 * 1024 * 1024,
      readConcurrency: 2,
      async read(into, position, signal) {
        let filled = 0;
        while (filled < into.length) {
          signal?.throwIfAborted();
          const { bytesRead } = await fh.read(into, filled, into.length - filled, position + filled);
          if (bytesRead === 0) break;
          filled += bytesRead;
        }
        return filled;
      },
      close: () => fh.close(),
    };
  }

  async put(key: string, body: Readable | Buffer): Promise<void> {
    const target = this.#lexical(key);
    const dir = path.dirname(target);
    await this.#assertDirInside(dir);
    await mkdir(dir, { recursive: true });
    await this.#assertDirInside(dir);
    // Same directory ⇒ same filesystem ⇒ rename(2) is atomic: a reader opens the old inode or
    // the new one, never a half-written file. `wx` refuses to follow a planted symlink, and
    // `flush` fsyncs before close so the rename never publishes bytes still in page cache.
    const tmp = path.join(dir, `.${path.basename(target)}.${randomBytes(8).toString('hex')}.tmp`);
    try {
      const src = Buffer.isBuffer(body) ? Readable.from([body]) : body;
      await pipeline(src, createWriteStream(tmp, { flags: 'wx', flush: true }));
      // rename replaces a symlink at `target` itself rather than writing through it.
      await rename(tmp, target);
    } catch (e) {
      await unlink(tmp).catch(() => {});
      throw e;
    }
  }

  /** Validated key → absolute path under root (lexical check only). */
  #lexical(key: string): string {
    validateStorageKey(key);
    const p = path.resolve(this.root, key);
    if (!p.startsWith(this.root + path.sep)) throw outside(key);
    return p;
  }

  /** The real path of an existing key, confined to the real root; null when absent. */
  async #existing(key: string): Promise<string | null> {
    const p = this.#lexical(key);
    let real: string;
    try {
      real = await realpath(p);
    } catch (e) {
      // ENOTDIR: a prefix of the key is a file (`a` exists, asked for `a/b`).
      if (isErrno(e, 'ENOENT', 'ENOTDIR')) {
        // A dangling symlink is absent too, but one that points out of root is refused loudly.
        const l = await lstat(p).catch(() => null);
        if (l?.isSymbolicLink()) await this.#assertInside(path.resolve(path.dirname(p), await readlink(p)), key);
        return null;
      }
      throw e;
    }
    await this.#assertInside(real, key);
    return real;
  }

  /** Before creating directories: the deepest existing ancestor must really be inside root. */
  async #assertDirInside(dir: string): Promise<void> {
    const root = await this.#root();
    let probe = dir;
    for (;;) {
      try {
        const real = await realpath(probe);
        if (real !== root && !real.startsWith(root + path.sep)) throw outside(path.relative(this.root, dir));
        return;
      } catch (e) {
        if (!isErrno(e, 'ENOENT') || probe === this.root) throw e;
        probe = path.dirname(probe);
      }
    }
  }

  async #assertInside(real: string, key: string): Promise<void> {
    const root = await this.#root();
    if (!real.startsWith(root + path.sep)) throw outside(key);
  }

  #root(): Promise<string> {
    // Created on first use so a fresh data folder needs no setup step.
    this.#realRoot ??= mkdir(this.root, { recursive: true }).then(() => realpath(this.root));
    return this.#realRoot;
  }
}

const notFound = (key: string) => new HaulError('NOT_FOUND', `no object with key "${key}"`);
const outside = (key: string) =>
  new HaulError('BAD_USER_INPUT', `invalid storage key: "${key}" resolves outside the store`, { field: 'storageKey' });
