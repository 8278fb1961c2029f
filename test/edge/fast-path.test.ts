import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamSource } from '../../src/edge/body.ts';
import { CachedOrigin } from '../../src/edge/cached-origin.ts';
import type { ChunkSource, ObjectMeta, ObjectRef, Origin } from '../../src/edge/origin.ts';
import { SliceCache } from '../../src/edge/slice-cache.ts';
import { StoreOrigin } from '../../src/edge/store-origin.ts';
import type { BlobReader } from '../../src/storage/blob-store.ts';
import { FsBlobStore } from '../../src/storage/fs.ts';
import { openFds, putVersioned, rawRequest, sha256, startEdge, targetOf } from '../helpers/edge.ts';

/**
 * The edge's fast paths (docs/edge.md "Limits and streaming"): `Origin.chunks` sent with
 * `sendChunks`, the slice cache handing out stored slices without streams, and the folder
 * store's positional reads from reused open files (`readInto`, `chunks`).
 */

/** A folder store that counts opened files and positional reads. */
class CountingStore extends FsBlobStore {
  opens = 0;
  reads = 0;
  closes = 0;
  override async openReader(key: string): Promise<BlobReader> {
    const r = await super.openReader(key);
    this.opens++;
    return {
      size: r.size,
      lastModified: r.lastModified,
      preferredReadSize: r.preferredReadSize,
      readConcurrency: r.readConcurrency,
      read: (into, position, signal) => {
        this.reads++;
        return r.read(into, position, signal);
      },
      close: () => {
        this.closes++;
        return r.close();
      },
    };
  }
}

/** Pulls every chunk of a source (awaiting the asynchronous ones). */
async function drain(src: ChunkSource): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (;;) {
    const c = await src.next();
    if (c === null) break;
    expect(c.length).toBeGreaterThan(0);
    parts.push(c);
  }
  src.close();
  return Buffer.concat(parts);
}

