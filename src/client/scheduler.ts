import type { Hash } from 'node:crypto';
import { type Chunk, ChunkMap, isCovered, Job } from './job.ts';
import { chooseTail } from './tail.ts';

/** One chunk being fetched: the jobs whose range still includes it, and what they wrote. */
interface ChunkRun {
  jobs: Set<Job>;
  /** Byte ranges of the chunk written by jobs that are done with it. */
  covered: [number, number][];
  /** Jobs that wrote at least one byte of it. */
  writers: number;
  inlineDigest: string | undefined;
  /**
   * The streaming hash of the job that wrote the chunk from its first byte up to `upTo` (exclusive)
   * when the back was split off mid-chunk: verification reads back only the rest. Dropped once a
   * race duplicates bytes of the chunk (two writers of the same bytes: read it all back).
   */
  prefix: { hash: Hash; upTo: number } | undefined;
  raced: boolean;
  source: string | undefined;
}

const PENDING = 0;
const ACTIVE = 1;
const VERIFYING = 2;
const DONE = 3;

export interface SchedulerHooks {
  /** Read the chunk back (from `prefix.upTo`, continuing `prefix.hash`, when given) and check it. */
  verifyOnDisk(chunk: Chunk, prefix?: { hash: Hash; upTo: number }): Promise<boolean>;
  /** The chunk's bytes are all in the file, its check about to start (`verifyOnDisk`). */
  onWritten?(chunk: Chunk): void;
  /** The chunk is written and verified (or, without a digest, written). */
  onDone(chunk: Chunk, source: string | undefined): void;
  /** The chunk's bytes failed verification; it is queued again, alone. May throw to stop the download. */
  onCorrupt(chunk: Chunk, source: string | undefined): void;
  onTail(action: 'split' | 'race', job: Job): void;
  onError(e: unknown): void;
}

export interface SchedulerOptions {
  /** Connections: a claim from the queue is the pending chunks divided among them. */
  connections: number;
  /** A remainder inside one chunk is split only when each half would be at least this long. Default 256 KiB. */
  minSplitBytes?: number;
  /**
   * A claim covers at most this many bytes (whole chunks; at least one). Claims are taken in file
   * order, so this bounds how far the written prefix — which the whole-file hash follows — trails
   * the bytes received: about connections × maxClaimBytes, all left to hash when the last byte
   * lands. Default 32 MiB: one request per claim costs a round trip, negligible at that size.
   */
  maxClaimBytes?: number;
  /** Connections hash chunks as they stream (default); false: every chunk goes to `verifyOnDisk`. */
  hashInline?: boolean;
  /** A job is raced when it received nothing for this long, ms. Default 2,000. */
  stallMs?: number;
  /** …or when it runs slower than this fraction of the typical connection. Default 0.25. */
  slowFraction?: number;
}

/**
 * The shared work queue (DESIGN §8). An idle connection claims the next run of pending chunks in
 * file order — the pending chunks divided among the connections, like aria2c's segments, so one
 * request streams many chunks and there is no gap between them — and each chunk is verified and
 * done the moment its last byte is written. A connection with nothing left steals: it splits off
 * the back half of the job expected to finish last (at a chunk boundary while the job has several
 * chunks left, mid-chunk when one is left and it would still take a while), or races a duplicate
 * of a stalled or crawling job's last chunk; the first complete copy wins and the other is aborted.
 * A chunk written by one job from its first byte is verified by that job's streaming hash; a chunk
 * several jobs wrote is read back (all of it after a race) once all of them have stopped, so a
 * loser's late write can never slip through.
 */
export class Scheduler {
  readonly map: ChunkMap;
  readonly #state: Uint8Array;
  #done = 0;
  readonly #runs = new Map<number, ChunkRun>();
  readonly #jobs = new Set<Job>();
  readonly #queue: number[] = [];
  #head = 0;
  #queued = 0;
  /** Chunks to fetch again, one by one, ahead of the queue. */
  readonly #front: number[] = [];
  #waiters: Array<() => void> = [];
  #closed = false;
  #completedRate = 0;
  readonly #opts: Required<SchedulerOptions>;

