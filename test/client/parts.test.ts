import { appendFile, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCovered } from '../../src/client/job.ts';
import { Journal, type JournalHeader, readJournal } from '../../src/client/journal.ts';
import { PartFile } from '../../src/client/part-file.ts';
import { reprDigestSha256 } from '../../src/client/range-request.ts';
import { backoffDelay, DEFAULT_RETRY, parseRetryAfter } from '../../src/client/retry.ts';
import { StagedWriter } from '../../src/client/stage.ts';
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

describe('staged writer', () => {
  it('lands every byte at its offset whatever the piece sizes, pausing when both buffers are busy', async () => {
    const path = join(dir, 'stage.bin');
    const size = 3 * 1024 * 1024 + 77;
    const bytes = bytesOf(size, 5);
    const { part } = await PartFile.open(path, size + 100, { fresh: true });
    const w = new StagedWriter(part, [Buffer.alloc(64 * 1024), Buffer.alloc(64 * 1024)]);
    w.reset(100);
    let pauses = 0;
    for (let at = 0; at < size; ) {
      const n = Math.min(size - at, 1 + Math.floor(Math.random() * 90_000));
      if (!w.push(bytes.subarray(at, at + n))) {
        pauses++;
        await w.drained();
      }
      at += n;
    }
    await w.flush();
    await part.close();
    const back = await readFile(path);
    expect(sha256(back.subarray(100))).toBe(sha256(bytes));
    expect(pauses).toBeGreaterThan(0);
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