let dir: string;
let store: CountingStore;
const file = randomBytes(300_000 + 17);
let V: string;
const ref = (objectPath: string, version = V): ObjectRef => ({ objectPath, version, signedPath: `/d/${objectPath}` });

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'haul-fast-path-'));
  store = new CountingStore(dir);
  V = await putVersioned(store, 'f/file.bin', file);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('StoreOrigin on a folder store: positional reads of reused open files', () => {
  it('chunks() yields exactly the range, in chunks of at most readChunkBytes, from one open file', async () => {
    const origin = new StoreOrigin(store, { readChunkBytes: 64 * 1024 });
    const opens = store.opens;
    for (const [start, end] of [
      [0, file.length - 1],
      [0, 0],
      [65_535, 65_536],
      [100_000, 299_999],
      [file.length - 1, file.length - 1],
    ] as const) {
      const src = await origin.chunks(ref('f/file.bin'), { start, end });
      expect((await drain(src)).equals(file.subarray(start, end + 1))).toBe(true);
    }
    expect(store.opens - opens).toBe(1);
    origin.clear();
  });

  it('reads into chunks the consumer has recycled, never into one it still holds', async () => {
    const origin = new StoreOrigin(store, { readChunkBytes: 32 * 1024 });
    const src = await origin.chunks(ref('f/file.bin'), { start: 0, end: file.length - 1 });
    const copies: Buffer[] = [];
    const seen = new Set<ArrayBufferLike>();
    let reused = 0;
    for (;;) {
      const c = await src.next();
      if (c === null) break;
      if (seen.has(c.buffer)) reused++;
      seen.add(c.buffer);
      copies.push(Buffer.from(c));
      // Handed back only after it was copied, as the socket does once it has written it.
      src.recycle?.(c);
    }
    src.close();
    expect(Buffer.concat(copies).equals(file)).toBe(true);
    expect(reused).toBeGreaterThan(0);
    origin.clear();
  });

  it('a download over HTTP recycles its chunks and arrives intact', async () => {
    const big = randomBytes(3 * 1024 * 1024 + 5);
    const v = await putVersioned(store, 'f/big.bin', big);
    const origin = new StoreOrigin(store, { readChunkBytes: 16 * 1024 });
    await using e = await startEdge({ origin });
    const r = await rawRequest(e.base, targetOf(e.sign({ objectPath: 'f/big.bin', version: v })));
    expect(r.status).toBe(200);
    expect(sha256(r.body)).toBe(v);
    const part = await rawRequest(e.base, targetOf(e.sign({ objectPath: 'f/big.bin', version: v })), {
      headers: { range: 'bytes=100000-2999999' },
    });
    expect(part.body.equals(big.subarray(100_000, 3_000_000))).toBe(true);
    origin.clear();
  });

  it('readInto() fills the buffer with the bytes at the position', async () => {
    const origin = new StoreOrigin(store);
    const into = Buffer.alloc(1000);
    await origin.readInto(ref('f/file.bin'), 12_345, into);
    expect(into.equals(file.subarray(12_345, 13_345))).toBe(true);
    origin.clear();
  });

  it('refuses another version, an object never ingested, a reserved key and a range past the end, like read()', async () => {
    await store.put('f/raw.bin', randomBytes(10));
    const origin = new StoreOrigin(store);
    const cases: Array<[ObjectRef, { start: number; end: number }, string]> = [
      [ref('f/file.bin', 'f'.repeat(64)), { start: 0, end: 0 }, 'NOT_FOUND'],
      [ref('f/raw.bin'), { start: 0, end: 0 }, 'NOT_FOUND'],
      [ref('.haul/versions/f/file.bin.json'), { start: 0, end: 0 }, 'NOT_FOUND'],
      [ref('f/file.bin'), { start: 0, end: file.length }, 'BAD_USER_INPUT'],
    ];
    for (const [r, range, code] of cases) {
      await expect(origin.chunks(r, range)).rejects.toMatchObject({ code });
      await expect(origin.readInto(r, range.start, Buffer.alloc(range.end - range.start + 1))).rejects.toMatchObject({ code });
    }
    origin.clear();
  });

  it('an object replaced by rename: reads keep the opened version’s bytes, head() sees the change, a new open refuses', async () => {
    const first = randomBytes(50_000);
    const v1 = await putVersioned(store, 'f/swap.bin', first);
    let now = 1_000_000;
    const origin = new StoreOrigin(store, { openFileTtlMs: 1000, recordTtlMs: 60_000, now: () => now });
    const into = Buffer.alloc(100);
    await origin.readInto(ref('f/swap.bin', v1), 0, into);
    // Same size, new bytes and time, no new record: only the check of an opened file can notice.
    await store.put('f/swap.bin', randomBytes(50_000));
    await utimes(path.join(dir, 'f/swap.bin'), new Date(), new Date(Date.now() + 5000));
    expect((await origin.head(ref('f/swap.bin', v1)))?.version).toBeNull();
    // Within the TTL the open file (the old inode, which is v1) still serves v1: never the new bytes.
    const again = Buffer.alloc(50_000);
    await origin.readInto(ref('f/swap.bin', v1), 0, again);
    expect(sha256(again)).toBe(v1);
    // Past it, the file is opened again and checked: the version is gone.
    now += 1000;
    await expect(origin.readInto(ref('f/swap.bin', v1), 0, into)).rejects.toMatchObject({
      code: 'NOT_FOUND',
      details: { changed: true },
    });
    await expect(origin.chunks(ref('f/swap.bin', v1), { start: 0, end: 9 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    origin.clear();
  });

  it('closes files when their time is up, but only once every source using them is done', async () => {
    const origin = new StoreOrigin(store, { openFileTtlMs: 50, readChunkBytes: 16 * 1024 });
    const closes = store.closes;
    const src = await origin.chunks(ref('f/file.bin'), { start: 0, end: file.length - 1 });
    expect(origin.openFiles).toBe(1);
    const head = await src.next();
    await new Promise((r) => setTimeout(r, 120));
    // Retired (no longer offered to new reads) but still open for the source that holds it.
    expect(origin.openFiles).toBe(0);
    expect(store.closes).toBe(closes);
    const rest = await drain(src);
    expect(Buffer.concat([head as Buffer, rest]).equals(file)).toBe(true);
    await expect.poll(() => store.closes - closes).toBe(1);
  });

  it('leaves no file descriptor behind once sources are closed and the TTL has passed', async () => {
    const origin = new StoreOrigin(store, { openFileTtlMs: 30 });
    const baseline = await openFds();
    const sources = await Promise.all(Array.from({ length: 20 }, () => origin.chunks(ref('f/file.bin'), { start: 0, end: 999 })));
    // Some read, some abandoned mid-way: closing is enough either way.
    await Promise.all(sources.map((s, i) => (i % 2 ? drain(s) : s.close())));
    await new Promise((r) => setTimeout(r, 100));
    await expect.poll(() => openFds()).toBe(baseline);
  });

  it('openFileTtlMs 0: one open file per call, closed when the call is done', async () => {
    const origin = new StoreOrigin(store, { openFileTtlMs: 0 });
    const opens = store.opens;
    const closes = store.closes;
    await origin.readInto(ref('f/file.bin'), 0, Buffer.alloc(10));
    await drain(await origin.chunks(ref('f/file.bin'), { start: 0, end: 9 }));
    expect(store.opens - opens).toBe(2);
    await expect.poll(() => store.closes - closes).toBe(2);
    expect(origin.openFiles).toBe(0);
  });
});

describe('CachedOrigin over a folder store: slices filled by readInto, handed out as chunks', () => {
  const S = 16 * 1024;

  it('fills each slice with one positional read, shared by concurrent readers, then serves it from memory', async () => {
    const reads = store.reads;
    const origin = new CachedOrigin(new StoreOrigin(store), new SliceCache({ sliceBytes: S, maxBytes: 1024 ** 2 }));
    const results = await Promise.all(
      Array.from({ length: 8 }, async () => drain(await origin.chunks(ref('f/file.bin'), { start: 0, end: file.length - 1 }))),
    );
    for (const r of results) expect(r.equals(file)).toBe(true);
    const slices = Math.ceil(file.length / S);
    expect(store.reads - reads).toBe(slices);
    expect(origin.cache.stats()).toMatchObject({ misses: slices, originBytes: file.length });
    // Warm: every chunk comes back synchronously, no read reaches the store.
    const src = await origin.chunks(ref('f/file.bin'), { start: 5, end: file.length - 6 });
    const parts: Buffer[] = [];
    for (let c = src.next(); c !== null; c = src.next()) {
      expect(c).toBeInstanceOf(Buffer);
      parts.push(c as Buffer);
    }
    expect(Buffer.concat(parts).equals(file.subarray(5, file.length - 5))).toBe(true);
    expect(store.reads - reads).toBe(slices);
  });

  it('any range, cold or warm, equals file.subarray (fast-check)', async () => {
    const origin = new CachedOrigin(new StoreOrigin(store), new SliceCache({ sliceBytes: 4096, maxBytes: 64 * 1024 }), {
      readAhead: 1,
    });
    await fc.assert(
      fc.asyncProperty(fc.nat(file.length - 1), fc.nat(file.length - 1), async (a, b) => {
        const [start, end] = a <= b ? [a, b] : [b, a];
        const got = await drain(await origin.chunks(ref('f/file.bin'), { start, end }));
        expect(got.equals(file.subarray(start, end + 1))).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it('a source closed half-way leaves its fills, and the cache stays consistent', async () => {
    const origin = new CachedOrigin(new StoreOrigin(store), new SliceCache({ sliceBytes: S, maxBytes: 1024 ** 2 }), {
      readAhead: 4,
    });
    const src = await origin.chunks(ref('f/file.bin'), { start: 0, end: file.length - 1 });
    await src.next();
    src.close();
    expect(src.next()).toBeNull();
    await expect.poll(() => origin.cache.fillsInFlight).toBe(0);
    expect((await drain(await origin.chunks(ref('f/file.bin'), { start: 0, end: file.length - 1 }))).equals(file)).toBe(true);
  });
});

describe('streamSource: a stream as a chunk source', () => {
  it('yields every byte, then null', async () => {
    const parts = [randomBytes(10), randomBytes(1000), randomBytes(1)];
    expect((await drain(streamSource(Readable.from(parts)))).equals(Buffer.concat(parts))).toBe(true);
  });

  it('rejects when the stream fails or is destroyed before its end, and close() destroys it', async () => {
    const failing = new Readable({ read() {} });
    const src = streamSource(failing);
    const next = src.next();
    failing.destroy(new Error('boom'));
    await expect(next).rejects.toThrow('boom');
    const cut = new Readable({ read() {} });
    const src2 = streamSource(cut);
    const pending = src2.next();
    cut.destroy();
    await expect(pending).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
    const open = new Readable({ read() {} });
    streamSource(open).close();
    expect(open.destroyed).toBe(true);
  });
});

/** An origin whose chunks() is scripted: what each next() returns. */
class ScriptedOrigin implements Origin {
  closed = 0;
  constructor(
    readonly size: number,
    readonly script: () => Array<Buffer | null | Promise<Buffer | null>>,
  ) {}
  async head(): Promise<ObjectMeta> {
    return { size: this.size, version: 'c'.repeat(64), lastModified: new Date(0) };
  }
  async read(): Promise<Readable> {
    throw new Error('not used');
  }
  async chunks(): Promise<ChunkSource> {
    const steps = this.script();
    let closed = false;
    return {
      next: () => (closed ? null : (steps.shift() ?? null)),
      close: () => {
        if (!closed) this.closed++;
        closed = true;
      },
    };
  }
}

describe('handler with an origin that offers chunks (sendChunks)', () => {
  const url = (e: Awaited<ReturnType<typeof startEdge>>) => e.sign({ objectPath: 'x/y', version: 'c'.repeat(64) });

  it('sends synchronous and asynchronous chunks in order, and closes the source', async () => {
    const a = randomBytes(70_000);
    const b = randomBytes(5);
    const c = randomBytes(200_000);
    const origin = new ScriptedOrigin(a.length + b.length + c.length, () => [a, Promise.resolve(b), c]);
    await using e = await startEdge({ origin });
    const r = await rawRequest(e.base, targetOf(url(e)));
    expect(r.status).toBe(200);
    expect(r.body.equals(Buffer.concat([a, b, c]))).toBe(true);
    expect(origin.closed).toBe(1);
  });

  it.each([
    ['ends early', () => [Buffer.alloc(10), null]],
    ['sends more', () => [Buffer.alloc(10), Buffer.alloc(11)]],
    ['fails', () => [Buffer.alloc(10), Promise.reject(new Error('disk on fire'))]],
  ] as const)('an origin that %s breaks the connection instead of lying, and is closed', async (_what, script) => {
    const origin = new ScriptedOrigin(20, script as () => Array<Buffer | null | Promise<Buffer | null>>);
    await using e = await startEdge({ origin });
    // The socket is destroyed: the headers may not even have gone out (they leave with the first chunk).
    const outcome = await fetch(url(e)).then(
      async (res) => {
        expect(res.status).toBe(200);
        return res.arrayBuffer().then(
          () => 'complete',
          () => 'broken',
        );
      },
      () => 'broken',
    );
    expect(outcome).toBe('broken');
    await expect.poll(() => origin.closed).toBe(1);
  });

  it('back-pressure: a client that stops reading stops the pulls; hanging up closes the source', async () => {
    let pulled = 0;
    const chunk = Buffer.alloc(64 * 1024, 3);
    const origin = new ScriptedOrigin(
      1024 ** 3,
      () =>
        new Proxy([], {
          get: (t, p) =>
            p === 'shift'
              ? () => {
                  pulled++;
                  return chunk;
                }
              : Reflect.get(t, p),
        }),
    );
    await using e = await startEdge({ origin });
    const [before, after] = await new Promise<[number, number]>((resolve, reject) => {
      const req = request(url(e), (res) => {
        res.pause();
        setTimeout(() => {
          const b = pulled;
          setTimeout(() => {
            resolve([b, pulled]);
            req.destroy();
          }, 200);
        }, 300);
      });
      req.on('error', () => {});
      req.end();
      setTimeout(() => reject(new Error('timeout')), 10_000).unref();
    });
    expect(before).toBeGreaterThan(0);
    expect(after).toBe(before);
    expect(before * chunk.length).toBeLessThan(64 * 1024 ** 2);
    await expect.poll(() => origin.closed).toBe(1);
  });

  it('serves ranges of a real folder store through the cache over HTTP, cold and warm, byte for byte', async () => {
    const origin = new CachedOrigin(new StoreOrigin(store), new SliceCache({ sliceBytes: 8192, maxBytes: 1024 ** 2 }));
    await using e = await startEdge({ origin });
    const signed = targetOf(e.sign({ objectPath: 'f/file.bin', version: V }));
    for (const pass of ['cold', 'warm']) {
      for (const [a, b] of [
        [0, 0],
        [8191, 8192],
        [1000, 250_000],
        [file.length - 3, file.length + 50],
      ] as const) {
        const r = await rawRequest(e.base, signed, { headers: { range: `bytes=${a}-${b}` } });
        expect([pass, r.status]).toEqual([pass, 206]);
        expect(r.body.equals(file.subarray(a, Math.min(b, file.length - 1) + 1))).toBe(true);
      }
      const whole = await rawRequest(e.base, signed);
      expect(sha256(whole.body)).toBe(V);
    }
  });
});

describe('a file rewritten in place', () => {
  it('is refused once its open file has expired, like a conditional read', async () => {
    const bytes = randomBytes(1000);
    const v1 = await putVersioned(store, 'f/inplace.bin', bytes);
    let now = 0;
    const origin = new StoreOrigin(store, { openFileTtlMs: 10, now: () => now });
    await origin.readInto(ref('f/inplace.bin', v1), 0, Buffer.alloc(10));
    await writeFile(path.join(dir, 'f/inplace.bin'), randomBytes(1000));
    await utimes(path.join(dir, 'f/inplace.bin'), new Date(), new Date(Date.now() + 10_000));
    now += 10;
    await expect(origin.readInto(ref('f/inplace.bin', v1), 0, Buffer.alloc(10))).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
