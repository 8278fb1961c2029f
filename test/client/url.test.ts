import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { StartDownloadDocument } from '../../src/client/generated/graphql.ts';
import { type DownloadEvent, downloadUrl, HaulClientError, probeUrl, readJournal } from '../../src/client/index.ts';
import { bytesOf, sha256 } from '../helpers/api.ts';
import { type ClientRig, startClientRig } from '../helpers/client.ts';
import { gql } from '../helpers/server.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
let rig: ClientRig;

beforeAll(async () => {
  rig = await startClientRig();
});
beforeEach(() => rig.heal());
afterAll(async () => {
  await rig?.[Symbol.asyncDispose]();
});

async function signedUrl(name: string, bytes: Buffer) {
  const { fileId } = await rig.add(name, bytes, 64 * KiB);
  const t = await gql(rig.api, rig.token, StartDownloadDocument, { fileId, clientId: `url-${name}` });
  return t.data!.startDownload.downloadUrl;
}

/** A plain server for one representation: optional ranges, ETag kind, Repr-Digest; `bytes` may be swapped. */
async function plainServer(
  opts: { ranges: boolean; etag: 'strong' | 'weak' | 'none'; digest: boolean },
  bytes: { current: Buffer },
) {
  const server: Server = createServer((req, res) => {
    const b = bytes.current;
    const tag = createHash('sha256').update(b).digest('hex').slice(0, 16);
    const etag = opts.etag === 'strong' ? `"${tag}"` : opts.etag === 'weak' ? `W/"${tag}"` : undefined;
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
    if (etag) headers.etag = etag;
    if (opts.digest) headers['repr-digest'] = `sha-256=:${createHash('sha256').update(b).digest('base64')}:`;
    const ifMatch = req.headers['if-match'];
    if (ifMatch && ifMatch !== etag) {
      res.writeHead(412, headers).end();
      return;
    }
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    if (opts.ranges && m) {
      const start = Number(m[1]);
      const end = Math.min(Number(m[2]), b.length - 1);
      if (start >= b.length) {
        res.writeHead(416, { 'content-range': `bytes */${b.length}` }).end();
        return;
      }
      res.writeHead(206, {
        ...headers,
        'content-range': `bytes ${start}-${end}/${b.length}`,
        'content-length': String(end - start + 1),
      });
      res.end(b.subarray(start, end + 1));
      return;
    }
    res.writeHead(200, { ...headers, 'content-length': String(b.length) });
    res.end(b);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/files/data%20set.bin`;
  return { url, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('downloadUrl(): a bare URL, no manifest', () => {
  it('a haul signed URL: parallel, named by Content-Disposition, verified against Repr-Digest', async () => {
    const bytes = bytesOf(3 * MiB + 17, 41);
    const url = await signedUrl('signed.bin', bytes);
    const info = await probeUrl(url);
    expect(info).toMatchObject({ size: bytes.length, name: 'signed.bin', ranges: true, reprSha256: sha256(bytes) });
    const r = await downloadUrl({ url, out: (name) => rig.out(`u-${name}`), chunkSize: 256 * KiB });
    expect(r.path).toBe(rig.out('u-signed.bin'));
    expect(r).toMatchObject({ sha256: sha256(bytes), verified: true, bytes: bytes.length });
    expect(sha256(await readFile(r.path))).toBe(sha256(bytes));
    expect(rig.proxy.stats.ranges.filter((h) => h.startsWith('bytes=')).length).toBeGreaterThan(10);
    expect(new Set(rig.proxy.stats.ranges).size).toBe(rig.proxy.stats.ranges.length - 1); // the probe's 0-0 aside, no range twice
  });

  it('resumes from its journal after an abort', async () => {
    const bytes = bytesOf(2 * MiB, 42);
    const url = await signedUrl('url-resume.bin', bytes);
    rig.proxy.faults.perConnectionBps = 256 * KiB;
    const ctl = new AbortController();
    const out = rig.out('url-resume.bin');
    const err = await downloadUrl({
      url,
      out,
      chunkSize: 128 * KiB,
      signal: ctl.signal,
      progressIntervalMs: 20,
      onProgress: (p) => {
        if (p.doneBytes >= 512 * KiB) ctl.abort();
      },
    }).catch((e) => e);
    expect(err).toMatchObject({ code: 'ABORTED' });
    const journal = await readJournal(`${out}.part.journal`);
    expect(journal?.header).toMatchObject({ kind: 'url', size: bytes.length });
    rig.heal();
    const r = await downloadUrl({ url, out, chunkSize: 128 * KiB });
    expect(r.resumedBytes).toBe(journal!.done.size * 128 * KiB);
    expect(r.receivedBytes).toBe(bytes.length - r.resumedBytes);
    expect(r).toMatchObject({ sha256: sha256(bytes), verified: true });
  });

  it('a 0-byte file', async () => {
    const url = await signedUrl('empty.bin', Buffer.alloc(0));
    const r = await downloadUrl({ url, out: rig.out('u-empty.bin') });
    expect(r).toMatchObject({ bytes: 0, sha256: sha256(Buffer.alloc(0)), verified: true });
    expect((await readFile(r.path)).length).toBe(0);
  });

  it('a refused URL (403) is URL_REFUSED, exit code 3', async () => {
    const url = (await signedUrl('refused.bin', bytesOf(1000, 43))).replace(/sig=[^&]+/, 'sig=AAAA');
    const err = await downloadUrl({ url, out: rig.out('u-refused.bin') }).catch((e) => e);
    expect(err).toBeInstanceOf(HaulClientError);
    expect(err).toMatchObject({ code: 'URL_REFUSED', status: 403, exitCode: 3 });
  });

  it('a server without ranges: one stream, not resumable, said so', async () => {
    const bytes = { current: bytesOf(1 * MiB, 44) };
    const s = await plainServer({ ranges: false, etag: 'strong', digest: false }, bytes);
    try {
      const events: DownloadEvent[] = [];
      const r = await downloadUrl({ url: s.url, out: (name) => rig.out(`plain-${name}`), onEvent: (e) => events.push(e) });
      expect(r.path).toBe(rig.out('plain-data set.bin'));
      expect(r).toMatchObject({ sha256: sha256(bytes.current), verified: false });
      expect(events.some((e) => e.type === 'warning' && /ignores Range/.test(e.message))).toBe(true);
    } finally {
      await s.close();
    }
  });

  it('a plain server whose file changes mid-download (412 on If-Match): restarts on the new bytes', async () => {
    const bytes = { current: bytesOf(2 * MiB, 45) };
    const s = await plainServer({ ranges: true, etag: 'strong', digest: true }, bytes);
    const v2 = bytesOf(2 * MiB + 100, 46);
    try {
      const events: DownloadEvent[] = [];
      const r = await downloadUrl({
        url: s.url,
        out: rig.out('changing.bin'),
        chunkSize: 64 * KiB,
        connections: 2,
        onEvent: (e) => events.push(e),
        onProgress: (p) => {
          if (p.doneBytes > 256 * KiB) bytes.current = v2;
        },
        progressIntervalMs: 10,
      });
      expect(events.filter((e) => e.type === 'restart').length).toBeGreaterThanOrEqual(1);
      expect(r).toMatchObject({ sha256: sha256(v2), verified: true });
      expect(sha256(await readFile(r.path))).toBe(sha256(v2));
    } finally {
      await s.close();
    }
  });

  it('without a strong validator the download cannot resume, and says so', async () => {
    const bytes = { current: bytesOf(300 * KiB, 47) };
    const s = await plainServer({ ranges: true, etag: 'weak', digest: false }, bytes);
    try {
      const events: DownloadEvent[] = [];
      const r = await downloadUrl({ url: s.url, out: rig.out('weak.bin'), onEvent: (e) => events.push(e) });
      expect(r).toMatchObject({ sha256: sha256(bytes.current), verified: false });
      expect(events.some((e) => e.type === 'warning' && /cannot resume/.test(e.message))).toBe(true);
    } finally {
      await s.close();
    }
  });
});
