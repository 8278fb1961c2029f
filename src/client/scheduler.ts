import { type Chunk, isCovered, Job } from './job.ts';

interface ChunkRun {
  jobs: Set<Job>;
  /** Byte ranges written by exited jobs. */
  covered: [number, number][];
  /** Jobs that wrote at least one byte. */
  writers: number;
  inlineDigest: string | undefined;
  source: string | undefined;
}

const PENDING = 0;
const ACTIVE = 1;
const VERIFYING = 2;
const DONE = 3;

export interface SchedulerHooks {
  /** Read the chunk back and check it (for chunks several jobs wrote). */
  verifyOnDisk(chunk: Chunk): Promise<boolean>;
  /** The chunk is written and verified (or, without a digest, written). */
  onDone(chunk: Chunk, source: string | undefined): void;
  /** The chunk's bytes failed verification; it is queued again, alone. May throw to stop the download. */
  onCorrupt(chunk: Chunk, source: string | undefined): void;
  onTail(action: 'split' | 'race', job: Job): void;
  onError(e: unknown): void;
}

export interface SchedulerOptions {
  /** A remainder is split only when each half would be at least this long. Default 256 KiB. */
  minSplitBytes?: number;
  /** A job is raced when it received nothing for this long, ms. Default 2,000. */
  stallMs?: number;
  /** …or when it runs slower than this fraction of the typical connection. Default 0.25. */
  slowFraction?: number;
}

/**
 * The shared work queue (DESIGN §8). Connections take the next chunk in file order, so a fast
 * connection takes more chunks (work stealing). When the queue is empty, an idle connection
 * helps the job that would finish last: it races a duplicate of a lagging job's remainder (a
 * stalled or crawling connection), or splits off the back half of a long remainder (equal speeds);
 * the first complete copy wins and the other is aborted. A chunk written by one job from its first
 * byte is verified by that job's streaming hash; a chunk assembled by several jobs is read back
 * and verified once all of them have stopped, so a loser's late write can never slip through.
 */
