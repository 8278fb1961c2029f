import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CachedOrigin } from '../../src/edge/cached-origin.ts';
import type { ObjectRef, Origin } from '../../src/edge/origin.ts';
import { SingleFlight } from '../../src/edge/single-flight.ts';
import { SliceCache, type SliceCacheEvent } from '../../src/edge/slice-cache.ts';
import { UpstreamError } from '../../src/edge/upstream-origin.ts';
import { HaulError } from '../../src/errors.ts';
import { collect, countingOrigin, makeStore, memoryOrigin, randomFile, refOf } from './cache-fixtures.ts';

const S = 64 * 1024;

/** An origin whose reads wait for `release()`; records each read's signal. */
function gatedOrigin(inner: Origin) {
  let open!: () => void;
  const gate = new Promise<void>((r) => {
    open = r;
  });
  const signals: AbortSignal[] = [];
  const origin: Origin = {
    head: (ref, s) => inner.head(ref, s),
    async read(ref, range, signal) {
      signals.push(signal!);
      await gate;
      signal?.throwIfAborted();
      return inner.read(ref, range, signal);
    },
  };
  return { origin, signals, release: () => open() };
}

describe('SliceCache: byte budget and LRU order', () => {
  const obj = (n: number) => ({ objectPath: `f${n}`, version: String(n).padStart(64, '0') });
  const fillOf = (len: number) => async () => Buffer.alloc(len, 1);

  it('evicts the least recently used slice and never exceeds the budget', async () => {
    const events: SliceCacheEvent[] = [];
    const cache = new SliceCache({ sliceBytes: 100, maxBytes: 300, onEvent: (e) => events.push(e) });
    const o = obj(1);
    for (const i of [0, 1, 2]) await cache.get(o, i, fillOf(100));
    expect(cache.stats()).toMatchObject({ misses: 3, hits: 0, bytesCached: 300, slices: 3 });
    await cache.get(o, 0, fillOf(100)); // 0 becomes the most recently used
    await cache.get(o, 3, fillOf(100)); // evicts 1, the least recently used
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 4, evictions: 1, bytesCached: 300 });
    expect(cache.peek(o, 1)).toBeUndefined();
    expect(cache.peek(o, 0)).toBeDefined();
    expect(cache.peek(o, 2)).toBeDefined();
    expect(cache.peek(o, 3)).toBeDefined();
    expect(events.filter((e) => e.type === 'evict')).toEqual([{ type: 'evict', bytes: 100, cachedBytes: 200 }]);
    // A short (last) slice takes only its own length; one bigger than the budget is not stored.
    await cache.get(obj(2), 0, fillOf(30));
    expect(cache.stats().bytesCached).toBeLessThanOrEqual(300);
    const huge = new SliceCache({ sliceBytes: 100, maxBytes: 50 });
    expect((await huge.get(o, 0, fillOf(100))).length).toBe(100);
    expect(huge.stats()).toMatchObject({ bytesCached: 0, slices: 0 });
  });

  it('matches a reference LRU model on random access sequences (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 1000 }),
        fc.array(fc.record({ file: fc.integer({ min: 0, max: 3 }), index: fc.integer({ min: 0, max: 5 }) }), {
          maxLength: 120,
        }),
        async (maxBytes, accesses) => {
          const cache = new SliceCache({ sliceBytes: 100, maxBytes });
          // Slice 5 of every file is short: 10 + 7·file bytes.
          const len = (file: number, index: number) => (index === 5 ? 10 + 7 * file : 100);
          const model: Array<{ key: string; len: number }> = [];
          let modelBytes = 0;
          for (const { file, index } of accesses) {
            const key = `${file}:${index}`;
            const at = model.findIndex((e) => e.key === key);
            const before = cache.stats();
            await cache.get(obj(file), index, fillOf(len(file, index)));
            const after = cache.stats();
            if (at >= 0) {
              expect(after.hits).toBe(before.hits + 1);
              model.push(...model.splice(at, 1));
            } else {
              expect(after.misses).toBe(before.misses + 1);
              const l = len(file, index);
              if (l <= maxBytes) {
                while (modelBytes + l > maxBytes) modelBytes -= model.shift()!.len;
                model.push({ key, len: l });
                modelBytes += l;
              }
            }
            expect(after.bytesCached).toBe(modelBytes);
            expect(after.bytesCached).toBeLessThanOrEqual(maxBytes);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('rejects nonsense sizes', () => {
    expect(() => new SliceCache({ sliceBytes: 0 })).toThrow(TypeError);
    expect(() => new SliceCache({ maxBytes: -1 })).toThrow(TypeError);
    expect(() => new SliceCache({ bypassBytes: 1.5 })).toThrow(TypeError);
  });
});

describe('SingleFlight', () => {
  it('aborts the shared call only when every waiter has aborted', async () => {
    const sf = new SingleFlight<string, number>();
    let callSignal!: AbortSignal;
    const fn = (s: AbortSignal) => {
      callSignal = s;
      return new Promise<number>((_resolve, reject) => s.addEventListener('abort', () => reject(s.reason)));
    };
    const a = new AbortController();
    const b = new AbortController();
    const pa = sf.run('k', fn, a.signal).promise;
    const pb = sf.run('k', fn, b.signal);
    expect(pb.joined).toBe(true);
    a.abort(new Error('a left'));
    await expect(pa).rejects.toThrow('a left');
    expect(callSignal.aborted).toBe(false);
    b.abort(new Error('b left'));
    await expect(pb.promise).rejects.toThrow('b left');
    expect(callSignal.aborted).toBe(true);
    expect(sf.size).toBe(0);
  });
});

describe('CachedOrigin over a real folder store', () => {
  it('collapses 50 concurrent reads of one slice, through different signed URLs, into one store read', async () => {
    await using ts = await makeStore();
    const file = randomFile(3 * S + 123);
    const ref = await ts.put('a/one.bin', file);
    const inner = countingOrigin(ts.origin);
    const cached = new CachedOrigin(inner, new SliceCache({ sliceBytes: S }));
    const refs: ObjectRef[] = Array.from({ length: 50 }, (_, i) => ({ ...ref, signedPath: `/d/a/one.bin?sig=${i}` }));
    const bodies = await Promise.all(refs.map((r) => cached.read(r, { start: S + 10, end: S + 1000 }).then(collect)));
    for (const b of bodies) expect(b.equals(file.subarray(S + 10, S + 1001))).toBe(true);
    expect(inner.reads).toEqual([{ objectPath: 'a/one.bin', start: S, end: 2 * S - 1 }]);
    expect(cached.cache.stats()).toMatchObject({ misses: 1, coalesced: 49, originBytes: S });
  });

  it('reads each slice of a file from the store once across many concurrent whole-file readers', async () => {
    await using ts = await makeStore();
    const file = randomFile(5 * S + 77);
    const ref = await ts.put('many.bin', file);
    const inner = countingOrigin(ts.origin);
    const cached = new CachedOrigin(inner, new SliceCache({ sliceBytes: S }));
    const bodies = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        cached.read({ ...ref, signedPath: `/d/many.bin?exp=${i}` }, { start: 0, end: file.length - 1 }).then(collect),
      ),
    );
    for (const b of bodies) expect(b.equals(file)).toBe(true);
    const starts = inner.reads.map((r) => r.start).sort((x, y) => x - y);
    expect(starts).toEqual([0, 1, 2, 3, 4, 5].map((i) => i * S));
    expect(inner.reads.find((r) => r.start === 5 * S)?.end).toBe(file.length - 1); // the short last slice
    expect(cached.cache.stats().originBytes).toBe(file.length);
    // Warm: no store reads at all.
    expect((await collect(await cached.read(ref, { start: 3, end: file.length - 1 }))).equals(file.subarray(3))).toBe(true);
    expect(inner.reads).toHaveLength(6);
    expect(inner.open).toBe(0);
  });

  it('bypasses the cache for files above the threshold: one unaligned inner read, nothing stored', async () => {
    await using ts = await makeStore();
    const file = randomFile(4 * S);
    const ref = await ts.put('big.bin', file);
    const inner = countingOrigin(ts.origin);
    const cached = new CachedOrigin(inner, new SliceCache({ sliceBytes: S, bypassBytes: 4 * S - 1 }));
    const body = await collect(await cached.read(ref, { start: 100, end: 3 * S + 5 }));
    expect(body.equals(file.subarray(100, 3 * S + 6))).toBe(true);
    expect(inner.reads).toEqual([{ objectPath: 'big.bin', start: 100, end: 3 * S + 5 }]);
    expect(cached.cache.stats()).toMatchObject({ bypassed: 1, slices: 0, bytesCached: 0, originBytes: 3 * S - 94 });
    // A file at the threshold is cached.
    const small = await ts.put('small.bin', file.subarray(0, 4 * S - 1));
    await collect(await cached.read(small, { start: 0, end: 10 }));
    expect(cached.cache.stats().slices).toBe(1);
  });

  it('an aborted waiter does not cancel the fill the others wait for', async () => {
    await using ts = await makeStore();
    const file = randomFile(2 * S);
    const ref = await ts.put('abort.bin', file);
    const gated = gatedOrigin(ts.origin);
    const inner = countingOrigin(gated.origin);
    const cached = new CachedOrigin(inner, new SliceCache({ sliceBytes: S }), { readAhead: 0 });
    const first = new AbortController();
    const a = cached.read(ref, { start: 0, end: 99 }, first.signal);
    const b = cached.read(ref, { start: 50, end: 199 });
    await sleep(20);
    first.abort(new Error('client A went away'));
    await expect(a).rejects.toThrow('client A went away');
    gated.release();
    expect((await collect(await b)).equals(file.subarray(50, 200))).toBe(true);
    expect(inner.reads).toHaveLength(1);
    expect(gated.signals[0]?.aborted).toBe(false);
    expect(cached.cache.stats().slices).toBe(1);
  });

  it('when every waiter aborts, the fill is cancelled and not stored', async () => {
    await using ts = await makeStore();
    const file = randomFile(S);
    const ref = await ts.put('all-abort.bin', file);
    const gated = gatedOrigin(ts.origin);
    const cached = new CachedOrigin(gated.origin, new SliceCache({ sliceBytes: S }));
    const ctls = [new AbortController(), new AbortController()];
    const reads = ctls.map((c) => cached.read(ref, { start: 0, end: 9 }, c.signal));
    await sleep(20);
    for (const c of ctls) c.abort(new Error('gone'));
    for (const r of reads) await expect(r).rejects.toThrow('gone');
    expect(gated.signals[0]?.aborted).toBe(true);
    gated.release();
    await sleep(10);
    expect(cached.cache.stats().slices).toBe(0);
    expect((await collect(await cached.read(ref, { start: 0, end: 9 }))).equals(file.subarray(0, 10))).toBe(true);
    expect(gated.signals).toHaveLength(2);
  });

  it('a failed fill reaches every waiter and is not cached', async () => {
    await using ts = await makeStore();
    const file = randomFile(S + 5);
    const ref = await ts.put('flaky.bin', file);
    let calls = 0;
    const flaky: Origin = {
      head: (r, s) => ts.origin.head(r, s),
      async read(r, range, s) {
        if (++calls === 1) {
          await sleep(20);
          throw new HaulError('UNAVAILABLE', 'store hiccup');
        }
        return ts.origin.read(r, range, s);
      },
    };
    const cached = new CachedOrigin(flaky, new SliceCache({ sliceBytes: S }), { readAhead: 0 });
    const results = await Promise.allSettled([1, 2, 3].map(() => cached.read(ref, { start: 0, end: 9 })));
    for (const r of results) expect(r.status === 'rejected' && (r.reason as Error).message).toBe('store hiccup');
    expect(calls).toBe(1);
    expect(cached.cache.stats().slices).toBe(0);
    expect((await collect(await cached.read(ref, { start: 0, end: 9 }))).equals(file.subarray(0, 10))).toBe(true);
    expect(calls).toBe(2);
  });

  it('an origin that sends the wrong number of bytes fails the fill', async () => {
    const file = randomFile(S);
    const ref = refOf('short.bin', file);
    const short: Origin = {
      head: async () => ({ size: S, version: ref.version, lastModified: new Date() }),
      read: async () => (await import('node:stream')).Readable.from([file.subarray(0, 100)]),
    };
    const cached = new CachedOrigin(short, new SliceCache({ sliceBytes: S }));
    await expect(cached.read(ref, { start: 0, end: 9 })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(cached.cache.stats().slices).toBe(0);
  });

  it('holds only a couple of slices for a reader that stops, and releases the store when destroyed', async () => {
    await using ts = await makeStore();
    const file = randomFile(40 * S);
    const ref = await ts.put('slow.bin', file);
    const inner = countingOrigin(ts.origin);
    const cached = new CachedOrigin(inner, new SliceCache({ sliceBytes: S, maxBytes: 64 * S }));
    const body = await cached.read(ref, { start: 0, end: file.length - 1 });
    // A consumer that takes one chunk and then never acknowledges it.
    body.pipe(new Writable({ highWaterMark: 1, write: () => {} }));
    await sleep(100);
    // The slice stuck in the writer, one in the stream's buffer, and the default read-ahead of 2.
    expect(inner.reads.length).toBeLessThanOrEqual(4);
    body.destroy();
    await sleep(20);
    expect(inner.open).toBe(0);
    expect(cached.cache.fillsInFlight).toBe(0);
  });

  it('refuses a version the store no longer has, and ranges past the end', async () => {
    await using ts = await makeStore();
    const file = randomFile(1000);
    const ref = await ts.put('v.bin', file);
    const cached = new CachedOrigin(ts.origin, new SliceCache({ sliceBytes: S }));
    await expect(cached.read({ ...ref, version: 'f'.repeat(64) }, { start: 0, end: 9 })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    await expect(cached.read(ref, { start: 1000, end: 1000 })).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    // An end past the last byte is clipped.
    expect((await collect(await cached.read(ref, { start: 990, end: 5000 }))).equals(file.subarray(990))).toBe(true);
  });

  it('a shared fill refused for the ref that started it is retried with each waiter’s own ref', async () => {
    await using ts = await makeStore();
    const file = randomFile(S + 10);
    const ref = await ts.put('expiring.bin', file);
    const seen: string[] = [];
    const strict: Origin = {
      head: (r, s) => ts.origin.head(r, s),
      async read(r, range, s) {
        seen.push(r.signedPath);
        await sleep(20);
        if (r.signedPath.includes('expired')) throw new UpstreamError(403, 'upstream answered 403', 'URL_EXPIRED');
        return ts.origin.read(r, range, s);
      },
    };
    const cached = new CachedOrigin(strict, new SliceCache({ sliceBytes: S }), { readAhead: 0 });
    const a = cached.read({ ...ref, signedPath: '/d/expiring.bin?expired' }, { start: 0, end: 9 });
    const b = cached.read({ ...ref, signedPath: '/d/expiring.bin?fresh' }, { start: 0, end: 9 });
    await expect(a).rejects.toMatchObject({ status: 403, upstreamCode: 'URL_EXPIRED' });
    expect((await collect(await b)).equals(file.subarray(0, 10))).toBe(true);
    expect(seen).toEqual(['/d/expiring.bin?expired', '/d/expiring.bin?fresh']);
  });

  it('concurrent heads of two versions of one path are not merged', async () => {
    const current = 'a'.repeat(64);
    let heads = 0;
    // Like a shield: the answer depends on the version the URL names (410 → version null).
    const versioned: Origin = {
      async head(r) {
        heads++;
        await sleep(10);
        return { size: 5, version: r.version === current ? current : null, lastModified: new Date(0) };
      },
      read: async () => {
        throw new Error('unused');
      },
    };
    const cached = new CachedOrigin(versioned, new SliceCache());
    const old = { objectPath: 'p', version: 'b'.repeat(64), signedPath: '/d/p?old' };
    const now = { objectPath: 'p', version: current, signedPath: '/d/p?new' };
    const [m1, m2, m3] = await Promise.all([cached.head(old), cached.head(now), cached.head(now)]);
    expect(m1?.version).toBeNull();
    expect(m2?.version).toBe(current);
    expect(m3?.version).toBe(current);
    expect(heads).toBe(2);
  });

  it('reuses a head result for a second, but re-asks for a version it did not report', async () => {
    await using ts = await makeStore();
    const file = randomFile(10);
    const ref = await ts.put('h.bin', file);
    const inner = countingOrigin(ts.origin);
    let now = 0;
    const cached = new CachedOrigin(inner, new SliceCache(), { now: () => now });
    const metas = await Promise.all([1, 2, 3].map(() => cached.head(ref)));
    expect(metas[0]).toMatchObject({ size: 10, version: ref.version });
    await cached.head(ref);
    expect(inner.heads).toBe(1);
    await cached.head({ ...ref, version: 'e'.repeat(64) });
    expect(inner.heads).toBe(2);
    now = 1000;
    await cached.head(ref);
    expect(inner.heads).toBe(3);
    expect(await cached.head({ ...ref, objectPath: 'missing.bin' })).toBeNull();
  });
});

describe('CachedOrigin stitches ranges exactly (fast-check)', () => {
  it('any range of any file equals file.subarray, cold or warm', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 64 }),
        fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 8 }), fc.integer({ min: 1, max: 700 })),
        fc.boolean(),
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 0, max: 3 }),
        async (sliceBytes, sizeSeed, multiple, a, b, readAhead) => {
          const size = multiple ? sizeSeed * sliceBytes : sizeSeed;
          const file = randomFile(size);
          const ref = refOf('p.bin', file);
          const inner = countingOrigin(memoryOrigin(new Map([['p.bin', file]])));
          const cache = new SliceCache({ sliceBytes, maxBytes: 3 * sliceBytes + 1, bypassBytes: Number.MAX_SAFE_INTEGER });
          const cached = new CachedOrigin(inner, cache, { readAhead });
          if (size === 0) {
            await expect(cached.read(ref, { start: 0, end: 0 })).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
            return;
          }
          const start = a % size;
          const end = start + (b % (size - start));
          for (const round of ['cold', 'warm']) {
            const got = await collect(await cached.read(ref, { start, end }));
            expect(got.equals(file.subarray(start, end + 1)), round).toBe(true);
          }
          for (const r of inner.reads) {
            expect(r.start % sliceBytes).toBe(0);
            expect(r.end).toBe(Math.min(r.start + sliceBytes, size) - 1);
          }
          expect(cache.stats().bytesCached).toBeLessThanOrEqual(3 * sliceBytes + 1);
        },
      ),
      { numRuns: 300 },
    );
  });
});
