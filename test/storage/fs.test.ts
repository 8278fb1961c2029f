import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HaulError } from '../../src/errors.ts';
import { validateStorageKey } from '../../src/storage/blob-store.ts';
import { FsBlobStore } from '../../src/storage/fs.ts';

async function collect(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

const rejectsAsBadKey = async (p: Promise<unknown>) => {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HaulError);
  expect((err as HaulError).code).toBe('BAD_USER_INPUT');
};

describe('FsBlobStore', () => {
  let base: string;
  let root: string;
  let outside: string;
  let store: FsBlobStore;
  const data = randomBytes(200_003);

  beforeAll(async () => {
    base = mkdtempSync(path.join(tmpdir(), 'haul-fs-'));
    root = path.join(base, 'root');
    outside = path.join(base, 'outside');
    mkdirSync(outside);
    writeFileSync(path.join(outside, 'secret'), 'top secret');
    store = new FsBlobStore(root);
    await store.put('dir/sub/data.bin', data);
  });
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it('refuses keys that could leave the root or alias another key', async () => {
    const bad = [
      '',
      '../x',
      '/etc/passwd',
      'a/../../b',
      'a/..',
      'a/./b',
      'a//b',
      'a/',
      'a\\..\\b',
      'a\\b',
      'a\0b',
      'a\nb',
      'a\u007fb',
      'x'.repeat(1025),
      'é'.repeat(513), // 1026 UTF-8 bytes
      '\ud800',
    ];
    for (const key of bad) {
      expect(() => validateStorageKey(key), JSON.stringify(key)).toThrow(HaulError);
      await rejectsAsBadKey(store.stat(key));
      await rejectsAsBadKey(store.read(key));
      await rejectsAsBadKey(store.put(key, Buffer.from('x')));
    }
    expect(readdirSync(base).sort()).toEqual(['outside', 'root']);
    expect(() => validateStorageKey('x'.repeat(1024))).not.toThrow();
    expect(() => validateStorageKey('films/2026/été.mkv')).not.toThrow();
  });

  it('refuses symlinks inside the root that point outside it', async () => {
    symlinkSync(path.join(outside, 'secret'), path.join(root, 'link-file'));
    symlinkSync(outside, path.join(root, 'link-dir'));
    symlinkSync(path.join(outside, 'nope'), path.join(root, 'link-dangling'));
    await rejectsAsBadKey(store.read('link-file'));
    await rejectsAsBadKey(store.stat('link-file'));
    await rejectsAsBadKey(store.has('link-dir/secret'));
    await rejectsAsBadKey(store.stat('link-dangling'));
    // Writing through a linked directory would create files outside the root.
    await rejectsAsBadKey(store.put('link-dir/new', Buffer.from('x')));
    await rejectsAsBadKey(store.put('link-dir/deeper/new', Buffer.from('x')));
    expect(readdirSync(outside).sort()).toEqual(['secret']);
    // A symlink that stays inside the root is just another name for an object.
    symlinkSync(path.join(root, 'dir'), path.join(root, 'alias'));
    expect((await store.stat('alias/sub/data.bin'))?.size).toBe(data.length);
  });

  it('stats, and reports absent keys and directories as missing', async () => {
    const st = await store.stat('dir/sub/data.bin');
    expect(st?.size).toBe(data.length);
    expect(st?.lastModified).toBeInstanceOf(Date);
    expect(await store.has('dir/sub/data.bin')).toBe(true);
    expect(await store.stat('dir/sub')).toBeNull();
    expect(await store.stat('nope/nothing')).toBeNull();
    expect(await store.stat('dir/sub/data.bin/below')).toBeNull();
    await expect(store.read('nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('returns exactly the requested bytes for ranged reads', async () => {
    expect((await collect(await store.read('dir/sub/data.bin'))).equals(data)).toBe(true);
    const n = data.length;
    for (const [start, end] of [
      [0, 0],
      [0, 9],
      [1, 1],
      [65535, 65536],
      [100_000, n - 1],
      [n - 1, n - 1],
      [12_345, 150_000],
    ] as const) {
      const got = await collect(await store.read('dir/sub/data.bin', { start, end }));
      expect(got.equals(data.subarray(start, end + 1)), `${start}-${end}`).toBe(true);
    }
    // An end past the last byte is clipped; a start past it is unsatisfiable.
    expect((await collect(await store.read('dir/sub/data.bin', { start: n - 3, end: n + 100 }))).length).toBe(3);
    await expect(store.read('dir/sub/data.bin', { start: n, end: n + 1 })).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
    });
    await expect(store.read('dir/sub/data.bin', { start: 5, end: 4 })).rejects.toThrow(HaulError);
    await expect(store.read('dir/sub/data.bin', { start: -1, end: 4 })).rejects.toThrow(HaulError);
  });

  it('puts atomically: readers see the old object until the new one is complete', async () => {
    const key = 'atomic/obj.bin';
    const file = path.join(root, key);
    await store.put(key, Buffer.from('old contents'));

    const body = new PassThrough();
    const done = store.put(key, body);
    body.write(Buffer.alloc(100_000, 1));
    await new Promise((r) => setTimeout(r, 50));
    // Mid-write: the target still has the old bytes, and the new ones sit in a temp file.
    expect(readFileSync(file, 'utf8')).toBe('old contents');
    expect(readdirSync(path.dirname(file)).some((f) => f.endsWith('.tmp'))).toBe(true);
    body.end(Buffer.alloc(5, 2));
    await done;
    expect(readFileSync(file).equals(Buffer.concat([Buffer.alloc(100_000, 1), Buffer.alloc(5, 2)]))).toBe(true);
    expect(readdirSync(path.dirname(file))).toEqual(['obj.bin']);
  });

  it('leaves the old object and no temp file behind when the body fails', async () => {
    const key = 'atomic/fail.bin';
    await store.put(key, Buffer.from('keep me'));
    const body = new PassThrough();
    const done = store.put(key, body);
    body.write(Buffer.alloc(10_000, 7));
    setTimeout(() => body.destroy(new Error('client went away')), 20);
    await expect(done).rejects.toThrow('client went away');
    expect(readFileSync(path.join(root, key), 'utf8')).toBe('keep me');
    expect(readdirSync(path.join(root, 'atomic')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('replaces a symlink at the target instead of writing through it', async () => {
    symlinkSync(path.join(root, 'dir/sub/data.bin'), path.join(root, 'replace-me'));
    await store.put('replace-me', Buffer.from('new'));
    expect(readFileSync(path.join(root, 'replace-me'), 'utf8')).toBe('new');
    expect((await store.stat('dir/sub/data.bin'))?.size).toBe(data.length);
  });
});
