import { ChunkVerifier } from './chunk-verifier.ts';
import { noteReceived } from './collect.ts';
import { CorruptionLedger } from './corruption.ts';
import { HaulClientError } from './errors.ts';
import { type FetchContext, runJob, type UrlSource } from './fetcher.ts';
import { FileHasher } from './file-hasher.ts';
import { InlineFileHasher } from './inline-hasher.ts';
import type { Chunk } from './job.ts';
import type { Journal } from './journal.ts';
import { nativeShaPath } from './native-sha.ts';
import type { PartFile } from './part-file.ts';
import { GATHER_BYTES, PartWriter } from './part-writer.ts';
import type { ProgressTracker } from './progress.ts';
import { ConnectionRamp } from './ramp.ts';
import { isStrongEtag, type PoolSet, type RangeInfo } from './range-request.ts';
import type { RetryPolicy } from './retry.ts';
import { Scheduler } from './scheduler.ts';
import type { DownloadEvent } from './types.ts';
import { VerifyQueue } from './verify-queue.ts';

/** Counters the result reports, shared across restarts. */
export interface TransferStats {
  retries: number;
  refetchedChunks: number;
  corruption: Record<string, number>;
  tail: { splits: number; races: number };
  checkedWhileHashing: number;
}

export const newStats = (): TransferStats => ({
  retries: 0,
  refetchedChunks: 0,
  corruption: {},
  tail: { splits: 0, races: 0 },
  checkedWhileHashing: 0,
});

export interface TransferPlan {
  chunks: Chunk[];
  size: number;
  /** Chunks already on disk and verified (or journaled). */
  done: ReadonlySet<number>;
  /** Of `done`, those this process did not check: re-verified while hashing the whole file. */
  unverified: ReadonlySet<number>;
  part: PartFile;
  journal: Journal;
  url: UrlSource;
  /** Strong ETag for If-Match when known up front; else learned from the first answer. */
  etag: string | undefined;
  lastModified: string | undefined;
  /** The whole file's SHA-256 when known: a mismatch is never accepted. */
  expectedSha256: string | undefined;
  connections: number;
  /** Start with a few connections and open more while they help (ramp.ts); false: all at once. */
  rampUp?: boolean;
  pools: PoolSet;
  retry: RetryPolicy;
  signal: AbortSignal;
  maxChunkCorruption: number;
  minSplitBytes: number;
  progress: ProgressTracker;
  stats: TransferStats;
  /** Where the whole-file SHA-256 is computed: a worker thread, or the main thread between reads. */
  hashing: 'thread' | 'inline';
  emit(e: DownloadEvent): void;
  /** A chunk was verified in this run (for progress reports). */
  onChunkDone?(index: number): void;
  onResponse?(res: RangeInfo): void;
}

/**
 * Moves the bytes: N connections over the scheduler's queue, every chunk verified as it lands,
 * the journal appended as chunks complete, and the whole-file SHA-256 computed alongside on the
 * hasher thread. Resolves with that digest once every chunk is done and the digest matches
 * `expectedSha256`. If it does not match although every chunk verified (bytes changed on disk
 * after they were checked), every chunk is re-verified from disk once and the bad ones are fetched
 * again; a second mismatch is CHECKSUM_MISMATCH.
 */
