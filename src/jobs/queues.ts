import { createHash } from 'node:crypto';

/**
 * Every queue haul runs, with its payload and result types: the one module producers (the API,
 * `haul ingest`) and processors (jobs/*.ts) share. Two runners implement the same `JobQueue`:
 * BullMQ on REDIS_URL (`src/jobs/bullmq.ts`, processed by `haul worker`) and an in-process one
 * for the embedded defaults (`src/jobs/in-process.ts`). Adding a queue is a line in `Payloads`
 * and `Results`, a processor in jobs/, and its entry in `src/jobs/processors.ts`; the realtime
 * issue's write-behind progress flush (`flush-progress`) is meant to arrive that way.
 */

/** Builds one file's manifest (jobs/ingest.ts). */
export interface IngestJobData {
  /** The File row the API already created (PENDING) and returned; absent: found or created by storage key. */
  fileId?: string;
  storageKey: string;
  name: string;
  contentType: string;
  chunkSize: number;
  /** The SHA-256 the caller expects, when it knows it; other bytes fail the job for good. */
  checksum?: string;
}

export interface IngestJobResult {
  fileId: string;
  sizeBytes: number;
  chunkCount: number;
  checksum: string;
  merkleRoot: string;
}

/** One sweep of sessions past their expiry (jobs/expire-sessions.ts). */
export interface ExpireSessionsJobData {
  /** Sessions per UPDATE statement (default 1000). */
  batchSize?: number;
}

export interface ExpireSessionsJobResult {
  expired: number;
  batches: number;
}

/** One write-behind flush of hot progress to PostgreSQL (jobs/flush-progress.ts). */
export interface FlushProgressJobData {
  /** Sessions per UPDATE statement (default 1000). */
  batchSize?: number;
}

export interface FlushProgressJobResult {
  sessions: number;
  statements: number;
}

export interface Payloads {
  ingest: IngestJobData;
  'expire-sessions': ExpireSessionsJobData;
  'flush-progress': FlushProgressJobData;
}

export interface Results {
  ingest: IngestJobResult;
  'expire-sessions': ExpireSessionsJobResult;
  'flush-progress': FlushProgressJobResult;
}

export type QueueName = keyof Payloads;

export const QUEUE_NAMES = ['ingest', 'expire-sessions', 'flush-progress'] as const satisfies readonly QueueName[];

/**
 * The slice of a BullMQ `Job` a processor may use, so the same processor runs under both
 * runners. `attemptsMade` counts failed attempts before this one.
 */
export interface JobLike<Q extends QueueName> {
  id?: string | undefined;
  data: Payloads[Q];
  attemptsMade: number;
  opts: { attempts?: number | undefined };
  updateProgress(progress: number | object): Promise<void> | void;
}

/** A processor `(job, token, signal)`, as BullMQ calls it (STYLE §11). */
export type Processor<Q extends QueueName> = (job: JobLike<Q>, token?: string, signal?: AbortSignal) => Promise<Results[Q]>;

export type Processors = { [Q in QueueName]: Processor<Q> };

/** The producer side of either runner. */
export interface JobQueue {
  readonly kind: 'bullmq' | 'in-process';
  /**
   * Adds a job. With a `jobId`, adding while a job of that id is waiting, delayed or running
   * is a no-op that answers the existing id; a finished job of that id is replaced, so a later
   * re-run (a re-ingest after the object changed) still happens.
   */
  enqueue<Q extends QueueName>(queue: Q, data: Payloads[Q], opts?: { jobId?: string }): Promise<{ id: string }>;
  /** Progress of a waiting or running job (a percentage for ingest), null when there is none. */
  progress(queue: QueueName, jobId: string): Promise<number | null>;
  /** Runs `queue` every `everyMs` with `data`: one schedule however many processes call it. */
  schedule<Q extends QueueName>(queue: Q, everyMs: number, data: Payloads[Q]): Promise<void>;
  close(): Promise<void>;
}

/** How jobs run; from configuration (`jobSettings` in src/config). */
export interface JobSettings {
  /** BullMQ key prefix (default `haul`); tests use one per file. */
  prefix: string;
  /** Attempts per ingest job, first included (default 3). */
  ingestAttempts: number;
  /** First retry delay; doubles per attempt (default 2 s: retries after 2 s, 4 s, …). */
  ingestBackoffMs: number;
  /** Ingest jobs one worker process runs at once (default 1: one ingest already uses both cores). */
  ingestConcurrency: number;
  /** How long a worker's lock on a job lasts without renewal (default 30 s); a dead worker's job is retried after it. */
  lockDurationMs: number;
  /** How often workers look for jobs whose lock expired (default 30 s). */
  stalledIntervalMs: number;
  /** Session expiry sweep period (default 60 s). */
  expireEveryMs: number;
  /** Sessions per expiry UPDATE (default 1000). */
  expireBatch: number;
}

export const DEFAULT_JOB_SETTINGS: JobSettings = {
  prefix: 'haul',
  ingestAttempts: 3,
  ingestBackoffMs: 2_000,
  ingestConcurrency: 1,
  lockDurationMs: 30_000,
  stalledIntervalMs: 30_000,
  expireEveryMs: 60_000,
  expireBatch: 1000,
};

/**
 * One ingest job per (object, chunk size): a second `ingestFile` while the first runs joins it
 * instead of hashing the object twice. The key is hashed because storage keys may hold any
 * character, and ':' is refused in BullMQ custom ids (it separates key parts in Redis), so the
 * parts are joined with '.'.
 */
export function ingestJobId(data: Pick<IngestJobData, 'storageKey' | 'chunkSize'>): string {
  const key = createHash('sha256').update(data.storageKey).digest('hex').slice(0, 32);
  return `ingest.${key}.${data.chunkSize}`;
}

/** Raised by a runner in a job's abort signal when the process is shutting down. */
export const SHUTDOWN = 'shutdown';

/** Errors a retry cannot fix; both runners fail the job at once (BullMQ's own class name). */
export class UnrecoverableJobError extends Error {
  override readonly name = 'UnrecoverableError';
}

export const isUnrecoverable = (e: unknown): boolean => e instanceof Error && e.name === 'UnrecoverableError';

/** Delay before retry number `attempt` (1-based): BullMQ's exponential backoff formula. */
export const backoffDelay = (baseMs: number, attempt: number): number => Math.round(2 ** (attempt - 1) * baseMs);
