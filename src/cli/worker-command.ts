import { ConfigError } from '../config/index.ts';
import { QUEUE_NAMES, type QueueName } from '../jobs/queues.ts';
import { type Command, UsageError } from './args.ts';
import { configure, createLogger, runUntilSignal } from './setup.ts';

const summary = 'run background jobs (ingest, session expiry) from Redis with BullMQ, until SIGTERM';

function parseQueues(value: string | boolean | undefined): QueueName[] | undefined {
  if (typeof value !== 'string') return undefined;
  const names = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const n of names)
    if (!(QUEUE_NAMES as readonly string[]).includes(n))
      throw new UsageError(`--queues: unknown queue "${n}" (known: ${QUEUE_NAMES.join(', ')})`);
  if (names.length === 0) throw new UsageError('--queues needs at least one queue name');
  return names as QueueName[];
}

export const workerCommand: Command = {
  name: 'worker',
  summary,
  usage: [
    'usage: haul worker [--concurrency 1] [--queues ingest,expire-sessions,flush-progress]',
    '',
    `${summary}.`,
    'Needs REDIS_URL (the queues) and DATABASE_URL (PostgreSQL), and the object store settings;',
    'run as many as you like. `haul serve` runs the same jobs in-process on the embedded defaults.',
    '',
    '  --concurrency N  ingest jobs this process runs at once (default 1, or HAUL_WORKER_CONCURRENCY;',
    '                   one ingest already keeps two cores busy)',
    `  --queues Q,…     queues to consume (default all: ${QUEUE_NAMES.join(', ')})`,
    '',
    'SIGTERM/SIGINT: take no new jobs, let running ones finish for HAUL_WORKER_SHUTDOWN_GRACE (25s),',
    'then hand the rest back to the queue for another worker. See docs/ingest.md.',
  ].join('\n'),
  options: {
    concurrency: { type: 'string' },
    queues: { type: 'string' },
  },
  async run(values) {
    let concurrency: number | undefined;
    if (values.concurrency !== undefined) {
      concurrency = Number(values.concurrency);
      if (typeof values.concurrency !== 'string' || !/^\d+$/.test(values.concurrency) || concurrency < 1 || concurrency > 64)
        throw new UsageError('--concurrency must be an integer from 1 to 64');
    }
    const queues = parseQueues(values.queues);
    const config = configure({ requireAuth: false, requireSigning: false }, { createSecrets: false });
    const problems: string[] = [];
    if (!config.redisUrl) problems.push('REDIS_URL is required: workers take their jobs from Redis (BullMQ)');
    if (config.database.kind !== 'postgres')
      problems.push('DATABASE_URL is required: the embedded database belongs to `haul serve`, which runs jobs in-process');
    if (problems.length) throw new ConfigError(problems);
    if (concurrency !== undefined) config.jobs.ingestConcurrency = concurrency;

    const log = createLogger(config.logLevel);
    // Loaded here: `haul --help` stays fast without Prisma, BullMQ and the AWS SDK.
    const { startWorkerProcess } = await import('../jobs/worker.ts');
    const worker = await startWorkerProcess(config, log, { queues });
    const shown = queues ?? QUEUE_NAMES;
    console.log(
      `haul worker ${process.pid} consuming ${shown.join(', ')} (ingest concurrency ${config.jobs.ingestConcurrency}, ${config.storage.kind} store)`,
    );
    return runUntilSignal(() => worker.stop(), log, 'shutting down: finishing running jobs');
  },
};
