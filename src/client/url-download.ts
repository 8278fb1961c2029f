import { createHash, randomUUID } from 'node:crypto';
import { basename } from 'node:path';
import { HaulClientError } from './errors.ts';
import { journalPath, removeJournal } from './journal.ts';
import { openLocal } from './local.ts';
import { syntheticChunks } from './manifest.ts';
import { PartFile, removePart } from './part-file.ts';
import { isStrongEtag, openRange, type PoolSet, type RangeResponse } from './range-request.ts';
import { type Run, startRun } from './run.ts';
import { newStats, transfer } from './transfer.ts';
import type { DownloadResult, UrlDownloadOptions } from './types.ts';

/** What a first ranged request tells about a bare URL. */
export interface UrlInfo {
  size: number;
  /** Strong ETag, if the server sends one (used for If-Match). */
  etag: string | undefined;
  lastModified: string | undefined;
  /** Repr-Digest sha-256 (hex): the whole file is checked against it. */
  reprSha256: string | undefined;
  /** File name from Content-Disposition, else the URL's last path segment. */
  name: string;
  /** The server answered the range with 206. */
  ranges: boolean;
}

/** A safe local file name: no directories, no control characters. */
export function safeName(name: string | undefined): string {
  const printable = [...(name ?? '')].filter((ch) => ch.charCodeAt(0) >= 0x20 && ch.charCodeAt(0) !== 0x7f).join('');
  const base = basename(printable.replace(/\\/g, '/')).trim();
  return base && base !== '.' && base !== '..' ? base : 'download';
}

function nameFrom(url: string, disposition: string | undefined): string {
  const star = disposition && /filename\*\s*=\s*UTF-8''([^;]+)/i.exec(disposition);
  if (star?.[1]) {
    try {
      return safeName(decodeURIComponent(star[1]));
    } catch {}
  }
  const plain = disposition && /filename\s*=\s*"((?:[^"\\]|\\.)*)"|filename\s*=\s*([^;\s]+)/i.exec(disposition);
  if (plain) return safeName((plain[1] ?? plain[2] ?? '').replace(/\\(.)/g, '$1'));
  try {
    return safeName(decodeURIComponent(new URL(url).pathname.split('/').pop() ?? ''));
  } catch {
    return 'download';
  }
}

/** Asks for byte 0 and learns size, validators and digest. A 200 is handed back for the caller to stream. */
async function probe(pools: PoolSet, url: string, signal: AbortSignal): Promise<{ info: UrlInfo; whole?: RangeResponse }> {
  let res: RangeResponse;
  try {
    res = await openRange(pools, { url, start: 0, end: 0, allowWhole: true, signal });
  } catch (e) {
    // 416 to "bytes=0-0" can only mean an empty representation.
    if (e instanceof HaulClientError && e.status === 416)
      return {
        info: {
          size: 0,
          etag: undefined,
          lastModified: undefined,
          reprSha256: undefined,
          name: nameFrom(url, undefined),
          ranges: true,
        },
      };
    throw e;
  }
  const info: UrlInfo = {
    size: res.size ?? 0,
    etag: isStrongEtag(res.etag) ? res.etag : undefined,
    lastModified: res.lastModified,
    reprSha256: res.reprSha256,
    name: nameFrom(url, res.contentDisposition),
    ranges: res.status === 206,
  };
  if (res.status === 200) return { info, whole: res };
  await res.body.dump();
  if (res.size === undefined)
    throw new HaulClientError('BAD_RESPONSE', 'the server did not say the size (Content-Range bytes 0-0/*)');
  return { info };
}

