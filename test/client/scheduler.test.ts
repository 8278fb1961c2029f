import { describe, expect, it } from 'vitest';
import type { Chunk } from '../../src/client/job.ts';
import { Scheduler } from '../../src/client/scheduler.ts';

const MiB = 1024 * 1024;
const chunks = (n: number, size: number): Chunk[] =>
  Array.from({ length: n }, (_, index) => ({ index, start: index * size, end: (index + 1) * size - 1 }));
const hooks = {
  verifyOnDisk: async () => true,
  onDone() {},
  onCorrupt() {},
  onTail() {},
  onError(e: unknown) {
    throw e;
  },
};

describe('Scheduler claims', () => {
  it('claims runs of consecutive chunks in file order: a fair share, at most maxClaimBytes', async () => {
    const s = new Scheduler(chunks(100, MiB), new Set(), new AbortController().signal, hooks, {
      connections: 4,
      maxClaimBytes: 8 * MiB,
    });
    const claims = [];
    for (let i = 0; i < 4; i++) {
      const job = (await s.next())!;
      claims.push([job.from / MiB, (job.to + 1) / MiB]);
    }
    // 100 chunks ÷ 4 connections would be 25 each; the cap keeps claims at 8 MiB, back to back.
    expect(claims).toEqual([
      [0, 8],
      [8, 16],
      [16, 24],
      [24, 32],
    ]);
    s.close();
  });

  it('near the end of the queue a claim shrinks to the fair share, and never below one chunk', async () => {
    const s = new Scheduler(chunks(10, 4 * MiB), new Set([0, 1, 2, 3]), new AbortController().signal, hooks, {
      connections: 4,
      maxClaimBytes: MiB,
    });
    const job = (await s.next())!;
    // Done chunks are skipped; a 1 MiB cap below the 4 MiB chunk size still claims one whole chunk.
    expect([job.from, job.to]).toEqual([4 * 4 * MiB, 5 * 4 * MiB - 1]);
    s.close();
  });
});

describe('Scheduler progress', () => {
  it('counts a written chunk as in flight until its check decides, so progress does not lag the bytes', async () => {
    const checks: Array<(ok: boolean) => void> = [];
    const s = new Scheduler(
      chunks(4, MiB).map((c) => ({ ...c, sha256: 'a digest' })),
      new Set(),
      new AbortController().signal,
      { ...hooks, verifyOnDisk: () => new Promise<boolean>((resolve) => checks.push(resolve)) },
      { connections: 1, maxClaimBytes: MiB, hashInline: false },
    );
    const job = (await s.next())!;
    expect(s.inFlightBytes).toBe(0);
    job.pos = job.to + 1;
    s.finish(job);
    // Written, its check pending: in flight, not done.
    expect(checks).toHaveLength(1);
    expect(s.inFlightBytes).toBe(MiB);
    expect(s.doneCount).toBe(0);
    checks[0]!(true);
    await new Promise((r) => setImmediate(r));
    expect(s.inFlightBytes).toBe(0);
    expect(s.doneCount).toBe(1);
    // A chunk that fails its check goes back to the queue: no longer in flight either.
    const again = (await s.next())!;
    again.pos = again.to + 1;
    s.finish(again);
    expect(s.inFlightBytes).toBe(MiB);
    checks[1]!(false);
    await new Promise((r) => setImmediate(r));
    expect(s.inFlightBytes).toBe(0);
    expect(s.doneCount).toBe(1);
    s.close();
  });
});
