import { join, resolve } from 'node:path';
import { z } from 'zod';
import { parseDuration } from './duration.ts';
import { ConfigError } from './errors.ts';

export { ConfigError, processEnv } from './errors.ts';

/**
 * haul's one configuration model. Everything that varies between a laptop and a fleet is here;
 * nothing else reads the environment. The embedded defaults (PGlite, in-process pub/sub and
 * jobs, a local folder store) are chosen simply by leaving DATABASE_URL, REDIS_URL and the S3
 * settings unset.
 */

const duration = (what: string) =>
  z.string().transform((s, ctx) => {
    const ms = parseDuration(s);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `${what}: "${s}" is not a duration (e.g. 90s, 15m, 12h, 3d)` });
      return z.NEVER;
    }
    return ms;
  });

const port = z.coerce.number().int().min(0).max(65535);
const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

/** A keyring spec: "kid:secret,kid2:secret2". Secrets must carry at least 128 bits. */
const keyring = z.string().transform((s, ctx) => {
  const keys: Record<string, string> = {};
  for (const part of s.split(',').filter(Boolean)) {
    const i = part.indexOf(':');
    const kid = part.slice(0, i);
    const secret = part.slice(i + 1);
    if (i <= 0 || !/^[A-Za-z0-9_-]{1,32}$/.test(kid) || secret.length < 16) {
      ctx.addIssue({
        code: 'custom',
        message: 'HAUL_SIGNING_KEYS: each entry must be kid:secret with a secret of 16+ characters',
      });
      return z.NEVER;
    }
    keys[kid] = secret;
  }
  return keys;
});

const EnvSchema = z.object({
  PORT: port.optional(),
  HOST: z.string().min(1).optional(),
  HAUL_DATA_DIR: z.string().min(1).optional(),
  HAUL_PUBLIC_URL: z.url().optional(),
  HAUL_EDGE_URL: z.url().optional(),
  HAUL_EDGE_CACHE_BYTES: z.coerce.number().int().min(0).optional(),
  HAUL_EDGE_SLICE_BYTES: z.coerce
    .number()
    .int()
    .min(4096)
    .max(64 * 1024 * 1024)
    .optional(),
  HAUL_EDGE_BYPASS_BYTES: z.coerce.number().int().min(0).optional(),
  HAUL_EDGE_READ_AHEAD: z.coerce.number().int().min(0).max(64).optional(),
  HAUL_EDGE_HOP_SECRET: z.string().optional(),
  HAUL_EDGE_REQUIRE_HOP: z
    .enum(['true', 'false', '1', '0'])
    .transform((v) => v === 'true' || v === '1')
    .optional(),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'DATABASE_URL must be a postgres:// URL')
    .optional(),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'REDIS_URL must be a redis:// URL')
    .optional(),
  HAUL_REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'HAUL_REDIS_PREFIX: 1-64 letters, digits, _ . : or -')
    .optional(),
  HAUL_STORAGE: z.enum(['fs', 's3']).optional(),
  HAUL_STORAGE_DIR: z.string().min(1).optional(),
  S3_BUCKET: z.string().min(1).optional(),
  S3_REGION: z.string().min(1).optional(),
  S3_ENDPOINT: z.url().optional(),
  S3_FORCE_PATH_STYLE: bool.optional(),
  AWS_ACCESS_KEY_ID: z.string().min(1).optional(),
  AWS_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  HAUL_DOWNLOAD_URLS: z.enum(['edge', 's3-presigned']).optional(),
  HAUL_JWT_SECRET: z.string().min(32, 'HAUL_JWT_SECRET must be at least 32 characters').optional(),
  HAUL_JWKS_URL: z.url().optional(),
  HAUL_JWT_ISSUER: z.string().min(1).optional(),
  HAUL_JWT_AUDIENCE: z.string().min(1).optional(),
  HAUL_SIGNING_KEYS: keyring.optional(),
  HAUL_SIGNING_ACTIVE_KID: z.string().min(1).optional(),
  HAUL_SIGNING_RETIRED_KIDS: z.string().optional(),
  HAUL_URL_TTL: duration('HAUL_URL_TTL').optional(),
  HAUL_SESSION_TTL: duration('HAUL_SESSION_TTL').optional(),
  HAUL_MAX_QUERY_DEPTH: z.coerce.number().int().min(2).max(100).optional(),
  HAUL_MAX_ALIASES: z.coerce.number().int().min(1).max(1000).optional(),
  HAUL_MAX_BODY_BYTES: z.coerce.number().int().min(1024).optional(),
  HAUL_WS_KEEPALIVE: duration('HAUL_WS_KEEPALIVE').optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
  HAUL_INGEST_ATTEMPTS: z.coerce.number().int().min(1).max(20).optional(),
  HAUL_INGEST_BACKOFF: duration('HAUL_INGEST_BACKOFF').optional(),
  HAUL_WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(64).optional(),
  HAUL_JOB_LOCK_DURATION: duration('HAUL_JOB_LOCK_DURATION').optional(),
  HAUL_JOB_STALLED_INTERVAL: duration('HAUL_JOB_STALLED_INTERVAL').optional(),
  HAUL_WORKER_SHUTDOWN_GRACE: duration('HAUL_WORKER_SHUTDOWN_GRACE').optional(),
  HAUL_EXPIRE_EVERY: duration('HAUL_EXPIRE_EVERY').optional(),
  HAUL_FLUSH_INTERVAL: duration('HAUL_FLUSH_INTERVAL').optional(),
  HAUL_REDIS_SHARDS: z.coerce.number().int().min(1).max(16384).optional(),
  HAUL_EXPIRE_BATCH: z.coerce.number().int().min(1).max(10_000).optional(),
  HAUL_EXPIRE_GRACE: duration('HAUL_EXPIRE_GRACE').optional(),
  HAUL_API_URL: z.url().optional(),
  HAUL_TOKEN: z.string().min(1).optional(),
});