  constructor(
    readonly chunks: readonly Chunk[],
    done: ReadonlySet<number>,
    private readonly signal: AbortSignal,
    private readonly hooks: SchedulerHooks,
    opts: SchedulerOptions,
  ) {
    this.#opts = {
      minSplitBytes: 256 * 1024,
      stallMs: 2000,
      slowFraction: 0.25,
      hashInline: true,
      maxClaimBytes: 32 * 1024 * 1024,
      ...opts,
    };
    this.map = new ChunkMap(chunks, this.#opts.hashInline);
    this.#state = new Uint8Array(chunks.length);
    for (const c of chunks) {
      if (done.has(c.index)) {
        this.#state[c.index] = DONE;
        this.#done++;
      } else this.#queue.push(c.index);
    }
    this.#queued = this.#queue.length;
    signal.addEventListener('abort', () => this.#notify(), { once: true });
  }

  /** Bytes of the chunks written and waiting for (or in) their check. */
  #verifyingBytes = 0;

  /** Jobs with a connection on them now. */
  get activeJobs(): number {
    return this.#jobs.size;
  }

  /**
   * Bytes received for chunks not verified yet, those waiting for their check included (for
   * smooth progress bars: at loopback speed the checks trail the bytes by hundreds of MB).
   */
  get inFlightBytes(): number {
    let n = this.#verifyingBytes;
    for (const run of this.#runs.values()) for (const [a, b] of run.covered) n += b - a + 1;
    for (const j of this.#jobs) n += Math.max(0, j.pos - Math.max(j.from, j.current.start));
    return n;
  }

  isDone(index: number): boolean {
    return this.#state[index] === DONE;
  }

  /** Whether all the chunk's bytes are in the file (being verified, or done). */
  isWritten(index: number): boolean {
    return this.#state[index] === VERIFYING || this.#state[index] === DONE;
  }

  /** Chunks waiting for a connection to claim them. */
  get queuedChunks(): number {
    return this.#queued + this.#front.length;
  }

  /** Chunks done. */
  get doneCount(): number {
    return this.#done;
  }

  /** The next job for an idle connection, or null when the download is over (or stopped). */
  async next(): Promise<Job | null> {
    for (;;) {
      if (this.#closed || this.signal.aborted) return null;
      const again = this.#front.pop();
      if (again !== undefined) return this.#claim(again, again, 'chunks');
      const first = this.#takeQueued();
      if (first !== undefined) {
        // A fair share of what is left, as one run of consecutive chunks, of at most maxClaimBytes.
        const cap = Math.max(1, Math.floor(this.#opts.maxClaimBytes / this.map.chunkSize));
        const share = Math.max(1, Math.min(cap, Math.floor((this.#queued + 1) / this.#opts.connections)));
        let last = first;
        while (last - first + 1 < share && this.#queue[this.#head] === last + 1 && this.#state[last + 1] === PENDING) {
          this.#takeQueued();
          last++;
        }
        return this.#claim(first, last, 'chunks');
      }
      const tail = this.#tailJob();
      if (tail) return tail;
      await this.#changed(200);
    }
  }

  #takeQueued(): number | undefined {
    while (this.#head < this.#queue.length) {
      const index = this.#queue[this.#head++]!;
      if (this.#state[index] !== PENDING) continue;
      this.#queued--;
      return index;
    }
    return undefined;
  }

  #claim(first: number, last: number, kind: Job['kind']): Job {
    const job = new Job(this.map, this.chunks[first]!.start, this.chunks[last]!.end, kind);
    for (let i = first; i <= last; i++) {
      this.#state[i] = ACTIVE;
      this.#runs.set(i, {
        jobs: new Set([job]),
        covered: [],
        writers: 0,
        inlineDigest: undefined,
        prefix: undefined,
        raced: false,
        source: undefined,
      });
    }
    this.#jobs.add(job);
    return job;
  }

  /** Helps the job expected to finish last (tail.ts decides how). */
  #tailJob(): Job | null {
    const choice = chooseTail(this.#jobs, this.#opts, this.#completedRate);
    if (!choice) return null;
    const { job } = choice;
    const run = this.#runs.get(job.current.index)!;
    if (choice.action === 'race') {
      const dup = new Job(this.map, job.pos, job.to, 'race');
      job.raced = true;
      dup.raced = true;
      run.raced = true;
      run.prefix = undefined;
      run.jobs.add(dup);
      return this.#started(dup, 'race');
    }
    const back = new Job(this.map, choice.at, job.to, 'split');
    // Chunks wholly in the back half change hands; a chunk split in two has both jobs on it.
    for (let i = this.map.at(choice.at).index; i <= this.map.at(job.to).index; i++) {
      const r = this.#runs.get(i)!;
      if (this.chunks[i]!.start >= choice.at) r.jobs.delete(job);
      r.jobs.add(back);
    }
    job.to = choice.at - 1;
    return this.#started(back, 'split');
  }

  #started(job: Job, action: 'split' | 'race'): Job {
    this.#jobs.add(job);
    this.hooks.onTail(action, job);
    return job;
  }

  /** `job` streamed `chunk` to its end (its bytes are in the file) and goes on with the next one. */
  chunkCompleted(job: Job, chunk: Chunk, digest: string | undefined): void {
    const run = this.#runs.get(chunk.index);
    if (!run?.jobs.delete(job)) return;
    this.#wrote(run, job, Math.max(job.from, chunk.start), chunk.end);
    if (digest !== undefined) run.inlineDigest = digest;
    this.#settle(chunk, run);
  }

  /**
   * A connection is done with `job`: it received [from, pos) and wrote it. The chunk it stopped in
   * is settled like any other; chunks of its range it never reached (it was stopped) go back.
   */
  finish(job: Job): void {
    if (!this.#jobs.delete(job)) return;
    const cur = job.current;
    const run = this.#runs.get(cur.index);
    if (run?.jobs.delete(job)) {
      const from = Math.max(job.from, cur.start);
      if (job.pos > from) this.#wrote(run, job, from, job.pos - 1);
      if (job.pos > job.to) {
        const r = job.rate();
        if (job.kind === 'chunks') this.#completedRate = this.#completedRate === 0 ? r : 0.8 * this.#completedRate + 0.2 * r;
      }
      if (job.hash && job.pos === cur.end + 1 && job.to === cur.end) run.inlineDigest = job.hash.digest('hex');
      else if (job.hash && job.pos === job.to + 1 && !run.raced) run.prefix = { hash: job.hash, upTo: job.pos };
      this.#settle(cur, run);
    }
    for (let i = cur.index + 1; i <= this.map.at(Math.max(job.to, cur.start)).index; i++) {
      const later = this.#runs.get(i);
      if (later?.jobs.delete(job)) this.#settle(this.chunks[i]!, later);
    }
    this.#notify();
  }

  #wrote(run: ChunkRun, job: Job, from: number, to: number): void {
    run.covered.push([from, to]);
    run.writers++;
    run.source = job.source ?? run.source;
  }

  /** Stops jobs that lost a race on this chunk; verifies it once no job is left on it. */
  #settle(chunk: Chunk, run: ChunkRun): void {
    for (const other of run.jobs)
      if (other.to <= chunk.end && isCovered(run.covered, other.pos, other.to)) other.ctl.abort('superseded');
    if (run.jobs.size > 0 || this.signal.aborted) return;
    const index = chunk.index;
    this.#runs.delete(index);
    if (!isCovered(run.covered, chunk.start, chunk.end)) {
      this.#requeue(index);
      this.#notify();
    } else if (!chunk.sha256) this.#decide(chunk, true, run.source);
    else if (run.writers === 1 && run.inlineDigest !== undefined)
      this.#decide(chunk, run.inlineDigest === chunk.sha256, run.source);
    else {
      this.#state[index] = VERIFYING;
      this.#verifyingBytes += chunk.end - chunk.start + 1;
      this.hooks.onWritten?.(chunk);
      this.hooks.verifyOnDisk(chunk, run.raced ? undefined : run.prefix).then(
        (ok) => this.#decide(chunk, ok, run.source),
        (e) => this.hooks.onError(e),
      );
    }
  }

  #decide(chunk: Chunk, ok: boolean, source: string | undefined) {
    if (this.signal.aborted) return;
    if (this.#state[chunk.index] === VERIFYING) this.#verifyingBytes -= chunk.end - chunk.start + 1;
    if (ok) {
      this.#state[chunk.index] = DONE;
      this.#done++;
      this.hooks.onDone(chunk, source);
    } else {
      this.#requeue(chunk.index);
      try {
        this.hooks.onCorrupt(chunk, source);
      } catch (e) {
        this.hooks.onError(e);
      }
    }
    this.#notify();
  }

  #requeue(index: number) {
    this.#state[index] = PENDING;
    this.#front.push(index);
  }

  /** A done chunk turned out bad on disk (found by the whole-file hasher): fetch it again. */
  refetch(index: number): void {
    if (this.#state[index] !== DONE) return;
    this.#done--;
    this.#requeue(index);
    this.#notify();
  }

  /** Ends the download: idle connections get null. */
  close(): void {
    this.#closed = true;
    this.#notify();
  }

  #notify() {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  #changed(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#waiters.push(done);
    });
  }
}
