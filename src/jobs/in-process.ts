import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import {
  backoffDelay,
  isUnrecoverable,
  type JobLike,
  type JobQueue,
  type JobSettings,
  type Payloads,
  type Processors,
  type QueueName,
  SHUTDOWN,
} from './queues.ts';

interface Entry {
  queue: QueueName;
  id: string;
  data: unknown;
  attempts: number;
  attemptsMade: number;
  progress: number | null;
  controller: AbortController;
  done: Promise<void>;
}

export interface InProcessJobs extends JobQueue {
  /** Resolves when no job is waiting, retrying or running (tests). */
  idle(): Promise<void>;
}

/**
 * The embedded job runner: the same processors as `haul worker`, run in this process, with the
 * same contract as the BullMQ runner (deterministic ids deduplicate, attempts with exponential
 * backoff, unrecoverable errors fail at once, progress readable by id, one schedule per name).
 *
 * Nothing is persisted: a job running when the process stops is lost, which is why the runtime
 * re-enqueues PENDING files at start (the database is the durable record of what is owed).
 * Closing aborts running jobs with the reason `shutdown` and waits for them to unwind.
 */
export function createInProcessJobs(processors: Processors, settings: JobSettings, log?: Logger): InProcessJobs {
  const entries = new Map<string, Entry>();
  const timers = new Set<NodeJS.Timeout>();
  const running = new Map<QueueName, number>();
  const waiting: Entry[] = [];
  let closed = false;

  const concurrency = (q: QueueName) => (q === 'ingest' ? settings.ingestConcurrency : 1);
  const keyOf = (q: QueueName, id: string) => `${q}\u0000${id}`;

  function sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      timers.add(t);
      signal.addEventListener('abort', done, { once: true });
      function done() {
        clearTimeout(t);
        timers.delete(t);
        signal.removeEventListener('abort', done);
        resolve();
      }
    });
  }

  async function run(e: Entry): Promise<void> {
    const processor = processors[e.queue] as (job: JobLike<QueueName>, token?: string, signal?: AbortSignal) => Promise<unknown>;
    const job: JobLike<QueueName> = {
      id: e.id,
      data: e.data as Payloads[QueueName],
      get attemptsMade() {
        return e.attemptsMade;
      },
      opts: { attempts: e.attempts },
      updateProgress: (p) => {
        if (typeof p === 'number') e.progress = p;
      },
    };
    for (;;) {
      if (e.controller.signal.aborted) return;
      try {
        await processor(job, undefined, e.controller.signal);
        return;
      } catch (err) {
        if (e.controller.signal.aborted) return;
        e.attemptsMade++;
        const final = isUnrecoverable(err) || e.attemptsMade >= e.attempts;
        log?.warn(
          { queue: e.queue, jobId: e.id, attempt: e.attemptsMade, err: err instanceof Error ? err.message : String(err) },
          final ? 'job failed' : 'job attempt failed; retrying',
        );
        if (final) return;
        await sleep(backoffDelay(settings.ingestBackoffMs, e.attemptsMade), e.controller.signal);
      }
    }
  }

  function pump(): void {
    for (let i = 0; i < waiting.length; ) {
      const e = waiting[i] as Entry;
      const n = running.get(e.queue) ?? 0;
      if (n >= concurrency(e.queue)) {
        i++;
        continue;
      }
      waiting.splice(i, 1);
      running.set(e.queue, n + 1);
      e.done = run(e).finally(() => {
        running.set(e.queue, (running.get(e.queue) ?? 1) - 1);
        entries.delete(keyOf(e.queue, e.id));
        pump();
      });
    }
  }

  const api: InProcessJobs = {
    kind: 'in-process',

    async enqueue(queue, data, opts = {}) {
      if (closed) throw new Error('job runner is closed');
      const id = opts.jobId ?? randomUUID();
      if (entries.has(keyOf(queue, id))) return { id };
      const e: Entry = {
        queue,
        id,
        data,
        attempts: queue === 'ingest' ? settings.ingestAttempts : 1,
        attemptsMade: 0,
        progress: null,
        controller: new AbortController(),
        done: Promise.resolve(),
      };
      entries.set(keyOf(queue, id), e);
      waiting.push(e);
      // Asynchronously, like a real queue: the caller's response does not wait for the job.
      setImmediate(pump);
      return { id };
    },

    async progress(queue, jobId) {
      const e = entries.get(keyOf(queue, jobId));
      return e ? (e.progress ?? 0) : null;
    },

    async schedule(queue, everyMs, data) {
      const tick = () => {
        if (!closed) void api.enqueue(queue, data, { jobId: queue });
      };
      const t = setInterval(tick, everyMs);
      t.unref();
      timers.add(t);
      tick();
    },

    async idle() {
      for (;;) {
        await new Promise((r) => setImmediate(r));
        const pending = [...entries.values()];
        if (pending.length === 0) return;
        await Promise.all(pending.map((e) => e.done));
      }
    },

    async close() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      waiting.length = 0;
      const all = [...entries.values()];
      for (const e of all) e.controller.abort(SHUTDOWN);
      await Promise.all(all.map((e) => e.done));
      entries.clear();
    },
  };
  return api;
}
