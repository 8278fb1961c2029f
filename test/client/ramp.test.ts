import type { EventLoopUtilization } from 'node:perf_hooks';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConnectionRamp, nextConnectionCount, RAMP_WINDOW_MS, START_CONNECTIONS } from '../../src/client/ramp.ts';

describe('how many connections a download runs', () => {
  it('grows while the receiving thread waits, and holds while it is busy', () => {
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

    /** A ramp whose receiving thread is as busy as `busy` says, with bytes and chunks as told. */
    function rig(max: number) {
      const s = { busy: 1, flowing: true, wanted: true, opened: 0 };
      // Utilization over a window is whatever `busy` is when the window closes.
      const elu = (last?: EventLoopUtilization) =>
        ({ idle: 0, active: 0, utilization: last ? s.busy : 0 }) as EventLoopUtilization;
      const ramp = new ConnectionRamp(max, () => s.opened++, { flowing: () => s.flowing, wanted: () => s.wanted }, elu);
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