export type StorageConfig =
  | { kind: 'fs'; root: string }
  | {
      kind: 's3';
      bucket: string;
      region: string;
      endpoint?: string | undefined;
      forcePathStyle: boolean;
      credentials?: { accessKeyId: string; secretAccessKey: string } | undefined;
    };

export interface SigningConfig {
  /** key id → secret; sign with `activeKid`, verify with any key not in `retired`. */
  keys: Record<string, string>;
  activeKid: string;
  retired: string[];
  /** Lifetime of a download URL. Default 12 h (DESIGN §4). */
  urlTtlMs: number;
}

export interface AuthConfig {
  /** HS256 shared secret (embedded mode generates one in the data dir). */
  jwtSecret?: string | undefined;
  /** JWKS URL of an external identity provider; used instead of the secret when set. */
  jwksUrl?: string | undefined;
  issuer?: string | undefined;
  audience?: string | undefined;
}

export interface Config {
  /** embedded: PGlite + in-process pub/sub and jobs; production: PostgreSQL (+ Redis). */
  mode: 'embedded' | 'production';
  host: string;
  port: number;
  dataDir: string;
  /** Base URL clients reach the API on; defaults to http://<host>:<port>. */
  publicUrl?: string | undefined;
  /** Base URL of the edge tier that serves signed URLs; defaults to the API's own origin. */
  edgeUrl?: string | undefined;
  database: { kind: 'postgres'; url: string } | { kind: 'pglite'; dir: string };
  redisUrl?: string | undefined;
  /** Prefix of every Redis key and channel haul uses (default `haul:`), so deployments can share a Redis. */
  redisPrefix: string;
  /** Shard tags the hot progress keys are spread over (default 16; ≥ 4 per Redis Cluster primary). */
  redisShards: number;
  storage: StorageConfig;
  downloadUrls: 'edge' | 's3-presigned';
  auth: AuthConfig;
  signing: SigningConfig;
  /** Session lifetime, extended by activity. Default 72 h. */
  sessionTtlMs: number;
  limits: {
    maxDepth: number;
    maxAliases: number;
    maxBodyBytes: number;
    /** WebSocket keep-alive: each connection is pinged this often, and dropped if it did not pong since. */
    wsKeepAliveMs: number;
  };
  logLevel: string;
  /** Background jobs (ingest, session expiry): retries, worker concurrency, schedules. */
  jobs: JobsConfig;
  /** What `haul ingest` and other API clients use: HAUL_API_URL, HAUL_TOKEN. */
  client: { apiUrl?: string | undefined; token?: string | undefined };
  /** The edge tier (docs/edge-cache.md). */
  edge: EdgeConfig;
}

export interface EdgeConfig {
  /** Slice cache budget in bytes (default 256 MiB; 0 disables caching). */
  cacheBytes: number;
  /** Slice size (default 1 MiB). */
  sliceBytes: number;
  /** Files larger than this bypass this tier's cache (default: the cache budget). */
  bypassBytes: number;
  /** Slices fetched ahead of the one being sent, per request (default 2). */
  readAhead: number;
  /** Hop secrets: the first signs requests to an upstream shield; all are accepted by a shield. */
  hopSecrets: string[];
  /** Refuse /d/ requests without a valid hop header: this edge is a shield behind other edges. */
  requireHop: boolean;
}

