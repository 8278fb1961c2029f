import { type EventLoopUtilization, performance } from 'node:perf_hooks';

/** Connections a download starts with when it may open more as they help. */
export const START_CONNECTIONS = 2;
/** How often the ramp looks at the receiving thread, in ms. */
export const RAMP_WINDOW_MS = 50;

/**
 * How many connections to run next, from how busy the receiving thread was over the last window
 * (`elu`: event-loop utilization, 0–1) while bytes were arriving. A thread that mostly waited is
 * held back by the network or the server, per connection: below 0.25, all of them at once (a
 * 50 Mbit/s-per-connection link measures ~0.05); below 0.5, twice as many; below 0.75, one more.
 * Busier than that (loopback, 0.8–1.0), another connection cannot make it receive faster: it would
 * only add sockets, smaller reads and context switches on both ends (1 GiB over loopback, client
 * and edge on two cores: 2 connections 1.27–1.36 s, 8 connections 1.45–1.87 s, and ~0.3 s more CPU).
 */
export function nextConnectionCount(current: number, max: number, elu: number): number {
  if (current >= max) return max;
  if (elu < 0.25) return max;
  if (elu < 0.5) return Math.min(max, current * 2);
  if (elu < 0.75) return current + 1;
  return current;
}

/**
 * Opens connections as they help, up to `max`: `START_CONNECTIONS` at once, then, every
 * `RAMP_WINDOW_MS` while bytes arrive and chunks wait to be claimed, as many as
 * `nextConnectionCount` says. It never closes one (a connection ends when the queue is empty).
 */
export class ConnectionRamp {
  #count = 0;
  #timer: NodeJS.Timeout | undefined;
  #last: EventLoopUtilization | undefined;

  constructor(
    private readonly max: number,
    private readonly open: () => void,
    private readonly state: {
      /** Bytes arrived since the last call (the window counts only then). */
      flowing(): boolean;
      /** Chunks are waiting for a connection. */
      wanted(): boolean;
    },
    private readonly elu: (last?: EventLoopUtilization) => EventLoopUtilization = (last) =>
      performance.eventLoopUtilization(last),
  ) {}

  get count(): number {
    return this.#count;
  }

  /** Opens the first connections; `rampUp` false: all `max` of them. */
  start(rampUp: boolean): void {
    this.#grow(rampUp ? Math.min(this.max, START_CONNECTIONS) : this.max);
    if (this.#count >= this.max) return;
    this.#timer = setInterval(() => this.#tick(), RAMP_WINDOW_MS);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #tick(): void {
    const flowing = this.state.flowing();
    const window = this.#last && this.elu(this.#last);
    // A window starts when bytes flow: waiting for the first response is not the network's pace.
    this.#last = flowing ? this.elu() : undefined;
    if (!window || !flowing || !this.state.wanted()) return;
    this.#grow(nextConnectionCount(this.#count, this.max, window.utilization));
    if (this.#count >= this.max) this.stop();
  }

  #grow(to: number): void {
    while (this.#count < to) {
      this.#count++;
      this.open();
    }
  }
}
