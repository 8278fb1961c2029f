import type { Redis } from 'ioredis';

/**
 * The progress hot path on Redis (DESIGN §4): a report is one EVALSHA that checks the session
 * (owner, status, expiry, bounds), merges monotonically (done-chunk bitmap union, confirmed
 * offset max), bumps the event sequence, marks the session dirty for the flush job and
 * publishes the event. PostgreSQL sees progress only through the flush, in batches.
 *
 * Keys share a hash tag per shard so a script's keys live in one Redis Cluster slot:
 *   {p}{N}:m:<id>  meta hash (owner, status, file shape, expiry) — a cache of PostgreSQL,
 *                  with a short TTL, so a status change Redis missed is re-read within it
 *   {p}{N}:p:<id>  progress hash (confirmed, prefix, rate, seq, updatedMs, expMs)
 *   {p}{N}:c:<id>  done-chunk bitmap
 *   {p}{N}:dirty   ids with unflushed progress
 */

/** Default number of shard tags; a Redis Cluster wants several per primary (docs/scale.md). */
export const SHARDS = 16;
/** How long session meta stays cached; bounds how stale a status seen by the hot path can be. */
export const META_TTL_MS = 60_000;

export interface HotMeta {
  ownerId: string;
  status: string;
  sizeBytes: number;
  chunkSize: number;
  chunkCount: number;
  expiresAtMs: number;
}

export interface HotProgress {
  bytesConfirmed: number;
  /** Verified chunk indexes, ascending. */
  completedChunks: number[];
  transferRateBps: number | null;
  seq: number;
  updatedAtMs: number;
  expiresAtMs: number;
}

export type HotReportResult =
  | { ok: true; progress: HotProgress; status: string }
  | { ok: false; reason: 'MISS' | 'NOT_FOUND' | 'INVALID_TRANSITION' | 'EXPIRED' | 'INVALID_PROGRESS'; message?: string };

/** A published event: thin, with a per-session sequence number so clients can drop stale ones. */
export interface SessionEventMessage {
  sessionId: string;
  ownerId: string;
  kind: string;
  seq: number;
}

const REPORT = `
local m = redis.call('HMGET', KEYS[1], 'owner', 'status', 'size', 'chunkSize', 'chunkCount', 'expMs')
if not m[1] then return {'MISS'} end
local now = tonumber(ARGV[3])
if m[1] ~= ARGV[1] and ARGV[2] ~= '1' then return {'NOT_FOUND'} end
if m[2] == 'COMPLETED' then return {'INVALID_TRANSITION'} end
local p = redis.call('HMGET', KEYS[2], 'confirmed', 'prefix', 'expMs')
local confirmed, prefix, expMs = tonumber(p[1] or '0'), tonumber(p[2] or '0'), tonumber(p[3] or '0')
-- Reports extend the session's life here before the flush tells PostgreSQL.
if tonumber(m[6]) > expMs then expMs = tonumber(m[6]) end
if m[2] == 'EXPIRED' or expMs <= now then return {'EXPIRED'} end
local size, cs, cc = tonumber(m[3]), tonumber(m[4]), tonumber(m[5])
local offset, rate, ttl = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
if offset > size then return {'INVALID_PROGRESS', 'bytesConfirmed is beyond the file size'} end
for i = 10, #ARGV do
  local c = tonumber(ARGV[i])
  if c >= cc then return {'INVALID_PROGRESS', 'chunk index ' .. ARGV[i] .. ' is outside the manifest'} end
end
for i = 10, #ARGV do redis.call('SETBIT', KEYS[3], tonumber(ARGV[i]), 1) end
if #ARGV >= 10 and prefix < cc then
  local z = redis.call('BITPOS', KEYS[3], 0, prefix, -1, 'BIT')
  if z == -1 then z = redis.call('STRLEN', KEYS[3]) * 8 end
  if z > cc then z = cc end
  if z > prefix then prefix = z end
end
local fromPrefix = prefix * cs
if fromPrefix > size then fromPrefix = size end
if offset > confirmed then confirmed = offset end
if fromPrefix > confirmed then confirmed = fromPrefix end
if now + ttl > expMs then expMs = now + ttl end
local seq = redis.call('HINCRBY', KEYS[2], 'seq', 1)
redis.call('HSET', KEYS[2], 'confirmed', confirmed, 'prefix', prefix, 'updatedMs', now, 'expMs', expMs)
if rate >= 0 then redis.call('HSET', KEYS[2], 'rate', rate) end
redis.call('PEXPIRE', KEYS[2], ttl * 2)
redis.call('PEXPIRE', KEYS[3], ttl * 2)
redis.call('SADD', KEYS[4], ARGV[7])
-- Built by hand: cjson writes numbers with 14 significant digits, which would round seq.
local event = '{"sessionId":' .. cjson.encode(ARGV[7]) .. ',"ownerId":' .. cjson.encode(m[1]) ..
  ',"kind":"PROGRESS","seq":' .. string.format('%d', seq) .. '}'
redis.call('PUBLISH', ARGV[8], event)
redis.call('PUBLISH', ARGV[9] .. m[1], event)
-- Numbers go back as integer replies: Lua's tostring would round them to 14 digits.
return {'OK', confirmed, seq, expMs, m[2]}
`;

