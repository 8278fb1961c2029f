import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ObjectRef } from '../../src/edge/origin.ts';
import { StoreOrigin } from '../../src/edge/store-origin.ts';
import type { ByteRange, ReadOptions } from '../../src/storage/blob-store.ts';
import { FsBlobStore } from '../../src/storage/fs.ts';
import { putVersioned, sha256 } from '../helpers/edge.ts';

/** A folder store that counts reads of version records. */
class CountingStore extends FsBlobStore {
  recordReads = 0;
  override async read(key: string, range?: ByteRange, opts?: ReadOptions): Promise<Readable> {
    if (key.startsWith('.haul/')) this.recordReads++;
    return super.read(key, range, opts);
  }
}

const collect = async (s: Readable) => {
  const parts: Buffer[] = [];
  for await (const p of s) parts.push(p as Buffer);
  return Buffer.concat(parts);
};

let dir: string;
let store: CountingStore;
const bytes = randomBytes(10_000);
let V: string;
const ref = (objectPath: string, version = V): ObjectRef => ({ objectPath, version, signedPath: '/d/x' });

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'haul-store-origin-'));
  store = new CountingStore(dir);
  V = await putVersioned(store, 'a/file.bin', bytes);
  await store.put('a/raw.bin', randomBytes(10));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('StoreOrigin.head', () => {
  it('reports size, modification time and the current version from the ingest record', async () => {
    const origin = new StoreOrigin(store);
    const stat = await store.stat('a/file.bin');
    expect(await origin.head(ref('a/file.bin'))).toEqual({ size: 10_000, lastModified: stat!.lastModified, version: V });
  });

  it('an object never ingested has no version; a missing, refused or reserved key is null', async () => {
    const origin = new StoreOrigin(store);
    expect((await origin.head(ref('a/raw.bin')))?.version).toBeNull();
    for (const key of ['a/none.bin', 'a\\b', '.haul/versions/a/file.bin.json', 'a'])
      expect(await origin.head(ref(key))).toBeNull();
  });

  it('reuses a record within its TTL, re-reads it after, and shares one read among concurrent heads', async () => {
    let now = 1_000_000;
    const origin = new StoreOrigin(store, { recordTtlMs: 1000, now: () => now });
    const before = store.recordReads;
    await Promise.all(Array.from({ length: 20 }, () => origin.head(ref('a/file.bin'))));
    expect(store.recordReads - before).toBe(1);
    now += 999;
    await origin.head(ref('a/file.bin'));
    expect(store.recordReads - before).toBe(1);
    now += 1;
    await origin.head(ref('a/file.bin'));
    expect(store.recordReads - before).toBe(2);
  });

  it('sees a changed object at once, cache or not', async () => {
    const v1 = await putVersioned(store, 'a/changing.bin', randomBytes(100));
    const origin = new StoreOrigin(store, { recordTtlMs: 60_000 });
    expect((await origin.head(ref('a/changing.bin', v1)))?.version).toBe(v1);
    await store.put('a/changing.bin', randomBytes(100));
    await utimes(path.join(dir, 'a/changing.bin'), new Date(), new Date(Date.now() + 5000));
    expect((await origin.head(ref('a/changing.bin', v1)))?.version).toBeNull();
    const next = randomBytes(100);
    const v2 = await putVersioned(store, 'a/changing.bin', next);
    expect((await origin.head(ref('a/changing.bin', v2)))?.version).toBe(v2);
  });
});

describe('StoreOrigin.read', () => {
  it('streams the inclusive range', async () => {
    const origin = new StoreOrigin(store);
    expect((await collect(await origin.read(ref('a/file.bin'), { start: 0, end: 9_999 }))).equals(bytes)).toBe(true);
    expect((await collect(await origin.read(ref('a/file.bin'), { start: 10, end: 19 }))).equals(bytes.subarray(10, 20))).toBe(
      true,
    );
  });

  it('refuses another version, an object never ingested, a reserved key (NOT_FOUND) and a range past the end', async () => {
    const origin = new StoreOrigin(store);
    await expect(origin.read(ref('a/file.bin', 'f'.repeat(64)), { start: 0, end: 0 })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    await expect(origin.read(ref('a/raw.bin'), { start: 0, end: 0 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(origin.read(ref('.haul/versions/a/file.bin.json'), { start: 0, end: 0 })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    await expect(origin.read(ref('a/file.bin'), { start: 0, end: 10_000 })).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
  });

  it('with a warm cache, an object replaced since is refused by the conditional read, never served', async () => {
    const first = randomBytes(4000);
    const v1 = await putVersioned(store, 'a/swap.bin', first);
    const origin = new StoreOrigin(store, { recordTtlMs: 60_000 });
    expect((await collect(await origin.read(ref('a/swap.bin', v1), { start: 0, end: 3999 }))).equals(first)).toBe(true);
    // Same size, different bytes and time, no new record: only the conditional read can notice.
    await store.put('a/swap.bin', randomBytes(4000));
    await utimes(path.join(dir, 'a/swap.bin'), new Date(), new Date(Date.now() + 5000));
    await expect(origin.read(ref('a/swap.bin', v1), { start: 0, end: 3999 })).rejects.toMatchObject({
      code: 'NOT_FOUND',
      details: { changed: true },
    });
  });

  it('a stream opened before the object is replaced keeps reading the version it opened', async () => {
    const first = randomBytes(300_000);
    const v1 = await putVersioned(store, 'a/pinned.bin', first);
    const origin = new StoreOrigin(store);
    const s = await origin.read(ref('a/pinned.bin', v1), { start: 0, end: first.length - 1 });
    await putVersioned(store, 'a/pinned.bin', randomBytes(300_000));
    expect(sha256(await collect(s))).toBe(v1);
  });

  it('an aborted signal destroys the stream', async () => {
    const origin = new StoreOrigin(store);
    const ac = new AbortController();
    const s = await origin.read(ref('a/file.bin'), { start: 0, end: 9_999 }, ac.signal);
    const closed = new Promise((resolve) => s.once('close', resolve));
    s.on('error', () => {});
    ac.abort();
    await closed;
    expect(s.destroyed).toBe(true);
    await expect(origin.read(ref('a/file.bin'), { start: 0, end: 1 }, ac.signal)).rejects.toThrow();
  });
});