/** What the URL serves (one tiny request). */
export async function probeUrl(url: string, opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<UrlInfo> {
  const run = startRun({ out: '', timeoutMs: opts.timeoutMs, connections: 1 });
  try {
    const { info, whole } = await probe(run.pools, url, opts.signal ?? new AbortController().signal);
    whole?.body.destroy();
    return info;
  } finally {
    await run.close();
  }
}

/**
 * `haul get <url>`: any URL that serves byte ranges, without a manifest. The same engine in
 * parallel over fixed-size pieces, resumable through the journal (keyed by the URL, its strong
 * ETag or Last-Modified, and the size), guarded by If-Match (or If-Unmodified-Since); the whole
 * file is verified against `Repr-Digest` when the server sends one (`result.verified`). A server
 * that ignores Range is read in one stream and cannot be resumed.
 */
export async function downloadUrl(opts: UrlDownloadOptions): Promise<DownloadResult> {
  const run = startRun(opts);
  const stats = newStats();
  let restarts = 0;
  try {
    for (;;) {
      const { info, whole } = await probe(run.pools, opts.url, run.signal);
      await run.resolveOut(info.name);
      if (whole) return await streamWhole(run, info, whole, stats);
      const version = info.etag ?? info.lastModified;
      if (!version)
        run.emit({ type: 'warning', message: 'the server sends no strong ETag nor Last-Modified: this download cannot resume' });
      const per = Math.ceil(info.size / (run.connections * 4) / 65536) * 65536;
      const chunkSize = opts.chunkSize ?? Math.min(10 * 1024 * 1024, Math.max(256 * 1024, per));
      const chunks = syntheticChunks(info.size, chunkSize);
      const u = new URL(opts.url);
      const local = await openLocal(
        run.partPath,
        {
          kind: 'url',
          id: `${u.origin}${u.pathname}`,
          version: version ?? `none-${randomUUID()}`,
          size: info.size,
          chunkSize,
          chunkCount: chunks.length,
        },
        chunks,
      );
      const doneBytes = chunks.reduce((n, c) => (local.done.has(c.index) ? n + c.end - c.start + 1 : n), 0);
      run.begin(info.size, chunks.length, doneBytes, local.done.size);
      run.emit({ type: 'resume-check', outcome: local.outcome, verifiedChunks: local.done.size });
      run.emit({
        type: 'start',
        out: run.out,
        name: info.name,
        size: info.size,
        chunkCount: chunks.length,
        chunkSize,
        connections: run.connections,
        resumedBytes: doneBytes,
        url: `${u.origin}${u.pathname}`,
      });
      try {
        const sha256 = await transfer({
          chunks,
          size: info.size,
          done: local.done,
          unverified: local.unverified,
          part: local.part,
          journal: local.journal,
          url: {
            current: () => opts.url,
            refresh: async (_stale, cause) => {
              throw new HaulClientError('URL_REFUSED', 'the URL was refused (403): it may have expired; get a new one', {
                status: cause.status,
                source: cause.source,
              });
            },
          },
          etag: info.etag,
          lastModified: info.etag ? undefined : info.lastModified,
          expectedSha256: info.reprSha256,
          connections: run.connections,
          rampUp: run.opts.rampUp,
          pools: run.pools,
          retry: run.retry,
          signal: run.signal,
          maxChunkCorruption: opts.maxChunkCorruption ?? 5,
          minSplitBytes: opts.minSplitBytes ?? 256 * 1024,
          progress: run.progress,
          stats,
          hashing: opts.hashing ?? 'thread',
          emit: run.emit,
        });
        run.finalizing();
        await local.journal.close();
        await local.part.commit(run.out, { fsync: opts.fsync ?? false });
        await removeJournal(journalPath(run.partPath));
        return run.result({ sha256, verified: info.reprSha256 !== undefined, restarts, urlRefreshes: 0, stats, completed: true });
      } catch (e) {
        await local.journal.close().catch(() => {});
        await local.part.close();
        if (run.signal.aborted)
          throw new HaulClientError('ABORTED', 'download stopped: run it again to resume', { cause: run.signal.reason });
        const code = (e as HaulClientError).code;
        const again = code === 'FILE_CHANGED' || (code === 'CHECKSUM_MISMATCH' && restarts === 0);
        if (!again || ++restarts > (opts.maxRestarts ?? 3)) throw e;
        // Same version but wrong bytes: nothing on disk can be trusted.
        if (code === 'CHECKSUM_MISMATCH') {
          await removeJournal(journalPath(run.partPath));
          await removePart(run.partPath);
        }
        run.emit({ type: 'restart', reason: (e as Error).message, restarts });
      }
    }
  } catch (e) {
    throw run.failure(e);
  } finally {
    await run.close();
  }
}

/** A server without ranges: one stream, hashed as it lands, into a fresh `.part`. */
async function streamWhole(
  run: Run,
  info: UrlInfo,
  res: RangeResponse,
  stats: ReturnType<typeof newStats>,
): Promise<DownloadResult> {
  run.emit({ type: 'warning', message: 'the server ignores Range: one connection, and no resume' });
  const { part } = await PartFile.open(run.partPath, info.size, { fresh: true });
  run.begin(info.size, 1, 0, 0);
  run.emit({
    type: 'start',
    out: run.out,
    name: info.name,
    size: info.size,
    chunkCount: 1,
    chunkSize: info.size,
    connections: 1,
    resumedBytes: 0,
  });
  const hash = createHash('sha256');
  let at = 0;
  try {
    for await (const data of res.body as AsyncIterable<Buffer>) {
      hash.update(data);
      await part.write(data, data.length, at);
      at += data.length;
      run.progress.receivedBytes += data.length;
      run.progress.doneBytes = at;
    }
  } catch (e) {
    await part.close();
    if (run.signal.aborted) throw new HaulClientError('ABORTED', 'download stopped', { cause: run.signal.reason });
    throw new HaulClientError('NETWORK', `the download failed: ${(e as Error).message}`, { cause: e });
  }
  const sha256 = hash.digest('hex');
  if (info.reprSha256 && sha256 !== info.reprSha256) {
    await part.close();
    throw new HaulClientError('CHECKSUM_MISMATCH', `the file's SHA-256 is ${sha256}, Repr-Digest says ${info.reprSha256}`);
  }
  run.finalizing();
  await part.commit(run.out, { fsync: run.opts.fsync ?? false });
  return run.result({ sha256, verified: info.reprSha256 !== undefined, restarts: 0, urlRefreshes: 0, stats, completed: true });
}
