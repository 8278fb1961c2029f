import { appendFile, mkdtemp, open, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChunkVerifier } from '../../src/client/chunk-verifier.ts';
import { FileHasher } from '../../src/client/file-hasher.ts';
import { isCovered } from '../../src/client/job.ts';
import { Journal, type JournalHeader, readJournal } from '../../src/client/journal.ts';
import { PartFile } from '../../src/client/part-file.ts';
import { PartWriter } from '../../src/client/part-writer.ts';
import { reprDigestSha256 } from '../../src/client/range-request.ts';
import { backoffDelay, DEFAULT_RETRY, parseRetryAfter } from '../../src/client/retry.ts';
import { type ChunkChecker, VerifyQueue } from '../../src/client/verify-queue.ts';
import { bytesOf, sha256 } from '../helpers/api.ts';

/** The engine's building blocks on their own, on real files. */
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'haul-parts-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const header: JournalHeader = { kind: 'manifest', id: 'f', version: 'a'.repeat(64), size: 1000, chunkSize: 100, chunkCount: 10 };

describe('journal', () => {
  it('reads back what was appended, including chunks marked bad again', async () => {
    const path = join(dir, 'j1');
    const { journal, outcome } = await Journal.open(path, header);
    expect(outcome).toBe('new');
    for (const i of [0, 3, 5, 7]) journal.append(i);
    journal.append(5, false);
    await journal.close();
    const again = await Journal.open(path, header);
    expect(again.outcome).toBe('resumed');
    expect([...again.done].sort()).toEqual([0, 3, 7]);
    await again.journal.close();
  });

  it('keeps chunks written but not checked apart from done ones, until their check passes or fails', async () => {
    const path = join(dir, 'j-written');
    const { journal } = await Journal.open(path, header);
    for (const i of [2, 4, 6]) journal.written(i);
    journal.append(2); // checked: done
    journal.append(6, false); // failed its check: neither
    await journal.close();
    const again = await Journal.open(path, header);
    expect([...again.done]).toEqual([2]);
    expect([...again.written]).toEqual([4]);
    await again.journal.close();
  });

  it('stops at a torn or corrupt record, and cuts it off before appending', async () => {
    const path = join(dir, 'j2');
    const { journal } = await Journal.open(path, header);
    for (const i of [1, 2, 4]) journal.append(i);
    await journal.close();
    const full = (await readFile(path)).length;
    await appendFile(path, Buffer.from([9, 0, 0])); // a torn 8-byte record
    expect([...(await readJournal(path))!.done]).toEqual([1, 2, 4]);
    await truncate(path, full);
    const buf = await readFile(path);
    buf[buf.length - 1]! ^= 0x55; // the last record's CRC no longer matches
    await writeFile(path, buf);
    expect([...(await readJournal(path))!.done]).toEqual([1, 2]);
    const reopened = await Journal.open(path, header);
    reopened.journal.append(6);
    await reopened.journal.close();
    expect([...(await readJournal(path))!.done].sort()).toEqual([1, 2, 6]);
  });

  it('a journal of another version, or one that does not parse, is replaced', async () => {
    const path = join(dir, 'j3');
    const { journal } = await Journal.open(path, header);
    journal.append(1);
    await journal.close();
    const other = await Journal.open(path, { ...header, version: 'b'.repeat(64) });
    expect(other).toMatchObject({ outcome: 'other-version', done: new Set() });
    await other.journal.close();
    await writeFile(path, 'garbage');
    const bad = await Journal.open(path, header);
    expect(bad.outcome).toBe('unreadable');
    await bad.journal.close();
  });
});

describe('part writer', () => {
  it('lands every byte at its offset whatever the piece sizes, run after run', async () => {
    const path = join(dir, 'stage.bin');
    const size = 3 * 1024 * 1024 + 77;
    const bytes = bytesOf(size, 5);
    const { part } = await PartFile.open(path, size + 100, { fresh: true });
    const w = new PartWriter(part, Buffer.alloc(64 * 1024));
    // Two runs, the second first: pieces from 1 byte (gathered) to 90 KB (written in place).
    const runs: [number, number][] = [
      [size >> 1, size],
      [0, size >> 1],
    ];
    for (const [from, to] of runs) {
      w.reset(100 + from);
      for (let at = from; at < to; ) {
        const n = Math.min(
          to - at,
          Math.random() < 0.5 ? 1 + Math.floor(Math.random() * 2000) : 1 + Math.floor(Math.random() * 90_000),
        );
        expect(w.push(bytes.subarray(at, at + n))).toBe(true);
        at += n;
      }
      await w.flush();
    }
    await part.close();
    const back = await readFile(path);
    expect(sha256(back.subarray(100))).toBe(sha256(bytes));
  });

  it('has a piece in the file when push returns, gathered ones after flush', async () => {
    const path = join(dir, 'stage-now.bin');
    const { part } = await PartFile.open(path, 200_000, { fresh: true });
    const w = new PartWriter(part, Buffer.alloc(64 * 1024));
    w.reset(0);
    const big = bytesOf(100_000, 7);
    w.push(big);
    expect(sha256((await readFile(path)).subarray(0, 100_000))).toBe(sha256(big));
    const small = bytesOf(500, 8);
    w.push(small);
    await w.flush();
    expect(sha256((await readFile(path)).subarray(100_000, 100_500))).toBe(sha256(small));
    await part.close();
  });

  it('a failed write stops the writer with an IO error instead of throwing from push', async () => {
    const path = join(dir, 'stage-fail.bin');
    const { part } = await PartFile.open(path, 200_000, { fresh: true });
    const w = new PartWriter(part, Buffer.alloc(64 * 1024));
    w.reset(0);
    w.push(bytesOf(10, 1)); // gathered, not written yet
    await part.close(); // the descriptor is gone: the next write fails (EBADF)
    expect(w.push(bytesOf(100_000, 2))).toBe(false);
    expect(w.push(bytesOf(10, 3))).toBe(false);
    await expect(w.drained()).rejects.toMatchObject({ code: 'IO' });
    await expect(w.flush()).rejects.toMatchObject({ code: 'IO' });
  });
});

