import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StartDownloadDocument } from '../../src/client/generated/graphql.ts';
import { bytesOf, sha256 } from '../helpers/api.ts';
import { gql, startTestServer, type TestServer } from '../helpers/server.ts';

/**
 * Real download clients against a URL handed out by `startDownload` on a real `haul serve`
 * runtime, each ending with the file's SHA-256: what a new user does with curl, wget and aria2c.
 */

const run = promisify(execFile);
const MiB = 1024 * 1024;
const SIZE = 8 * MiB + 123;
const BYTES = bytesOf(SIZE, 7);
const SUM = sha256(BYTES);

let server: TestServer;
let dir: string;
let fileId: string;
let token: string;

/** A fresh download URL from the control plane. */
async function downloadUrl(clientId: string): Promise<string> {
  const r = await gql(server.url, token, StartDownloadDocument, { fileId, clientId });
  expect(r.errors).toBeUndefined();
  return r.data!.startDownload.downloadUrl;
}

const fileSum = async (file: string) => sha256(await readFile(file));

/**
 * Runs a rate-limited download and kills it (SIGKILL, like a dropped connection or a crash) once
 * at least 256 KiB are on disk: a real interrupted transfer, whatever the machine's load.
 */
async function interrupted(cmd: string, args: string[], out: string): Promise<number> {
  const child = spawn(cmd, args, { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 20_000;
  for (;;) {
    const size = (await stat(out).catch(() => null))?.size ?? 0;
    if (size >= 256 * 1024 || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill('SIGKILL');
  await exited;
  return (await stat(out)).size;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'haul-clients-'));
  server = await startTestServer();
  token = await server.token('alice');
  fileId = await server.addFile('payload.bin', BYTES, { chunkSize: MiB });
});

afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
  await rm(dir, { recursive: true, force: true });
});

describe('real clients on a signed URL from startDownload', () => {
  it('curl downloads the whole file, with the headers a client needs', async () => {
    const url = await downloadUrl('curl-whole');
    const out = path.join(dir, 'curl-whole.bin');
    const { stdout } = await run('curl', ['-sS', '--fail', '-D', '-', '-o', out, url]);
    expect(stdout).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(stdout).toContain(`etag: "${SUM}"\r\n`);
    expect(stdout).toContain('content-disposition: attachment; filename="payload.bin"\r\n');
    expect(stdout).toContain(`repr-digest: sha-256=:${Buffer.from(SUM, 'hex').toString('base64')}:\r\n`);
    expect(await fileSum(out)).toBe(SUM);
  });

  it('curl -r fetches ranges that put together make the file', async () => {
    const url = await downloadUrl('curl-ranges');
    const cuts = [0, 1, 3 * MiB, 3 * MiB + 1, 7 * MiB, SIZE];
    const pieces: Buffer[] = [];
    for (let i = 0; i + 1 < cuts.length; i++) {
      const out = path.join(dir, `curl-range-${i}.bin`);
      const last = i + 2 === cuts.length;
      const spec = last ? `${cuts[i]}-` : `${cuts[i]}-${cuts[i + 1]! - 1}`;
      const { stdout } = await run('curl', ['-sS', '--fail', '-r', spec, '-o', out, '-w', '%{http_code}', url]);
      expect(stdout).toBe('206');
      pieces.push(await readFile(out));
    }
    expect(sha256(Buffer.concat(pieces))).toBe(SUM);
  });

  it('curl -C - resumes a transfer that was cut off', async () => {
    const url = await downloadUrl('curl-resume');
    const out = path.join(dir, 'curl-resume.bin');
    // The cut-off transfer is a first curl that stopped after some bytes. Not a timed SIGKILL as
    // for wget: curl 7.88's --limit-rate lets ~9 MB through before it starts pacing, so the 8 MiB
    // file was sometimes whole before the kill landed.
    const partial = MiB + 12_345;
    await run('curl', ['-sS', '--fail', '-r', `0-${partial - 1}`, '-o', out, url]);
    expect((await stat(out)).size).toBe(partial);
    const { stdout } = await run('curl', ['-sS', '--fail', '-C', '-', '-o', out, '-w', '%{http_code} %{size_download}', url]);
    expect(stdout).toBe(`206 ${SIZE - partial}`);
    expect(await fileSum(out)).toBe(SUM);
  });

  it('wget -c resumes a transfer that was cut off', async () => {
    const url = await downloadUrl('wget-resume');
    const out = path.join(dir, 'wget-resume.bin');
    const partial = await interrupted('wget', ['-q', '--limit-rate=1m', '-O', out, url], out);
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(SIZE);
    await run('wget', ['-q', '-c', '-O', out, url]);
    expect(await fileSum(out)).toBe(SUM);
    // Once complete, another -c has nothing left to fetch (416 understood as "done").
    await run('wget', ['-q', '-c', '-O', out, url]);
    expect(await fileSum(out)).toBe(SUM);
  });

  it('wget -c continues a file holding the first bytes', async () => {
    const url = await downloadUrl('wget-prefix');
    const out = path.join(dir, 'wget-prefix.bin');
    await writeFile(out, BYTES.subarray(0, 3 * MiB + 5));
    await run('wget', ['-q', '-c', '-O', out, url]);
    expect(await fileSum(out)).toBe(SUM);
  });

  it('aria2c -x8 -s8 downloads over several connections at once', async () => {
    const url = await downloadUrl('aria2c');
    let connections = 0;
    const count = () => connections++;
    server.runtime.app.server.on('connection', count);
    try {
      await run('aria2c', [
        '-x8',
        '-s8',
        '-k1M',
        '--file-allocation=none',
        '--allow-overwrite=true',
        '--auto-file-renaming=false',
        '--console-log-level=warn',
        '--summary-interval=0',
        '-d',
        dir,
        '-o',
        'aria2c.bin',
        url,
      ]);
    } finally {
      server.runtime.app.server.off('connection', count);
    }
    expect(connections).toBeGreaterThanOrEqual(4);
    expect(await fileSum(path.join(dir, 'aria2c.bin'))).toBe(SUM);
  });
});