export async function transfer(plan: TransferPlan): Promise<string> {
  const { chunks, size, progress, stats, journal } = plan;
  const internal = new AbortController();
  const signal = AbortSignal.any([plan.signal, internal.signal]);
  let failure: unknown;
  const fail = (e: unknown) => {
    if (failure !== undefined) return;
    failure = e;
    internal.abort(e);
  };
  const hasDigests = chunks.some((c) => c.sha256);
  const unverified = new Set(plan.unverified);
  const corruption = new CorruptionLedger(stats, plan.maxChunkCorruption, plan.emit);
  const len = (c: Chunk) => c.end - c.start + 1;
  let verifyAll = false;
  let prefix = 0;
  let finishing = false;
  let resolveDigest!: (hex: string) => void;
  const digest = new Promise<string>((r) => {
    resolveDigest = r;
  });

  // With hashing on threads the receiving thread hashes nothing: chunks are read back as they land.
  // The whole-file hasher (a worker) follows the written prefix, not the verified one
  // (file-hasher.ts). With the SHA-256 addon it checks the chunks on its own reads; without it a
  // chunk verifier thread does, and `hashedAhead` are the chunks hashed before their check passed.
  const threaded = plan.hashing === 'thread';
  const native = threaded && hasDigests ? nativeShaPath() : undefined;
  const verifier = threaded && !native ? new ChunkVerifier(plan.part.path) : undefined;
  const hashedAhead = new Set<number>();
  /** Checks handed out to the verifier, and to the whole-file hasher's thread when it waits (verify-queue.ts). */
  let queue: VerifyQueue | undefined;
  const scheduler: Scheduler = new Scheduler(
    chunks,
    plan.done,
    signal,
    {
      verifyOnDisk: async (c, prefix) => {
        if (queue) {
          // Queued before the whole-file hash moves on, so that a chunk that extends the written
          // prefix can be checked on the hasher's read of it (advance).
          const checked = queue.enqueue(c);
          advance();
          queue.pump();
          return checked;
        }
        return (
          (prefix ? await plan.part.digest(prefix.upTo, c.end, prefix.hash) : await plan.part.digest(c.start, c.end)) === c.sha256
        );
      },
      onWritten(c) {
        journal.written(c.index);
      },
      onDone(c) {
        if (hashedAhead.delete(c.index) && hasher instanceof FileHasher) hasher.verified(c.index);
        journal.append(c.index);
        progress.doneBytes += len(c);
        progress.chunksDone++;
        plan.onChunkDone?.(c.index);
        advance();
      },
      onCorrupt(c, source) {
        // The whole-file hash went past it: back to the state before it (hashed ahead), or it was
        // left out (checked on the hasher's read) and later regions are skipped until it is added
        // again.
        if (hashedAhead.delete(c.index) && hasher instanceof FileHasher) hasher.rewind(c.index);
        if (prefix > c.index) {
          for (const i of hashedAhead) if (i > c.index) hashedAhead.delete(i);
          prefix = c.index;
        }
        corruption.record(c.index, source);
      },
      onTail(action, job) {
        stats.tail[action === 'split' ? 'splits' : 'races']++;
        plan.emit({ type: 'tail', action, chunk: job.current.index, bytes: job.remaining });
      },
      onError: fail,
    },
    { connections: plan.connections, minSplitBytes: plan.minSplitBytes, hashInline: !threaded },
  );
  progress.activeConnections = () => scheduler.activeJobs;
  progress.inFlightBytes = () => scheduler.inFlightBytes;

  const onBad = (index: number) => {
    // A chunk trusted from the journal is not what its digest says (e.g. lost in a power cut).
    const c = chunks[index]!;
    unverified.delete(index);
    journal.append(index, false);
    stats.refetchedChunks++;
    progress.doneBytes -= len(c);
    progress.chunksDone--;
    prefix = Math.min(prefix, index);
    plan.emit({ type: 'corrupt-chunk', chunk: index, source: 'disk', count: 1 });
    scheduler.refetch(index);
  };
  const newHasher = () =>
    threaded
      ? new FileHasher(plan.part.path, { onBad, onError: fail, onIdle: () => queue?.pump() }, native)
      : new InlineFileHasher(plan.part.path, { onBad, onError: fail });
  let hasher = newHasher();
  const newQueue = () =>
    threaded && hasher instanceof FileHasher
      ? new VerifyQueue(verifier ? [verifier, hasher] : [hasher], hasher.pairs)
      : undefined;
  queue = newQueue();

  /**
   * Hands the whole-file hasher the written prefix as it grows. A hasher that hashes in pairs
   * (native-sha.ts) also checks each chunk not yet checked on the same read; the chunks written
   * beyond the prefix wait, and are checked apart (newest first) only when its thread would
   * otherwise wait for the prefix. Without pairs, the checks run on the chunk verifier (and on the
   * hasher's thread when it waits), and chunks are hashed before their check passes, to be
   * rewound if it fails.
   */
  function advance() {
    const pairs = hasher instanceof FileHasher && hasher.pairs ? hasher : undefined;
    while (prefix < chunks.length && (threaded ? scheduler.isWritten(prefix) : scheduler.isDone(prefix))) {
      const c = chunks[prefix]!;
      const q = queue;
      const waiting = pairs && !scheduler.isDone(prefix) ? q?.claim(c.index) : undefined;
      if (scheduler.isDone(prefix))
        hasher.add(c.index, c.start, len(c), verifyAll || unverified.has(c.index) ? c.sha256 : undefined);
      else if (pairs && waiting) {
        // Written, its check not started: checked and hashed on one read. Skipped (an earlier
        // region was bad): it waits for its check again.
        pairs.addChecked(c.index, c.start, len(c), c.sha256!).then((ok) => {
          if (ok === null) q!.giveBack(waiting);
          else {
            stats.checkedWhileHashing++;
            waiting.resolve(ok);
          }
        }, waiting.reject);
      } else {
        // Written, its check running: hashed now, rewound if the check fails.
        hashedAhead.add(c.index);
        hasher.add(c.index, c.start, len(c), undefined, true);
      }
      prefix++;
    }
    if (prefix < chunks.length || scheduler.doneCount < chunks.length || finishing) return;
    finishing = true;
    if (chunks.length > 0) progress.setPhase('verifying');
    hasher.finish(size).then((hex) => {
      finishing = false;
      if (hex !== null) onDigest(hex);
    }, fail);
  }

  function onDigest(hex: string) {
    if (!plan.expectedSha256 || hex === plan.expectedSha256) {
      resolveDigest(hex);
      scheduler.close();
      return;
    }
    if (hasDigests && !verifyAll) {
      verifyAll = true;
      plan.emit({ type: 'rehash', reason: 'the whole-file SHA-256 did not match; re-verifying every chunk on disk' });
      void hasher.close();
      hasher = newHasher();
      queue = newQueue();
      prefix = 0;
      advance();
      return;
    }
    fail(new HaulClientError('CHECKSUM_MISMATCH', `the file's SHA-256 is ${hex}, expected ${plan.expectedSha256}`));
  }

  let learnedEtag = plan.etag;
  const ctx: FetchContext = {
    pools: plan.pools,
    url: plan.url,
    size,
    etag: () => learnedEtag,
    lastModified: plan.lastModified,
    retry: plan.retry,
    signal,
    onResponse(res) {
      if (learnedEtag === undefined && isStrongEtag(res.etag)) learnedEtag = res.etag;
      else if (learnedEtag !== undefined && res.etag !== undefined && res.etag !== learnedEtag)
        throw new HaulClientError('FILE_CHANGED', `the file changed on the server (ETag ${res.etag}, was ${learnedEtag})`, {
          status: 200,
          source: res.source,
        });
      plan.onResponse?.(res);
    },
    onChunkComplete: (job, chunk, digest) => scheduler.chunkCompleted(job, chunk, digest),
    onBytes(n, garbage) {
      progress.receivedBytes += n;
      if (garbage) noteReceived(n);
    },
    onRetry(job, error, delayMs) {
      stats.retries++;
      plan.emit({
        type: 'retry',
        code: error.code,
        status: error.status,
        attempt: error.attempt,
        delayMs,
        source: error.source,
        chunk: job.current.index,
      });
    },
  };

  progress.setPhase('downloading');
  advance();
  const worker = async () => {
    const writer = new PartWriter(plan.part, Buffer.allocUnsafeSlow(GATHER_BYTES));
    for (;;) {
      const job = await scheduler.next();
      if (!job) return;
      try {
        await runJob(job, ctx, writer);
      } catch (e) {
        fail(e);
      } finally {
        scheduler.finish(job);
      }
    }
  };
  // Connections open as they help (ramp.ts); every one runs until the queue is empty.
  const running: Promise<void>[] = [];
  const ramp = new ConnectionRamp(plan.connections, () => running.push(worker()), {
    received: () => progress.receivedBytes,
    wanted: () => scheduler.queuedChunks > 0,
  });
  ramp.start(plan.rampUp !== false);
  try {
    for (let i = 0; i < running.length; i++) await running[i];
    if (failure !== undefined) throw failure;
    if (plan.signal.aborted) throw plan.signal.reason;
    return await digest;
  } finally {
    ramp.stop();
    queue?.close(new HaulClientError('ABORTED', 'the transfer ended'));
    await hasher.close();
    await verifier?.close();
    await journal.flush().catch(() => {});
  }
}