describe('whole-file hasher', () => {
  it('runs ahead of the checks and goes back over a chunk that failed its own', async () => {
    const path = join(dir, 'hasher.bin');
    const chunk = 100_000;
    const good = bytesOf(4 * chunk, 21);
    const bad = Buffer.from(good);
    bad[2 * chunk + 5]! ^= 0xff; // chunk 2 arrives corrupt
    await writeFile(path, bad);
    const h = new FileHasher(path, { onBad: () => {}, onError: () => {} });
    try {
      for (let i = 0; i < 4; i++) h.add(i, i * chunk, chunk, undefined, true);
      // Chunk 2 fails its check after the hasher went past it: rewound, fetched again, added again.
      h.rewind(2);
      const fd = await open(path, 'r+');
      await fd.write(good.subarray(2 * chunk, 3 * chunk), 0, chunk, 2 * chunk);
      await fd.close();
      for (let i = 2; i < 4; i++) h.add(i, i * chunk, chunk, undefined, true);
      for (let i = 0; i < 4; i++) h.verified(i);
      expect(await h.finish(4 * chunk)).toBe(sha256(good));
    } finally {
      await h.close();
    }
  });
});

describe('verify queue', () => {
  it('shares chunk checks between the verifier and an idle whole-file hasher, oldest first', async () => {
    const path = join(dir, 'queue.bin');
    const chunk = 64 * 1024;
    const bytes = bytesOf(6 * chunk, 31);
    const chunks = Array.from({ length: 6 }, (_, i) => ({
      index: i,
      start: i * chunk,
      end: (i + 1) * chunk - 1,
      sha256: sha256(bytes.subarray(i * chunk, (i + 1) * chunk)),
    }));
    const onDisk = Buffer.from(bytes);
    onDisk[4 * chunk + 9]! ^= 1; // chunk 4 is bad on disk
    await writeFile(path, onDisk);
    const verifier = new ChunkVerifier(path);
    const hasher = new FileHasher(path, { onBad: () => {}, onError: () => {} });
    const used: string[] = [];
    const counting = (name: string, c: ChunkChecker): ChunkChecker => ({
      get free() {
        return c.free;
      },
      digest(a, b) {
        used.push(name);
        return c.digest(a, b);
      },
    });
    try {
      expect(hasher.free).toBe(true);
      const queue = new VerifyQueue([counting('verifier', verifier), counting('hasher', hasher)]);
      const results = await Promise.all(chunks.map((c) => queue.request(c)));
      expect(results).toEqual([true, true, true, true, false, true]);
      // The verifier takes two (one hashing, one queued), the idle hasher one, the rest as they free up.
      expect(used.slice(0, 3)).toEqual(['verifier', 'verifier', 'hasher']);
      expect(used).toHaveLength(6);
      queue.close(new Error('closed'));
      await expect(queue.request(chunks[0]!)).rejects.toThrow('closed');
    } finally {
      await verifier.close();
      await hasher.close();
    }
  });
});

describe('small rules', () => {
  it('backoff doubles with jitter, never below Retry-After, clipped at the cap', () => {
    const p = { ...DEFAULT_RETRY, baseDelayMs: 100, maxDelayMs: 1000 };
    expect(backoffDelay(1, p, undefined, () => 0)).toBe(50);
    expect(backoffDelay(1, p, undefined, () => 1)).toBe(100);
    expect(backoffDelay(3, p, undefined, () => 1)).toBe(400);
    expect(backoffDelay(10, p, undefined, () => 1)).toBe(1000);
    expect(backoffDelay(1, p, 3000, () => 0)).toBe(3000);
    expect(backoffDelay(1, p, 10 * 60_000, () => 0)).toBe(60_000);
    expect(parseRetryAfter('7')).toBe(7000);
    expect(parseRetryAfter(new Date(Date.now() + 5000).toUTCString())).toBeGreaterThan(3000);
    expect(parseRetryAfter('soon')).toBeUndefined();
  });

  it('coverage of byte ranges, and Repr-Digest', () => {
    expect(isCovered([[0, 9]], 0, 9)).toBe(true);
    expect(
      isCovered(
        [
          [5, 9],
          [0, 4],
        ],
        0,
        9,
      ),
    ).toBe(true);
    expect(
      isCovered(
        [
          [0, 3],
          [5, 9],
        ],
        0,
        9,
      ),
    ).toBe(false);
    expect(isCovered([[0, 20]], 5, 9)).toBe(true);
    const hex = sha256(Buffer.from('x'));
    expect(reprDigestSha256(`sha-512=:AAAA:, sha-256=:${Buffer.from(hex, 'hex').toString('base64')}:`)).toBe(hex);
    expect(reprDigestSha256('sha-256=:short:')).toBeUndefined();
  });
});
