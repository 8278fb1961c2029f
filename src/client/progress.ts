import { RateMeter } from './display.ts';
import type { DownloadProgress } from './types.ts';

/**
 * Counters of one download and the `onProgress` clock: a snapshot every `intervalMs` while
 * running (and one forced at phase changes), with the rate as a short moving average.
 */
export class ProgressTracker {
  doneBytes = 0;
  receivedBytes = 0;
  chunksDone = 0;
  phase: DownloadProgress['phase'] = 'starting';
  activeConnections: () => number = () => 0;
  inFlightBytes: () => number = () => 0;
  #meter = new RateMeter();
  #rate: number | null = null;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    public totalBytes: number,
    public chunkCount: number,
    readonly connections: number,
    private readonly onProgress?: (p: DownloadProgress) => void,
    private readonly intervalMs = 200,
  ) {}

  get rate(): number {
    return this.#rate ?? 0;
  }

  start(): void {
    this.#timer ??= setInterval(() => this.emit(), this.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  setPhase(phase: DownloadProgress['phase']): void {
    this.phase = phase;
    this.emit();
  }

  emit(): void {
    this.#rate = this.#meter.sample(this.receivedBytes);
    this.onProgress?.(this.snapshot());
  }

  snapshot(): DownloadProgress {
    const rate = this.#rate;
    const inFlight = this.phase === 'downloading' ? this.inFlightBytes() : 0;
    const left = Math.max(0, this.totalBytes - this.doneBytes - inFlight);
    return {
      doneBytes: this.doneBytes,
      inFlightBytes: inFlight,
      receivedBytes: this.receivedBytes,
      totalBytes: this.totalBytes,
      chunksDone: this.chunksDone,
      chunkCount: this.chunkCount,
      rate,
      etaSeconds: rate && rate > 0 ? left / rate : null,
      activeConnections: this.activeConnections(),
      connections: this.connections,
      phase: this.phase,
    };
  }
}
