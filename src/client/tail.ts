import type { Job } from './job.ts';

export interface TailOptions {
  /** A remainder inside one chunk is split only when each half would be at least this long. */
  minSplitBytes: number;
  /** A job that received nothing for this long (ms) is stalled. */
  stallMs: number;
  /** A job slower than this fraction of the typical connection crawls. */
  slowFraction: number;
}

export type TailChoice = { action: 'split'; job: Job; at: number } | { action: 'race'; job: Job };

/**
 * What an idle connection does when nothing is left to claim: help the job expected to finish
 * last (remaining bytes over its rate).
 * - Several chunks left → take the back half, split at the chunk boundary nearest the middle
 *   (no read-back needed to verify either half).
 * - One chunk left, the job stalled (nothing for `stallMs`) or crawling (below `slowFraction` of
 *   the typical connection) → race a duplicate of its remaining bytes on another connection.
 * - One chunk left, at least 2 × `minSplitBytes` of it → split it in two.
 * Splitting pays only when the remainder would still take a while (over 250 ms): a new request
 * costs a round trip. Jobs already raced, or waiting out a retry delay, are left alone.
 */
export function chooseTail(
  jobs: Iterable<Job>,
  o: TailOptions,
  completedRate: number,
  now = performance.now(),
): TailChoice | null {
  let worst: Job | undefined;
  let worstEta = 0;
  const rates: number[] = [];
  for (const j of jobs) {
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
  const typical = Math.max(completedRate, rates[Math.floor(rates.length / 2)] ?? 0);
  const stalled = now - worst.lastByteAt > o.stallMs;
  const slow = now - worst.startedAt > 500 && typical > 0 && worst.rate(now) < typical * o.slowFraction;
  const worthSplitting = stalled || slow || worstEta > 0.25;
  const cur = worst.current;
  if (worst.to > cur.end) {
    if (!worthSplitting) return null;
    let at = worst.map.at(worst.pos + Math.floor(worst.remaining / 2)).start;
    if (at <= cur.end) at = cur.end + 1;
    return { action: 'split', job: worst, at };
  }
  if (stalled || slow) return { action: 'race', job: worst };
  if (worst.remaining >= 2 * o.minSplitBytes && worthSplitting)
    return { action: 'split', job: worst, at: worst.pos + Math.floor(worst.remaining / 2) };
  return null;
}
