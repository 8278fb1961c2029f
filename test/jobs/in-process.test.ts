import { describe, expect, it } from 'vitest';
import { createInProcessJobs } from '../../src/jobs/in-process.ts';
import {
  DEFAULT_JOB_SETTINGS,
  type IngestJobData,
  type JobLike,
  type Processors,
  SHUTDOWN,
  UnrecoverableJobError,
} from '../../src/jobs/queues.ts';

const settings = { ...DEFAULT_JOB_SETTINGS, ingestBackoffMs: 40, ingestAttempts: 3 };
const data = (key: string): IngestJobData => ({ storageKey: key, name: key, contentType: 'a/b', chunkSize: 1024 });
const result = { fileId: 'f', sizeBytes: 0, chunkCount: 0, checksum: '', merkleRoot: '' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function processors(ingest: Processors['ingest']): Processors {
  return {
    ingest,
    'expire-sessions': async () => ({ expired: 0, batches: 0 }),
    'flush-progress': async () => ({ sessions: 0, statements: 0 }),
  };
}

describe('the in-process job runner (embedded mode)', () => {
  it('deduplicates by job id while a job waits or runs, and runs it again once it finished', async () => {
    let runs = 0;
    const jobs = createInProcessJobs(
      processors(async () => {
        runs++;
        await sleep(30);
        return result;
      }),
      settings,
    );
    for (let i = 0; i < 3; i++) await jobs.enqueue('ingest', data('k'), { jobId: 'same' });
    await sleep(10);
    await jobs.enqueue('ingest', data('k'), { jobId: 'same' });
    await jobs.idle();
    expect(runs).toBe(1);
    await jobs.enqueue('ingest', data('k'), { jobId: 'same' });
    await jobs.idle();
    expect(runs).toBe(2);
    await jobs.close();
  });

  it('retries with exponential backoff, telling the processor how many attempts failed', async () => {
    const seen: { attemptsMade: number; at: number }[] = [];
    const t0 = Date.now();
    const jobs = createInProcessJobs(
      processors(async (job: JobLike<'ingest'>) => {
        seen.push({ attemptsMade: job.attemptsMade, at: Date.now() - t0 });
        expect(job.opts.attempts).toBe(3);
        if (seen.length < 3) throw new Error('transient');
        return result;
      }),
      settings,
    );
    await jobs.enqueue('ingest', data('r'), { jobId: 'r' });
    await jobs.idle();
    expect(seen.map((s) => s.attemptsMade)).toEqual([0, 1, 2]);
    // 40 ms, then 80 ms.
    expect((seen[1]?.at ?? 0) - (seen[0]?.at ?? 0)).toBeGreaterThanOrEqual(38);
    expect((seen[2]?.at ?? 0) - (seen[1]?.at ?? 0)).toBeGreaterThanOrEqual(78);
    await jobs.close();
  });

  it('gives up after the last attempt, and at once on an unrecoverable error', async () => {
    let transient = 0;
    let permanent = 0;
    const jobs = createInProcessJobs(
      processors(async (job) => {
        if (job.data.storageKey === 'bad') {
          permanent++;
          throw new UnrecoverableJobError('no retry can fix this');
        }
        transient++;
        throw new Error('always');
      }),
      settings,
    );
    await jobs.enqueue('ingest', data('bad'), { jobId: 'bad' });
    await jobs.enqueue('ingest', data('flaky'), { jobId: 'flaky' });
    await jobs.idle();
    expect(permanent).toBe(1);
    expect(transient).toBe(3);
    await jobs.close();
  });

  it('shows progress while a job runs, runs ingest one at a time, and forgets finished jobs', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let concurrent = 0;
    let maxConcurrent = 0;
    const jobs = createInProcessJobs(
      processors(async (job) => {
        concurrent++;
        maxConcurrent = Math.max(maxConcurrent, concurrent);
        await job.updateProgress(42);
        await gate;
        concurrent--;
        return result;
      }),
      settings,
    );
    await jobs.enqueue('ingest', data('a'), { jobId: 'a' });
    await jobs.enqueue('ingest', data('b'), { jobId: 'b' });
    await sleep(20);
    expect(await jobs.progress('ingest', 'a')).toBe(42);
    expect(await jobs.progress('ingest', 'b')).toBe(0);
    release();
    await jobs.idle();
    expect(maxConcurrent).toBe(1);
    expect(await jobs.progress('ingest', 'a')).toBeNull();
    await jobs.close();
  });

  it('close aborts running jobs with the reason "shutdown" and waits for them', async () => {
    let reason: unknown;
    let unwound = false;
    const jobs = createInProcessJobs(
      processors(
        (_job, _token, signal) =>
          new Promise((_, reject) => {
            signal?.addEventListener('abort', () => {
              reason = signal.reason;
              setTimeout(() => {
                unwound = true;
                reject(new Error('aborted'));
              }, 20);
            });
          }),
      ),
      settings,
    );
    await jobs.enqueue('ingest', data('x'), { jobId: 'x' });
    await sleep(10);
    await jobs.close();
    expect(reason).toBe(SHUTDOWN);
    expect(unwound).toBe(true);
    await expect(jobs.enqueue('ingest', data('y'))).rejects.toThrow(/closed/);
  });

  it('a schedule runs at once and then every period, never two sweeps at a time', async () => {
    let running = 0;
    let overlap = false;
    let sweeps = 0;
    const jobs = createInProcessJobs(
      {
        ingest: async () => result,
        'flush-progress': async () => ({ sessions: 0, statements: 0 }),
        'expire-sessions': async () => {
          if (running++) overlap = true;
          sweeps++;
          await sleep(35);
          running--;
          return { expired: 0, batches: 0 };
        },
      },
      settings,
    );
    await jobs.schedule('expire-sessions', 10, {});
    await sleep(200);
    await jobs.close();
    expect(overlap).toBe(false);
    expect(sweeps).toBeGreaterThanOrEqual(3);
  });
});