/** Overrides from command-line flags; they win over the environment. */
export interface ConfigOverrides {
  port?: number;
  host?: string;
  dataDir?: string;
  /** Secrets generated into the data dir (embedded mode) when the environment names none. */
  generated?: { jwtSecret: string; signingKid: string; signingSecret: string };
  /** Whether JWT settings are required (default true); `haul edge` verifies signed URLs only. */
  requireAuth?: boolean;
  /** Whether URL-signing keys are required (default true); `haul worker` and `haul ingest` sign nothing. */
  requireSigning?: boolean;
}

export interface JobsConfig {
  /** Attempts per ingest job, the first included. Default 3. */
  ingestAttempts: number;
  /** Delay before the first retry; doubles per retry. Default 2 s. */
  ingestBackoffMs: number;
  /** Ingest jobs one process runs at once. Default 1 (one ingest already uses two cores). */
  ingestConcurrency: number;
  /** A worker's lock on a running job; a dead worker's job is retried once it lapses. Default 30 s. */
  lockDurationMs: number;
  /** How often workers look for jobs whose lock lapsed. Default 30 s. */
  stalledIntervalMs: number;
  /** On SIGTERM, how long running jobs may finish before they are handed back. Default 25 s. */
  shutdownGraceMs: number;
  /** Period of the session expiry sweep. Default 1 min. */
  expireEveryMs: number;
  /** Sessions per expiry statement. Default 1000. */
  expireBatch: number;
  /** Sweep only sessions expired for longer than this. Default 1 min with Redis (write-behind progress), else 0. */
  expireGraceMs: number;
  /** Period of the write-behind progress flush (Redis → PostgreSQL). Default 2 s. */
  flushEveryMs: number;
}

const HOUR = 3_600_000;

