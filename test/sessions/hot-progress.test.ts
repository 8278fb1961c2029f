import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bitsToIndexes, createHotProgress, type HotMeta, indexesToBits } from '../../src/sessions/hot-progress.ts';
import { type FileShape, mergeProgress, type Progress } from '../../src/sessions/progress.ts';

const REDIS_URL = process.env.HAUL_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `haul-test-${randomUUID().slice(0, 8)}:`;
const FILE: FileShape = { sizeBytes: 11_500, chunkSize: 1000, chunkCount: 12 };
const alice = { sub: 'alice', admin: false };

let redis: Redis;
let sub: Redis;
let hot: ReturnType<typeof createHotProgress>;

const meta = (over: Partial<HotMeta> = {}): HotMeta => ({
  ownerId: 'alice',
  status: 'ACTIVE',
  sizeBytes: FILE.sizeBytes,
  chunkSize: FILE.chunkSize,
  chunkCount: FILE.chunkCount,
  expiresAtMs: Date.now() + 3_600_000,
  ...over,
});

beforeAll(async () => {
  redis = new Redis(REDIS_URL);
  sub = new Redis(REDIS_URL);
  hot = createHotProgress(redis, { prefix: PREFIX, sessionTtlMs: 3_600_000 });
});

afterAll(async () => {
  const keys = await redis.keys(`${PREFIX}*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
  sub.disconnect();
});

describe('progress hot path on Redis', () => {
  it('answers MISS until the session is primed, then merges monotonically', async () => {
    const id = randomUUID();
    expect(await hot.report(id, alice, { completedChunks: [0] })).toEqual({ ok: false, reason: 'MISS', message: undefined });
    await hot.prime(id, meta());
    const a = await hot.report(id, alice, { completedChunks: [1, 0] });
    expect(a.ok && a.progress).toMatchObject({ bytesConfirmed: 2000, completedChunks: [0, 1] });
    const b = await hot.report(id, alice, { bytesConfirmed: 5500 });
    expect(b.ok && b.progress.bytesConfirmed).toBe(5500);
    const late = await hot.report(id, alice, { bytesConfirmed: 100, completedChunks: [1] });
    expect(late.ok && late.progress).toMatchObject({ bytesConfirmed: 5500, completedChunks: [0, 1] });
    if (!(a.ok && b.ok && late.ok)) throw new Error('unreachable');
    expect(b.progress.seq).toBe(a.progress.seq + 1);
    expect(late.progress.seq).toBe(b.progress.seq + 1);
  });

  it('folds what PostgreSQL holds into the hot state when priming', async () => {
    const id = randomUUID();
    await hot.prime(id, meta(), { bytesConfirmed: 3000, completedChunks: [0, 1, 2, 5] });
    const r = await hot.report(id, alice, { completedChunks: [3, 4] });
    expect(r.ok && r.progress).toMatchObject({ bytesConfirmed: 6000, completedChunks: [0, 1, 2, 3, 4, 5] });
  });

  it('refuses others, finished and expired sessions, and out-of-range values, changing nothing', async () => {
    const id = randomUUID();
    await hot.prime(id, meta());
    await hot.report(id, alice, { completedChunks: [0] });
    const before = await hot.readProgress(id);
    expect((await hot.report(id, { sub: 'bob', admin: false }, { completedChunks: [1] })).ok).toBe(false);
    expect(await hot.report(id, alice, { bytesConfirmed: 11_501 })).toMatchObject({ ok: false, reason: 'INVALID_PROGRESS' });
    expect(await hot.report(id, alice, { completedChunks: [2, 12] })).toMatchObject({ ok: false, reason: 'INVALID_PROGRESS' });
    expect(await hot.readProgress(id)).toEqual(before);
    expect((await hot.report(id, { sub: 'root', admin: true }, { completedChunks: [1] })).ok).toBe(true);

    const done = randomUUID();
    await hot.prime(done, meta({ status: 'COMPLETED' }));
    expect(await hot.report(done, alice, {})).toMatchObject({ reason: 'INVALID_TRANSITION' });
    const old = randomUUID();
    await hot.prime(old, meta({ expiresAtMs: Date.now() - 1 }));
    expect(await hot.report(old, alice, {})).toMatchObject({ reason: 'EXPIRED' });
  });

  it('marks reported sessions dirty and publishes one event per report', async () => {
    const id = randomUUID();
    await hot.prime(id, meta());
    const got: string[] = [];
    await sub.subscribe(hot.sessionChannel(id));
    sub.on('message', (_, m) => got.push(m));
    await hot.report(id, alice, { completedChunks: [0] });
    await hot.report(id, alice, { completedChunks: [1] });
    await new Promise((r) => setTimeout(r, 100));
    const events = got.map((m) => JSON.parse(m));
    expect(events).toEqual([
      expect.objectContaining({ sessionId: id, ownerId: 'alice', kind: 'PROGRESS' }),
      expect.objectContaining({ sessionId: id, kind: 'PROGRESS' }),
    ]);
    // Sequence numbers are ~1.8e15 (clock in µs): exact, never rounded to 14 digits.
    expect(events[0].seq).toBeGreaterThan(1e15);
    expect(events[1].seq).toBe(events[0].seq + 1);
    const dirty: string[] = [];
    for (let s = 0; s < hot.shards; s++) dirty.push(...(await hot.takeDirty(s, 1000)));
    expect(dirty).toContain(id);
  });

  it('merges like the pure model for any report sequence, even concurrently', async () => {
    const report = fc.record({
      completedChunks: fc.option(fc.uniqueArray(fc.integer({ min: 0, max: FILE.chunkCount - 1 }), { maxLength: 6 }), {
        nil: undefined,
      }),
      bytesConfirmed: fc.option(fc.integer({ min: 0, max: FILE.sizeBytes }), { nil: undefined }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(report, { minLength: 1, maxLength: 10 }), async (reports) => {
        const id = randomUUID();
        await hot.prime(id, meta());
        await Promise.all(reports.map((r) => hot.report(id, alice, r)));
        const expected = reports.reduce<Progress>((p, r) => mergeProgress(p, r, FILE), {
          bytesConfirmed: 0,
          completedChunks: [],
        });
        const got = await hot.readProgress(id);
        expect({ bytesConfirmed: got?.bytesConfirmed, completedChunks: got?.completedChunks }).toEqual(expected);
      }),
      { numRuns: 60 },
    );
  });

  it('encodes bitmaps the way Redis stores them', async () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 5119 }), { maxLength: 200 }), (xs) => {
        expect(bitsToIndexes(indexesToBits(xs))).toEqual([...xs].sort((a, b) => a - b));
      }),
    );
    const k = `${PREFIX}bits`;
    for (const i of [0, 7, 8, 5119]) await redis.setbit(k, i, 1);
    expect(bitsToIndexes(await redis.getBuffer(k))).toEqual([0, 7, 8, 5119]);
  });
});
