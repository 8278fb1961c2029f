/**
 * Collapses concurrent requests for one key into one call (single-flight), with abort semantics
 * that fit a cache fill: the shared call has its own AbortSignal, which fires only when every
 * waiter has aborted. One client going away never cancels bytes another client is waiting for.
 */

interface Flight<V> {
  readonly ctl: AbortController;
  /** Waiters that may still leave (those with a signal); waiters without one pin the flight. */
  waiters: number;
  pinned: boolean;
  readonly promise: Promise<V>;
}

const noop = () => {};

export class SingleFlight<K, V> {
  readonly #flights = new Map<K, Flight<V>>();

  /** Calls in progress. */
  get size(): number {
    return this.#flights.size;
  }

  has(key: K): boolean {
    return this.#flights.has(key);
  }

  /**
   * Joins the call in progress for `key`, or starts `fn` when there is none. The returned promise
   * settles with the shared result, or rejects with `signal.reason` as soon as this waiter's
   * signal aborts (the call itself is aborted only when all waiters have). `joined` says whether
   * a call was already in progress.
   */
  run(key: K, fn: (signal: AbortSignal) => Promise<V>, signal?: AbortSignal): { promise: Promise<V>; joined: boolean } {
    if (signal?.aborted) return { promise: Promise.reject(signal.reason as Error), joined: false };
    let flight = this.#flights.get(key);
    const joined = flight !== undefined;
    if (!flight) flight = this.#start(key, fn);
    return { promise: this.#wait(key, flight, signal), joined };
  }

  #start(key: K, fn: (signal: AbortSignal) => Promise<V>): Flight<V> {
    const ctl = new AbortController();
    // Async wrapper: a synchronous throw in fn becomes a rejection like any other failure.
    const promise = (async () => fn(ctl.signal))();
    const flight: Flight<V> = { ctl, waiters: 0, pinned: false, promise };
    this.#flights.set(key, flight);
    const settle = () => {
      if (this.#flights.get(key) === flight) this.#flights.delete(key);
    };
    promise.then(settle, settle);
    // Nobody may be left to observe a failure (all waiters aborted): that is not an unhandled rejection.
    promise.catch(noop);
    return flight;
  }

  #wait(key: K, flight: Flight<V>, signal: AbortSignal | undefined): Promise<V> {
    if (!signal) {
      flight.pinned = true;
      return flight.promise;
    }
    flight.waiters++;
    return new Promise<V>((resolve, reject) => {
      const onAbort = () => {
        reject(signal.reason);
        if (--flight.waiters > 0 || flight.pinned) return;
        // The last waiter left: cancel the call, and let the next request start a fresh one rather
        // than join a call that is being torn down.
        if (this.#flights.get(key) === flight) this.#flights.delete(key);
        flight.ctl.abort(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      flight.promise.then(
        (v) => {
          signal.removeEventListener('abort', onAbort);
          resolve(v);
        },
        (e: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      );
    });
  }
}