/**
 * Caches meta and folds PostgreSQL's progress into the hot state (bitmap OR, offset max), so
 * the prefix keeps growing from what was flushed before, even after Redis lost everything.
 */
const PRIME = `
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'status', ARGV[2], 'size', ARGV[3], 'chunkSize', ARGV[4], 'chunkCount', ARGV[5], 'expMs', ARGV[6])
redis.call('PEXPIRE', KEYS[1], ARGV[7])
redis.call('HSETNX', KEYS[2], 'seq', ARGV[8])
local confirmed = tonumber(redis.call('HGET', KEYS[2], 'confirmed') or '0')
if tonumber(ARGV[9]) > confirmed then redis.call('HSET', KEYS[2], 'confirmed', ARGV[9]) end
if string.len(ARGV[10]) > 0 then
  redis.call('SET', KEYS[4], ARGV[10])
  redis.call('BITOP', 'OR', KEYS[3], KEYS[3], KEYS[4])
  redis.call('DEL', KEYS[4])
  local prefix = tonumber(redis.call('HGET', KEYS[2], 'prefix') or '0')
  local z = redis.call('BITPOS', KEYS[3], 0, prefix, -1, 'BIT')
  if z == -1 then z = redis.call('STRLEN', KEYS[3]) * 8 end
  if z > tonumber(ARGV[5]) then z = tonumber(ARGV[5]) end
  if z > prefix then redis.call('HSET', KEYS[2], 'prefix', z) end
end
return 1
`;

/** Bumps the sequence for a write-through change (pause, resume, …); primes it when absent. */
const BUMP = `
if redis.call('HSETNX', KEYS[1], 'seq', ARGV[1]) == 1 then return tonumber(ARGV[1]) end
return redis.call('HINCRBY', KEYS[1], 'seq', 1)
`;

