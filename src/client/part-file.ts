import { createHash, type Hash } from 'node:crypto';
import { writeSync } from 'node:fs';
import { type FileHandle, open, rename, rm, stat, statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { HaulClientError, ioError } from './errors.ts';

/**
 * `<out>.part`: the download's bytes at their final offsets. It is sized up front (ftruncate: a
 * sparse file; Node has no fallocate, so free space is checked instead of reserved), written with
 * positional writes from every connection (synchronous ones: part-writer.ts says why), and
 * renamed into place once the whole file verified.
 */
export class PartFile {
  private constructor(
    readonly path: string,
    readonly size: number,
    private readonly fd: FileHandle,
  ) {}

  /**
   * Opens `path` for a download of `size` bytes. `fresh` discards what is there; otherwise an
   * existing file of the right size is kept (`existed` says so) and one of another size is
   * started over.
   */
  static async open(path: string, size: number, opts: { fresh: boolean }): Promise<{ part: PartFile; existed: boolean }> {
    try {
      const current = await stat(path).catch(() => null);
      const keep = !opts.fresh && current?.isFile() === true && current.size === size;
      if (!keep) await checkFreeSpace(path, size);
      const fd = await open(path, keep ? 'r+' : 'w+');
      if (!keep) await fd.truncate(size);
      return { part: new PartFile(path, size, fd), existed: keep };
    } catch (e) {
      throw ioError(e, `cannot open ${path}`);
    }
  }

  /** Writes the first `length` bytes of `buf` at `position`. */
  async write(buf: Buffer, length: number, position: number): Promise<void> {
    try {
      for (let done = 0; done < length; ) {
        const { bytesWritten } = await this.fd.write(buf, done, length - done, position + done);
        done += bytesWritten;
      }
    } catch (e) {
      throw ioError(e, `cannot write ${this.path}`);
    }
  }

  /** `write`, on the calling thread: the bytes are in the file (the page cache) when it returns. */
  writeSync(buf: Buffer, length: number, position: number): void {
    try {
      for (let done = 0; done < length; ) done += writeSync(this.fd.fd, buf, done, length - done, position + done);
    } catch (e) {
      throw ioError(e, `cannot write ${this.path}`);
    }
  }

  /** SHA-256 (hex) of bytes [start, end] as they are on disk, continuing `hash` if given. */
  async digest(start: number, end: number, hash: Hash = createHash('sha256')): Promise<string> {
    const buf = Buffer.allocUnsafe(Math.min(1 << 20, Math.max(1, end - start + 1)));
    try {
      for (let at = start; at <= end; ) {
        const { bytesRead } = await this.fd.read(buf, 0, Math.min(buf.length, end + 1 - at), at);
        if (bytesRead === 0) break;
        hash.update(buf.subarray(0, bytesRead));
        at += bytesRead;
      }
    } catch (e) {
      throw ioError(e, `cannot read ${this.path}`);
    }
    return hash.digest('hex');
  }

  async sync(): Promise<void> {
    await this.fd.datasync().catch((e) => {
      throw ioError(e, `cannot sync ${this.path}`);
    });
  }

  async close(): Promise<void> {
    await this.fd.close().catch(() => {});
  }

  /** Closes and renames the verified `.part` to `out` (atomic on one file system). */
  async commit(out: string, opts: { fsync: boolean }): Promise<void> {
    if (opts.fsync) await this.sync();
    await this.close();
    try {
      await rename(this.path, out);
    } catch (e) {
      throw ioError(e, `cannot rename ${this.path} to ${out}`);
    }
    if (opts.fsync) {
      const dir = await open(dirname(out), 'r').catch(() => null);
      await dir?.sync().catch(() => {});
      await dir?.close();
    }
  }
}

async function checkFreeSpace(path: string, size: number): Promise<void> {
  const fs = await statfs(dirname(path)).catch(() => null);
  if (fs && fs.bavail * fs.bsize < size)
    throw new HaulClientError(
      'IO',
      `not enough free space for ${path}: ${size} bytes needed, ${fs.bavail * fs.bsize} available on the device`,
    );
}

export async function removePart(path: string): Promise<void> {
  await rm(path, { force: true });
}
