import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChunkProofDocument, FileChunksDocument, type FileChunksQuery } from '../../src/client/generated/graphql.ts';
import { verifyChunk, verifyManifest } from '../../src/client/verify.ts';
import { cleanEnv, type HaulProcess, startHaulProcess } from '../helpers/process.ts';
import { type GraphQLResult, gql } from '../helpers/server.ts';

const run = promisify(execFile);
const HAUL = new URL('../../bin/haul.js', import.meta.url).pathname;

async function haul(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run('node', [HAUL, ...args], { env: { ...cleanEnv(), ...env }, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}
/**
 * A port nothing listens on: 1 is privileged and never handed out by bind(0). (An ephemeral port
 * bound and released here could be bound again at once by a test running alongside, whose server
 * would then answer, or not.)
 */
const CLOSED_API = 'http://127.0.0.1:1';
const lastLine = (s: string) => s.trim().split('\n').at(-1) as string;

let dir: string;
let dataDir: string;
let serve: HaulProcess;
let userToken: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'haul-cli-ingest-'));
  dataDir = join(dir, 'data');
  serve = await startHaulProcess(['serve', '--data-dir', dataDir], {});
  userToken = lastLine((await haul(['token', '--sub', 'alice', '--data-dir', dataDir])).stdout);
});
afterAll(async () => {
  await serve?.[Symbol.asyncDispose]();
  await rm(dir, { recursive: true, force: true });
});

describe('haul ingest against a running haul serve (real processes)', () => {
  it('uploads, ingests and prints JSON whose checksum, manifest and proofs verify', async () => {
    // Over 8 MiB: serve hashes it on its two worker threads.
    const path = join(dir, 'payload.bin');
    const bytes = randomBytes(9 * 1024 * 1024 + 123);
    await writeFile(path, bytes);
    const r = await haul(['ingest', path, '--json', '--api', serve.url, '--data-dir', dataDir, '--chunk-size', '256KiB']);
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    const out = JSON.parse(lastLine(r.stdout));
    const { stdout: sum } = await run('sha256sum', [path]);
    expect(out).toMatchObject({
      name: 'payload.bin',
      storageKey: 'uploads/payload.bin',
      status: 'READY',
      size: bytes.length,
      checksum: sum.split(' ')[0],
      chunkSize: 256 * 1024,
      chunkCount: 37,
    });
    expect(out.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(out.merkleRoot).toMatch(/^[0-9a-f]{64}$/);

    // The manifest, paged, verifies against the printed root; each proof verifies its bytes.
    const chunks: { index: number; startByte: number; endByte: number; sha256: string }[] = [];
    let after: string | null = null;
    for (;;) {
      const page: GraphQLResult<FileChunksQuery> = await gql(serve.url, userToken, FileChunksDocument, {
        id: out.id,
        first: 10,
        after,
      });
      const c = page.data!.file!.chunks;
      chunks.push(...c.edges.map((e) => e.node));
      if (!c.pageInfo.hasNextPage) break;
      after = c.pageInfo.endCursor ?? null;
    }
    expect(verifyManifest(chunks, out.merkleRoot, { size: out.size, chunkSize: out.chunkSize })).toBe(true);
    const local = await readFile(path);
    for (const index of [0, 17, 36]) {
      const proof = (await gql(serve.url, userToken, ChunkProofDocument, { fileId: out.id, index })).data!.chunkProof;
      expect(verifyChunk(local.subarray(proof.startByte, proof.endByte + 1), proof, out.merkleRoot)).toBe(true);
    }
  });

  it('prints the id alone on the last line without --json; ingesting the key again rebuilds the same file', async () => {
    const path = join(dir, 'small.txt');
    await writeFile(path, 'hello, haul\n');
    const first = await haul(['ingest', path, '--api', serve.url, '--data-dir', dataDir]);
    expect(first.code).toBe(0);
    const id = lastLine(first.stdout);
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(first.stderr).toContain('sha256 ');
    await writeFile(path, 'hello again, haul\n');
    const again = await haul(['ingest', path, '--json', '--api', serve.url, '--data-dir', dataDir]);
    const out = JSON.parse(lastLine(again.stdout));
    expect(out.id).toBe(id);
    expect(out.checksum).toBe((await run('sha256sum', [path])).stdout.split(' ')[0]);
    expect(out).toMatchObject({ size: 18, chunkCount: 1, storageKey: 'uploads/small.txt' });
  });

  it('fails clearly: a user token is FORBIDDEN, a wrong checksum ends FAILED, no service, no file, bad flags', async () => {
    const path = join(dir, 'x.bin');
    await writeFile(path, randomBytes(1000));
    const forbidden = await haul(['ingest', path, '--api', serve.url, '--data-dir', dataDir, '--token', userToken]);
    expect(forbidden.code).toBe(1);
    expect(forbidden.stderr).toContain('FORBIDDEN');

    const wrong = await haul([
      'ingest',
      path,
      '--json',
      '--api',
      serve.url,
      '--data-dir',
      dataDir,
      '--checksum',
      'ab'.repeat(32),
    ]);
    expect(wrong.code).toBe(1);
    expect(JSON.parse(lastLine(wrong.stdout))).toMatchObject({ status: 'FAILED', failReason: expect.stringMatching(/expected/) });

    const down = await haul(['ingest', path, '--api', CLOSED_API, '--data-dir', dataDir]);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/cannot reach .*ECONNREFUSED.*is `haul serve` running/);

    const cases: [string[], RegExp][] = [
      [['ingest'], /path of the file to ingest is required/],
      [['ingest', join(dir, 'nope.bin')], /not a readable file/],
      [['ingest', path, '--chunk-size', 'big'], /--chunk-size must be a size/],
      [['ingest', path, '--chunk-size', '100'], /--chunk-size must be a size from 1KiB to 1GiB/],
      [['ingest', path, '--checksum', 'abc'], /--checksum must be 64 hex/],
      [['ingest', path, '--key', '../x'], /invalid storage key/],
      [['ingest', path, '--data-dir', join(dir, 'empty'), '--api', serve.url], /no admin token/],
    ];
    // Usage errors never reach the service: run them side by side.
    const results = await Promise.all(cases.map(([args]) => haul(args)));
    for (const [i, [args, message]] of cases.entries()) {
      expect(results[i]?.code, args.join(' ')).toBe(2);
      expect(results[i]?.stderr).toMatch(message);
    }
  });
});

describe('haul worker', () => {
  it('needs REDIS_URL and DATABASE_URL, and says so', async () => {
    const r = await haul(['worker']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('REDIS_URL is required');
    expect(r.stderr).toContain('DATABASE_URL is required');
    const bad = await haul(['worker', '--queues', 'nope']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown queue "nope"/);
    const help = await haul(['worker', '--help']);
    expect(help.stdout).toContain('usage: haul worker');
  });
});