/** Validates the environment once, reporting every problem together. Never echoes a secret. */
export function loadConfig(env: Record<string, string | undefined>, overrides: ConfigOverrides = {}): Config {
  const parsed = EnvSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== '')));
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = issue.path.join('.');
      // zod messages never include the rejected value, so secrets stay out of logs.
      problems.push(issue.message.startsWith(key) ? issue.message : `${key}: ${issue.message}`);
    }
    throw new ConfigError(problems);
  }
  const e = parsed.data;
  const dataDir = resolve(overrides.dataDir ?? e.HAUL_DATA_DIR ?? '.haul');
  const mode = e.DATABASE_URL ? 'production' : 'embedded';

  const storageKind = e.HAUL_STORAGE ?? (e.S3_BUCKET ? 's3' : 'fs');
  let storage: StorageConfig;
  if (storageKind === 's3') {
    if (!e.S3_BUCKET) problems.push('S3_BUCKET is required when HAUL_STORAGE=s3');
    if ((e.AWS_ACCESS_KEY_ID === undefined) !== (e.AWS_SECRET_ACCESS_KEY === undefined))
      problems.push('AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together');
    storage = {
      kind: 's3',
      bucket: e.S3_BUCKET ?? '',
      region: e.S3_REGION ?? 'us-east-1',
      endpoint: e.S3_ENDPOINT,
      forcePathStyle: e.S3_FORCE_PATH_STYLE ?? Boolean(e.S3_ENDPOINT),
      credentials:
        e.AWS_ACCESS_KEY_ID && e.AWS_SECRET_ACCESS_KEY
          ? { accessKeyId: e.AWS_ACCESS_KEY_ID, secretAccessKey: e.AWS_SECRET_ACCESS_KEY }
          : undefined,
    };
  } else {
    storage = { kind: 'fs', root: resolve(e.HAUL_STORAGE_DIR ?? join(dataDir, 'objects')) };
  }
  const downloadUrls = e.HAUL_DOWNLOAD_URLS ?? 'edge';
  if (downloadUrls === 's3-presigned' && storage.kind !== 's3')
    problems.push('HAUL_DOWNLOAD_URLS=s3-presigned needs S3 storage (HAUL_STORAGE=s3)');

  const gen = overrides.generated;
  const jwtSecret = e.HAUL_JWT_SECRET ?? gen?.jwtSecret;
  if (!jwtSecret && !e.HAUL_JWKS_URL && overrides.requireAuth !== false)
    problems.push('set HAUL_JWT_SECRET (32+ characters) or HAUL_JWKS_URL');

  const keys = e.HAUL_SIGNING_KEYS ?? (gen ? { [gen.signingKid]: gen.signingSecret } : {});
  const kids = Object.keys(keys);
  const activeKid = e.HAUL_SIGNING_ACTIVE_KID ?? (kids.length === 1 ? kids[0] : undefined) ?? gen?.signingKid ?? '';
  const retired = (e.HAUL_SIGNING_RETIRED_KIDS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (kids.length === 0) {
    // `haul worker` and `haul ingest` sign nothing: keys are checked when given, not required.
    if (overrides.requireSigning !== false) problems.push('set HAUL_SIGNING_KEYS (kid:secret,…) to sign download URLs');
  } else if (!keys[activeKid]) problems.push('HAUL_SIGNING_ACTIVE_KID must name one of the keys in HAUL_SIGNING_KEYS');
  else if (retired.includes(activeKid)) problems.push('the active signing key cannot also be retired');

  if (e.HAUL_EDGE_REQUIRE_HOP && !e.HAUL_EDGE_HOP_SECRET) problems.push('HAUL_EDGE_REQUIRE_HOP needs HAUL_EDGE_HOP_SECRET');
  if ((e.HAUL_EDGE_HOP_SECRET ?? '').split(',').some((x) => x.trim().length > 0 && x.trim().length < 16))
    problems.push('HAUL_EDGE_HOP_SECRET: each secret must be 16+ characters');
  if (problems.length) throw new ConfigError(problems);

  return {
    mode,
    host: overrides.host ?? e.HOST ?? '127.0.0.1',
    port: overrides.port ?? e.PORT ?? 8080,
    dataDir,
    publicUrl: e.HAUL_PUBLIC_URL?.replace(/\/$/, ''),
    edgeUrl: e.HAUL_EDGE_URL?.replace(/\/$/, ''),
    database: e.DATABASE_URL ? { kind: 'postgres', url: e.DATABASE_URL } : { kind: 'pglite', dir: join(dataDir, 'pglite') },
    redisUrl: e.REDIS_URL,
    redisPrefix: e.HAUL_REDIS_PREFIX ?? 'haul:',
    redisShards: e.HAUL_REDIS_SHARDS ?? 16,
    storage,
    downloadUrls,
    auth: { jwtSecret, jwksUrl: e.HAUL_JWKS_URL, issuer: e.HAUL_JWT_ISSUER, audience: e.HAUL_JWT_AUDIENCE },
    signing: { keys, activeKid, retired, urlTtlMs: e.HAUL_URL_TTL ?? 12 * HOUR },
    sessionTtlMs: e.HAUL_SESSION_TTL ?? 72 * HOUR,
    limits: {
      maxDepth: e.HAUL_MAX_QUERY_DEPTH ?? 12,
      maxAliases: e.HAUL_MAX_ALIASES ?? 30,
      maxBodyBytes: e.HAUL_MAX_BODY_BYTES ?? 64 * 1024,
      wsKeepAliveMs: e.HAUL_WS_KEEPALIVE ?? 15_000,
    },
    logLevel: e.LOG_LEVEL ?? 'info',
    jobs: {
      ingestAttempts: e.HAUL_INGEST_ATTEMPTS ?? 3,
      ingestBackoffMs: e.HAUL_INGEST_BACKOFF ?? 2_000,
      ingestConcurrency: e.HAUL_WORKER_CONCURRENCY ?? 1,
      lockDurationMs: e.HAUL_JOB_LOCK_DURATION ?? 30_000,
      stalledIntervalMs: e.HAUL_JOB_STALLED_INTERVAL ?? 30_000,
      shutdownGraceMs: e.HAUL_WORKER_SHUTDOWN_GRACE ?? 25_000,
      expireEveryMs: e.HAUL_EXPIRE_EVERY ?? 60_000,
      expireBatch: e.HAUL_EXPIRE_BATCH ?? 1000,
      // With Redis, activity reaches PostgreSQL by the flush: the sweep leaves a minute for it.
      expireGraceMs: e.HAUL_EXPIRE_GRACE ?? (e.REDIS_URL ? 60_000 : 0),
      flushEveryMs: e.HAUL_FLUSH_INTERVAL ?? 2_000,
    },
    client: { apiUrl: e.HAUL_API_URL?.replace(/\/$/, ''), token: e.HAUL_TOKEN },
    edge: {
      cacheBytes: e.HAUL_EDGE_CACHE_BYTES ?? 256 * 1024 * 1024,
      sliceBytes: e.HAUL_EDGE_SLICE_BYTES ?? 1024 * 1024,
      bypassBytes: e.HAUL_EDGE_BYPASS_BYTES ?? e.HAUL_EDGE_CACHE_BYTES ?? 256 * 1024 * 1024,
      readAhead: e.HAUL_EDGE_READ_AHEAD ?? 2,
      hopSecrets: (e.HAUL_EDGE_HOP_SECRET ?? '')
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
      requireHop: e.HAUL_EDGE_REQUIRE_HOP ?? false,
    },
  };
}
