import { type EventLoopUtilization, performance } from 'node:perf_hooks';

/** Connections a download starts with when it may open more as they help. */
export const START_CONNECTIONS = 2;
/** How often the ramp looks at the receiving thread, in ms. */
export const RAMP_WINDOW_MS = 50;
/**
 * Below this per connection (bytes/s) for `SLOW_WINDOWS` windows in a row, connections are added
 * whatever the thread's load. One slow window means little: a loopback download has some (a
 * stall of the receiving thread, TCP's slow start).
 */
export const SLOW_CONNECTION_BPS = 8 * 1024 * 1024;
export const SLOW_WINDOWS = 4;

/**
 * How many connections to run next, from how busy the receiving thread was over the last window
 * (`elu`: event-loop utilization, 0–1) while bytes were arriving. A thread that mostly waited is
 * held back by the network or the server, per connection: below 0.25, all of them at once (a
 * 50 Mbit/s-per-connection link measures ~0.05); below 0.5, twice as many; below 0.75, one more.
 * Busier than that (loopback, 0.8–1.0), another connection cannot make it receive faster: it would
 * only add sockets, smaller reads and context switches on both ends (1 GiB over loopback, client
 * and edge on two cores: 2 connections 1.27–1.36 s, 8 connections 1.45–1.87 s, and ~0.3 s more CPU).
 */
export function nextConnectionCount(current: number, max: number, elu: number, slowLink = false): number {
  if (current >= max) return max;
  // A busy thread receiving slowly for a while is busy with something else (an SDK host's own
  // work): its load says nothing about the link, and a slow link is what more connections are for.
  if (slowLink) return Math.min(max, current * 2);
  if (elu < 0.25) return max;
  if (elu < 0.5) return Math.min(max, current * 2);
  if (elu < 0.75) return current + 1;
  return current;
}

/**
 * Opens connections as they help, up to `max`: `START_CONNECTIONS` at once, then, every
 * `RAMP_WINDOW_MS` while bytes arrive and chunks wait to be claimed, as many as
 * `nextConnectionCount` says (from the thread's load and the bytes per connection of the
 * window). It never closes one (a connection ends when the queue is empty).
 */
export class ConnectionRamp {
  #count = 0;
  #timer: NodeJS.Timeout | undefined;
  #last: { elu: EventLoopUtilization; at: number; received: number } | undefined;
  #slowWindows = 0;

  constructor(
    private readonly max: number,
    private readonly open: () => void,
    private readonly state: {
      /** Bytes received so far (a window counts only while they grow). */
      received(): number;
      /** Chunks are waiting for a connection. */
      wanted(): boolean;
    },
    private readonly elu: (last?: EventLoopUtilization) => EventLoopUtilization = (last) =>
      performance.eventLoopUtilization(last),
    private readonly now: () => number = () => performance.now(),
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
    const last = this.#last;
    const received = this.state.received();
    const at = this.now();
    // A window starts once bytes flow: waiting for the first response is not the network's pace.
    const flowing = received > (last?.received ?? 0);
    this.#last = flowing ? { elu: this.elu(), at, received } : undefined;
    if (!last || !flowing || !this.state.wanted()) return;
    const utilization = this.elu(last.elu).utilization;
    const perConnection = ((received - last.received) * 1000) / Math.max(1, at - last.at) / this.#count;
    this.#slowWindows = perConnection < SLOW_CONNECTION_BPS ? this.#slowWindows + 1 : 0;
    this.#grow(nextConnectionCount(this.#count, this.max, utilization, this.#slowWindows >= SLOW_WINDOWS));
    if (this.#count >= this.max) this.stop();
  }

  #grow(to: number): void {
    while (this.#count < to) {
      this.#count++;
      this.open();
    }
  }
}
