import type { EventLoopUtilization } from 'node:perf_hooks';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConnectionRamp, nextConnectionCount, RAMP_WINDOW_MS, SLOW_WINDOWS, START_CONNECTIONS } from '../../src/client/ramp.ts';

describe('how many connections a download runs', () => {
  it('grows while the receiving thread waits, and holds while it is busy', () => {
    expect(nextConnectionCount(2, 8, 0.9, true)).toBe(4);
    expect(nextConnectionCount(2, 8, 0.9, false)).toBe(2);
    expect(nextConnectionCount(2, 8, 0.05)).toBe(8);
    expect(nextConnectionCount(2, 8, 0.4)).toBe(4);
    expect(nextConnectionCount(6, 8, 0.4)).toBe(8);
    expect(nextConnectionCount(2, 8, 0.6)).toBe(3);
    expect(nextConnectionCount(2, 8, 0.8)).toBe(2);
    expect(nextConnectionCount(2, 8, 1)).toBe(2);
    expect(nextConnectionCount(8, 8, 0)).toBe(8);
    expect(nextConnectionCount(1, 1, 0)).toBe(1);
  });

  describe('ConnectionRamp', () => {
    beforeEach(() => vi.useFakeTimers());
    afterEach(() => vi.useRealTimers());

    /**
     * A ramp whose receiving thread is as busy as `busy` says, receiving `bps` per connection
     * while `flowing`, with chunks waiting while `wanted`.
     */
    function rig(max: number) {
      const s = { busy: 1, flowing: true, wanted: true, opened: 0, bps: 100 * 1024 * 1024, received: 0, at: 0 };
      // Utilization over a window is whatever `busy` is when the window closes.
      const elu = (last?: EventLoopUtilization) =>
        ({ idle: 0, active: 0, utilization: last ? s.busy : 0 }) as EventLoopUtilization;
      const received = () => {
        const now = Date.now();
        if (s.flowing) s.received += Math.round((s.bps * s.opened * (now - s.at)) / 1000);
        s.at = now;
        return s.received;
      };
      const ramp = new ConnectionRamp(
        max,
        () => s.opened++,
        { received, wanted: () => s.wanted },
        elu,
        () => Date.now(),
      );
      return { s, ramp };
    }

    it('starts with two, waits for bytes, then opens more only while they would help', () => {
      const { s, ramp } = rig(8);
      ramp.start(true);
      expect(s.opened).toBe(START_CONNECTIONS);
      // No bytes yet (waiting for the first response): no window is measured.
      s.flowing = false;
      s.busy = 0;
      vi.advanceTimersByTime(5 * RAMP_WINDOW_MS);
      expect(s.opened).toBe(2);
      // Bytes flow and the thread is busy: it holds.
      s.flowing = true;
      s.busy = 0.9;
      vi.advanceTimersByTime(10 * RAMP_WINDOW_MS);
      expect(s.opened).toBe(2);
      // Somewhat idle: one more per window.
      s.busy = 0.6;
      vi.advanceTimersByTime(2 * RAMP_WINDOW_MS);
      expect(s.opened).toBe(4);
      // Nothing left to claim: no more, however idle.
      s.wanted = false;
      s.busy = 0;
      vi.advanceTimersByTime(3 * RAMP_WINDOW_MS);
      expect(s.opened).toBe(4);
      // Waiting on the network: all of them, and never more.
      s.wanted = true;
      vi.advanceTimersByTime(5 * RAMP_WINDOW_MS);
      expect(s.opened).toBe(8);
      expect(ramp.count).toBe(8);
      ramp.stop();
    });

    it('doubles over connections that stay slow even when the thread is busy with something else', () => {
      const { s, ramp } = rig(8);
      ramp.start(true);
      s.busy = 1;
      s.bps = 2 * 1024 * 1024;
      // The first window opens at the first tick with bytes; a few slow windows are not enough.
      vi.advanceTimersByTime(SLOW_WINDOWS * RAMP_WINDOW_MS);
      expect(s.opened).toBe(2);
      vi.advanceTimersByTime(RAMP_WINDOW_MS);
      expect(s.opened).toBe(4);
      vi.advanceTimersByTime(RAMP_WINDOW_MS);
      expect(s.opened).toBe(8);
      ramp.stop();
    });

    it('opens every connection at once when told not to ramp up, and one when one is all it may', () => {
      const all = rig(8);
      all.ramp.start(false);
      expect(all.s.opened).toBe(8);
      const one = rig(1);
      one.ramp.start(true);
      one.s.busy = 0;
      vi.advanceTimersByTime(5 * RAMP_WINDOW_MS);
      expect(one.s.opened).toBe(1);
    });
  });
});
