import type { ControlPlane, SessionInfo } from './control.ts';
import type { HaulClientError } from './errors.ts';

export interface ReporterOptions {
  /** Report at least this often while chunks complete, ms. Default 2,000. */
  intervalMs?: number;
  /** …and whenever another whole percent of the chunks is done, but not more often than this, ms. Default 250. */
  minGapMs?: number;
  /** Chunk indexes per report (the API caps request bodies). Default 4,000. */
  maxBatch?: number;
}

const MAX_BACKOFF_MS = 30_000;

/**
 * Tells the server which chunks are verified (DESIGN §4), off the transfer's path: at most one
 * report in flight, every `intervalMs` and at each percent. A failed report keeps its chunks and
 * is retried with a growing delay, so when the API is unreachable the download carries on and the
 * reports catch up once it is back. The server's answer also says whether the session was paused
 * from elsewhere.
 */
export class ProgressReporter {
  readonly #pending = new Set<number>();
  #inFlight: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lastSent = 0;
  #failures = 0;
  #retryAt = 0;
  #percent = -1;
  #doneCount = 0;
  #stopped = false;
  rate = 0;
  /** The last failure, cleared by the next success. */
  lastError: HaulClientError | undefined;
  readonly #opts: Required<ReporterOptions>;

  constructor(
    private readonly control: ControlPlane,
    public sessionId: string,
    private readonly chunkCount: number,
    private readonly hooks: {
      onSession?(s: SessionInfo): void;
      onFailure?(e: HaulClientError, pending: number): void;
      onCatchUp?(reported: number): void;
    } = {},
    opts: ReporterOptions = {},
  ) {
    this.#opts = { intervalMs: 2000, minGapMs: 250, maxBatch: 4000, ...opts };
    this.#timer = setInterval(() => this.#maybeSend(false), Math.min(this.#opts.intervalMs, 500));
    this.#timer.unref();
  }

  /** Chunks the server should hear about (verified now, or earlier and not yet reported). */
  add(indexes: Iterable<number>, countsAsNew = true): void {
    for (const i of indexes) {
      this.#pending.add(i);
      if (countsAsNew) this.#doneCount++;
    }
    const percent = Math.floor((this.#doneCount * 100) / Math.max(1, this.chunkCount));
    if (percent !== this.#percent) {
      this.#percent = percent;
      this.#maybeSend(true);
    }
  }

  setDoneCount(n: number): void {
    this.#doneCount = n;
    this.#percent = Math.floor((n * 100) / Math.max(1, this.chunkCount));
  }

  get pending(): number {
    return this.#pending.size;
  }

  #maybeSend(percentStep: boolean): void {
    if (this.#stopped || this.#inFlight || this.#pending.size === 0) return;
    const now = Date.now();
    if (now < this.#retryAt) return;
    const gap = now - this.#lastSent;
    if (gap < (percentStep ? this.#opts.minGapMs : this.#opts.intervalMs)) return;
    this.#inFlight = this.#send().finally(() => {
      this.#inFlight = undefined;
    });
  }

  async #send(): Promise<void> {
    const batch = [...this.#pending].slice(0, this.#opts.maxBatch);
    this.#lastSent = Date.now();
    try {
      const session = await this.control.report(this.sessionId, batch, Math.round(this.rate));
      for (const i of batch) this.#pending.delete(i);
      if (this.#failures > 0) this.hooks.onCatchUp?.(batch.length);
      this.#failures = 0;
      this.lastError = undefined;
      this.hooks.onSession?.(session);
    } catch (e) {
      this.#failures++;
      this.lastError = e as HaulClientError;
      this.#retryAt = Date.now() + Math.min(MAX_BACKOFF_MS, 500 * 2 ** (this.#failures - 1));
      this.hooks.onFailure?.(e as HaulClientError, this.#pending.size);
    }
  }

  /** Stops the timer and hands back what was not reported (for pauseDownload). */
  async stop(): Promise<number[]> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#inFlight;
    return [...this.#pending];
  }
}