export function createHotProgress(redis: Redis, opts: { prefix?: string; sessionTtlMs: number; shards?: number }) {
  const prefix = opts.prefix ?? 'haul:';
  const shards = opts.shards ?? SHARDS;
  const shardOf = (id: string) => Number.parseInt(id.replace(/-/g, '').slice(-6), 16) % shards;
  const key = (id: string, kind: 'm' | 'p' | 'c') => `${prefix}{${shardOf(id)}}:${kind}:${id}`;
  const dirtyKey = (shard: number) => `${prefix}{${shard}}:dirty`;
  const userChannel = (ownerId: string) => `${prefix}user:${ownerId}`;
  const sessionChannel = (id: string) => `${prefix}session:${id}`;

  redis.defineCommand('haulReport', { numberOfKeys: 4, lua: REPORT });
  redis.defineCommand('haulBump', { numberOfKeys: 1, lua: BUMP });
  redis.defineCommand('haulPrime', { numberOfKeys: 4, lua: PRIME });
  const r = redis as Redis & {
    haulReport(...args: (string | number)[]): Promise<[string, string | number, number, number, string]>;
    haulBump(key: string, initial: number): Promise<number>;
    haulPrime(...args: (string | number | Buffer)[]): Promise<number>;
  };

  /** Sequence numbers start from the clock, so they keep rising even after Redis lost everything. */
  const initialSeq = () => Date.now() * 1000;

  const toProgress = (h: Record<string, string> | null, bits: Buffer | null): HotProgress | null =>
    h?.seq
      ? {
          bytesConfirmed: Number(h.confirmed ?? 0),
          completedChunks: bitsToIndexes(bits),
          transferRateBps: h.rate === undefined ? null : Number(h.rate),
          seq: Number(h.seq),
          updatedAtMs: Number(h.updatedMs ?? 0),
          expiresAtMs: Number(h.expMs ?? 0),
        }
      : null;

  /** Hot progress of many sessions in one pipelined round trip (null where there is none). */
  async function readMany(ids: readonly string[]): Promise<Array<HotProgress | null>> {
    if (ids.length === 0) return [];
    const p = redis.pipeline();
    for (const id of ids) p.hgetall(key(id, 'p')).getBuffer(key(id, 'c'));
    const res = (await p.exec()) ?? [];
    return ids.map((_, i) => {
      const [e1, h] = res[2 * i] ?? [null, null];
      const [e2, bits] = res[2 * i + 1] ?? [null, null];
      if (e1 || e2) throw e1 ?? e2;
      return toProgress(h as Record<string, string>, bits as Buffer | null);
    });
  }

  const readProgress = async (id: string) => (await readMany([id]))[0] ?? null;

  return {
    /** How many shard tags ids are spread over (the flush walks them all). */
    shards,
    userChannel,
    sessionChannel,
    sessionKeys: (id: string) => ({ meta: key(id, 'm'), progress: key(id, 'p'), chunks: key(id, 'c') }),

    /**
     * Caches a session's meta (from PostgreSQL) for the hot path, with a short TTL (META_TTL_MS),
     * and folds in the progress PostgreSQL already holds.
     */
    async prime(
      id: string,
      meta: HotMeta,
      stored?: { bytesConfirmed: number; completedChunks: readonly number[] },
    ): Promise<void> {
      await r.haulPrime(
        key(id, 'm'),
        key(id, 'p'),
        key(id, 'c'),
        `${key(id, 'c')}:tmp`,
        meta.ownerId,
        meta.status,
        meta.sizeBytes,
        meta.chunkSize,
        meta.chunkCount,
        meta.expiresAtMs,
        META_TTL_MS,
        initialSeq(),
        stored?.bytesConfirmed ?? 0,
        indexesToBits(stored?.completedChunks ?? []),
      );
    },

    /** Forgets cached meta (after a write-through status change it could not update). */
    async forget(id: string): Promise<void> {
      await redis.del(key(id, 'm'));
    },

    /** One round trip: check, merge, mark dirty, publish. */
    async report(
      id: string,
      viewer: { sub: string; admin: boolean },
      rep: { bytesConfirmed?: number | null; completedChunks?: readonly number[] | null; transferRateBps?: number | null },
      nowMs = Date.now(),
    ): Promise<HotReportResult> {
      const out = await r.haulReport(
        key(id, 'm'),
        key(id, 'p'),
        key(id, 'c'),
        dirtyKey(shardOf(id)),
        viewer.sub,
        viewer.admin ? '1' : '0',
        nowMs,
        rep.bytesConfirmed ?? 0,
        rep.transferRateBps ?? -1,
        opts.sessionTtlMs,
        id,
        sessionChannel(id),
        `${prefix}user:`,
        ...[...new Set(rep.completedChunks ?? [])],
      );
      const [status, a, b, c, sessionStatus] = out;
      if (status !== 'OK') return { ok: false, reason: status as 'MISS', message: a === undefined ? undefined : String(a) };
      const progress = await readProgress(id);
      if (!progress) return { ok: false, reason: 'MISS' };
      return {
        ok: true,
        status: sessionStatus,
        progress: { ...progress, bytesConfirmed: Number(a), seq: Number(b), expiresAtMs: Number(c) },
      };
    },

    readProgress,
    readMany,

    /** The next sequence number for a write-through change, and the meta refreshed with it. */
    async bump(id: string, meta?: HotMeta): Promise<number> {
      if (meta) await this.prime(id, meta);
      return r.haulBump(key(id, 'p'), initialSeq());
    },

    /** Takes up to `count` dirty ids of one shard for flushing (they are re-added on failure). */
    async takeDirty(shard: number, count: number): Promise<string[]> {
      return (await redis.spop(dirtyKey(shard), count)) ?? [];
    },

    async markDirty(ids: string[]): Promise<void> {
      if (ids.length === 0) return;
      const m = redis.multi();
      for (const id of ids) m.sadd(dirtyKey(shardOf(id)), id);
      await m.exec();
    },

    async publish(channel: string, message: SessionEventMessage): Promise<void> {
      await redis.publish(channel, JSON.stringify(message));
    },
  };
}

export type HotProgressStore = ReturnType<typeof createHotProgress>;

/** Decodes a Redis bitmap (most significant bit first in each byte) into set bit indexes. */
export function bitsToIndexes(bits: Buffer | null): number[] {
  const out: number[] = [];
  if (!bits) return out;
  for (let byte = 0; byte < bits.length; byte++) {
    const v = bits[byte] ?? 0;
    if (v === 0) continue;
    for (let bit = 0; bit < 8; bit++) if (v & (0x80 >> bit)) out.push(byte * 8 + bit);
  }
  return out;
}

/** Encodes chunk indexes as a Redis bitmap (for priming from PostgreSQL). */
export function indexesToBits(indexes: readonly number[]): Buffer {
  const max = indexes.reduce((a, b) => Math.max(a, b), -1);
  const bits = Buffer.alloc(Math.ceil((max + 1) / 8));
  for (const i of indexes) bits[i >> 3] = (bits[i >> 3] ?? 0) | (0x80 >> (i & 7));
  return bits;
}