export class Scheduler {
  readonly #state: Uint8Array;
  readonly #runs = new Map<number, ChunkRun>();
  readonly #queue: number[] = [];
  #head = 0;
  /** Chunks to fetch again, ahead of the queue. */
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
    opts: SchedulerOptions = {},
  ) {
    this.#opts = { minSplitBytes: 256 * 1024, stallMs: 2000, slowFraction: 0.25, ...opts };
    this.#state = new Uint8Array(chunks.length);
    for (const c of chunks) {
      if (done.has(c.index)) this.#state[c.index] = DONE;
      else this.#queue.push(c.index);
    }
    signal.addEventListener('abort', () => this.#notify(), { once: true });
  }

  /** Jobs with a connection on them now. */
  get activeJobs(): number {
    let n = 0;
    for (const r of this.#runs.values()) n += r.jobs.size;
    return n;
  }

  /** Bytes received for chunks not verified yet (at most each chunk's length): for smooth progress bars. */
  get inFlightBytes(): number {
    let n = 0;
    for (const [index, run] of this.#runs) {
      const c = this.chunks[index]!;
      let got = 0;
      for (const [a, b] of run.covered) got += b - a + 1;
      for (const j of run.jobs) got += j.pos - j.from;
      n += Math.min(got, c.end - c.start + 1);
    }
    return n;
  }

  isDone(index: number): boolean {
    return this.#state[index] === DONE;
  }

  /** The next job for an idle connection, or null when the download is over (or stopped). */
  async next(): Promise<Job | null> {
    for (;;) {
      if (this.#closed || this.signal.aborted) return null;
      const index = this.#front.pop() ?? this.#queue[this.#head++];
      if (index !== undefined) {
        if (this.#state[index] !== PENDING) continue;
        const chunk = this.chunks[index]!;
        this.#state[index] = ACTIVE;
        const job = new Job(chunk, chunk.start, chunk.end, 'chunk');
        this.#runs.set(index, { jobs: new Set([job]), covered: [], writers: 0, inlineDigest: undefined, source: undefined });
        return job;
      }
      this.#head = this.#queue.length;
      const tail = this.#tailJob();
      if (tail) return tail;
      await this.#changed(200);
    }
  }

  /** Picks the job expected to finish last and helps it: race a laggard, split a long remainder. */
  #tailJob(): Job | null {
    const now = performance.now();
    let worst: Job | undefined;
    let worstEta = 0;
    const rates: number[] = [];
    for (const run of this.#runs.values())
      for (const j of run.jobs) {
        if (now - j.startedAt > 300) rates.push(j.rate(now));
        if (j.raced || j.backingOff || j.remaining === 0 || j.ctl.signal.aborted) continue;
        const eta = j.remaining / Math.max(1, j.rate(now));
        if (eta > worstEta) {
          worst = j;
          worstEta = eta;
        }
      }
    if (!worst) return null;
    rates.sort((a, b) => a - b);
    const typical = Math.max(this.#completedRate, rates[Math.floor(rates.length / 2)] ?? 0);
    const age = now - worst.startedAt;
    const stalled = now - worst.lastByteAt > this.#opts.stallMs;
    const slow = age > 500 && typical > 0 && worst.rate(now) < typical * this.#opts.slowFraction;
    const run = this.#runs.get(worst.chunk.index)!;
    if (stalled || slow) {
      const dup = new Job(worst.chunk, worst.pos, worst.to, 'race');
      worst.raced = true;
      dup.raced = true;
      run.jobs.add(dup);
      this.hooks.onTail('race', dup);
      return dup;
    }
    if (worst.remaining >= 2 * this.#opts.minSplitBytes) {
      const mid = worst.pos + Math.floor(worst.remaining / 2);
      const back = new Job(worst.chunk, mid, worst.to, 'split');
      worst.to = mid - 1;
      run.jobs.add(back);
      this.hooks.onTail('split', back);
      return back;
    }
    return null;
  }

  /**
   * A connection is done with `job`: it received [from, pos) and wrote it. When the last job
   * of a chunk exits, the chunk is verified, and either done or queued again.
   */
  finish(job: Job): void {
    const index = job.chunk.index;
    const run = this.#runs.get(index);
    if (!run?.jobs.delete(job)) return;
    if (job.pos > job.from) {
      run.covered.push([job.from, job.pos - 1]);
      run.writers++;
      run.source = job.source ?? run.source;
      if (job.kind === 'chunk' && job.pos > job.to) {
        const r = job.rate();
        this.#completedRate = this.#completedRate === 0 ? r : 0.8 * this.#completedRate + 0.2 * r;
      }
    }
    if (job.hash && job.pos === job.chunk.end + 1 && job.to === job.chunk.end) run.inlineDigest = job.hash.digest('hex');
    // Another job whose remainder is now covered lost the race: stop it.
    for (const other of run.jobs) if (isCovered(run.covered, other.pos, other.to)) other.ctl.abort('superseded');
    if (run.jobs.size > 0 || this.signal.aborted) {
      this.#notify();
      return;
    }
    this.#runs.delete(index);
    const chunk = job.chunk;
    if (!isCovered(run.covered, chunk.start, chunk.end)) {
      this.#requeue(index);
      this.#notify();
    } else if (!chunk.sha256) this.#decide(chunk, true, run.source);
    else if (run.writers === 1 && run.inlineDigest !== undefined)
      this.#decide(chunk, run.inlineDigest === chunk.sha256, run.source);
    else {
      this.#state[index] = VERIFYING;
      this.hooks.verifyOnDisk(chunk).then(
        (ok) => this.#decide(chunk, ok, run.source),
        (e) => this.hooks.onError(e),
      );
    }
  }

  #decide(chunk: Chunk, ok: boolean, source: string | undefined) {
    if (this.signal.aborted) return;
    if (ok) {
      this.#state[chunk.index] = DONE;
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
