import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Keyring, signDownloadUrl } from '../../src/edge/signing.ts';
import { FsBlobStore } from '../../src/storage/fs.ts';
import { HOUR, putVersioned, sha256 } from '../helpers/edge.ts';

/** `haul edge` as a real process: configuration, routes, a signed download with curl, SIGTERM. */

const run = promisify(execFile);
const HAUL = new URL('../../bin/haul.js', import.meta.url).pathname;

function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !/^(HAUL_|DATABASE_URL|REDIS_URL|S3_|AWS_|PORT$|HOST$)/.test(k)) env[k] = v;
  return env;
}

async function haul(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run('node', [HAUL, ...args], { env: { ...cleanEnv(), ...env }, timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** Starts `haul edge`; resolves with the process and its base URL once it listens. */
async function startEdgeProcess(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; base: string }> {
  const child = spawn('node', [HAUL, 'edge', '--port', '0', ...args], {
    env: { ...cleanEnv(), LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const base = await new Promise<string>((resolve, reject) => {
    const onData = (b: Buffer) => {
      output += b.toString();
      const m = /haul edge listening on (http:\/\/\S+)/.exec(output);
      if (m && output.includes('readyz')) resolve(m[1]!);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`haul edge exited ${code}: ${output}`)));
  });
  return { child, base };
}

let dir: string;
const bytes = randomBytes(1024 * 1024 + 3);
let V: string;
const secrets = { jwtSecret: 'j'.repeat(40), signingKid: 'kedge', signingSecret: 'edge-signing-secret-0123456789' };
const keyring = new Keyring({
  keys: { [secrets.signingKid]: secrets.signingSecret },
  activeKid: secrets.signingKid,
  retired: [],
});

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'haul-edge-cmd-'));
  await mkdir(join(dir, 'data'), { recursive: true });
  await writeFile(join(dir, 'data/secrets.json'), JSON.stringify(secrets), { mode: 0o600 });
  V = await putVersioned(new FsBlobStore(join(dir, 'data/objects')), 'files/one.bin', bytes);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('haul edge', () => {
  it('is listed in help and documents its flags', async () => {
    expect((await haul(['--help'])).stdout).toMatch(/\n {2}edge {2,}run the data plane alone/);
    const r = await haul(['edge', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('usage: haul edge [--port 8081] [--host 127.0.0.1] [--data-dir .haul] [--upstream URL]');
  });

  it('refuses to start without signing keys (exit 2), and never invents them', async () => {
    const empty = join(dir, 'empty');
    const r = await haul(['edge', '--data-dir', empty]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('HAUL_SIGNING_KEYS');
    expect(r.stderr).toContain('haul serve');
    expect((await haul(['edge', '--port', 'x'])).code).toBe(2);
    expect((await haul(['edge', '--upstream', 'ftp://shield'])).stderr).toContain('--upstream must be an http(s) URL');
  });

  it('serves signed downloads from the data dir with its secrets; health, readiness, nothing else; SIGTERM exits 0', async () => {
    const { child, base } = await startEdgeProcess(['--data-dir', join(dir, 'data')]);
    try {
      const url = signDownloadUrl(keyring, {
        baseUrl: base,
        objectPath: 'files/one.bin',
        version: V,
        expiresAt: new Date(Date.now() + HOUR),
      });
      const out = join(dir, 'one.bin');
      const { stdout } = await run('curl', ['-sS', '--fail', '-o', out, '-w', '%{http_code}', url]);
      expect(stdout).toBe('200');
      const { readFile } = await import('node:fs/promises');
      expect(sha256(await readFile(out))).toBe(V);
      const part = await fetch(url, { headers: { range: 'bytes=10-19' } });
      expect(part.status).toBe(206);
      expect(Buffer.from(await part.arrayBuffer()).equals(bytes.subarray(10, 20))).toBe(true);
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect(await (await fetch(`${base}/readyz`)).json()).toEqual({ status: 'ready', checks: { storage: 'ok' } });
      for (const path of ['/graphql', '/downloads', '/', '/metrics-nope'])
        expect((await fetch(`${base}${path}`)).status, path).toBe(404);
    } finally {
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });

  it('takes keys from HAUL_SIGNING_KEYS and the store from HAUL_STORAGE_DIR, with no JWT settings at all', async () => {
    const { child, base } = await startEdgeProcess([], {
      HAUL_SIGNING_KEYS: 'fleet1:fleet-secret-0123456789',
      HAUL_STORAGE_DIR: join(dir, 'data/objects'),
      HAUL_DATA_DIR: join(dir, 'nowhere'),
    });
    try {
      const fleet = new Keyring({ keys: { fleet1: 'fleet-secret-0123456789' }, activeKid: 'fleet1', retired: [] });
      const url = signDownloadUrl(fleet, {
        baseUrl: base,
        objectPath: 'files/one.bin',
        version: V,
        expiresAt: new Date(Date.now() + HOUR),
      });
      const r = await fetch(url);
      expect(r.status).toBe(200);
      expect(sha256(Buffer.from(await r.arrayBuffer()))).toBe(V);
      // A URL signed with the data dir's key is unknown to this fleet.
      const other = signDownloadUrl(keyring, {
        baseUrl: base,
        objectPath: 'files/one.bin',
        version: V,
        expiresAt: new Date(Date.now() + HOUR),
      });
      expect((await fetch(other)).status).toBe(403);
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('--upstream: an edge reading through another edge (the shield) serves the same bytes, refusals included', async () => {
    const shield = await startEdgeProcess(['--data-dir', join(dir, 'data')]);
    // The edge has no store of its own: an empty data dir holding only the same secrets.
    await mkdir(join(dir, 'edge-only'), { recursive: true });
    await writeFile(join(dir, 'edge-only/secrets.json'), JSON.stringify(secrets), { mode: 0o600 });
    const edge = await startEdgeProcess(['--data-dir', join(dir, 'edge-only'), '--upstream', shield.base]);
    try {
      const sign = (version: string, expiresAt = new Date(Date.now() + HOUR)) =>
        signDownloadUrl(keyring, { baseUrl: edge.base, objectPath: 'files/one.bin', version, expiresAt });
      const whole = await fetch(sign(V));
      expect(whole.status).toBe(200);
      expect(sha256(Buffer.from(await whole.arrayBuffer()))).toBe(V);
      const part = await fetch(sign(V), { headers: { range: 'bytes=-10,0-9' } });
      expect(part.status).toBe(206);
      expect(part.headers.get('content-type')).toMatch(/^multipart\/byteranges/);
      expect((await fetch(sign('0'.repeat(64)))).status).toBe(410);
      expect(await (await fetch(`${edge.base}/readyz`)).json()).toEqual({ status: 'ready', checks: { upstream: 'ok' } });
    } finally {
      edge.child.kill('SIGTERM');
      shield.child.kill('SIGTERM');
    }
  });

  it('a shield that requires hop MACs serves only edges holding the secret; the edge caches and exports metrics', async () => {
    const hop = { HAUL_EDGE_HOP_SECRET: 'hop-secret-0123456789abcdef' };
    const shield = await startEdgeProcess(['--data-dir', join(dir, 'data')], { ...hop, HAUL_EDGE_REQUIRE_HOP: 'true' });
    await mkdir(join(dir, 'edge-hop'), { recursive: true });
    await writeFile(join(dir, 'edge-hop/secrets.json'), JSON.stringify(secrets), { mode: 0o600 });
    const edge = await startEdgeProcess(['--data-dir', join(dir, 'edge-hop'), '--upstream', shield.base], hop);
    try {
      const url = (base: string) =>
        signDownloadUrl(keyring, {
          baseUrl: base,
          objectPath: 'files/one.bin',
          version: V,
          expiresAt: new Date(Date.now() + HOUR),
        });
      // A client going around the edge tier is refused by the shield, signed URL or not.
      const direct = await fetch(url(shield.base));
      expect(direct.status).toBe(403);
      expect(((await direct.json()) as any).error.code).toBe('HOP_MISSING');
      // Through the edge: correct bytes, cold then warm; the warm pass is served from the cache.
      for (let i = 0; i < 2; i++) {
        const r = await fetch(url(edge.base));
        expect(r.status).toBe(200);
        expect(sha256(Buffer.from(await r.arrayBuffer()))).toBe(V);
      }
      const metrics = await (await fetch(`${edge.base}/metrics`)).text();
      const value = (name: string) =>
        Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+(?:\\.\\d+)?)`, 'm').exec(metrics)?.[1] ?? 'NaN');
      expect(value('haul_edge_cache_hits_total')).toBeGreaterThanOrEqual(2);
      expect(value('haul_edge_origin_bytes_total')).toBe(bytes.length);
      expect(metrics).toContain('haul_edge_ttfb_seconds_bucket');
      expect(metrics).toMatch(/haul_edge_requests_total\{[^}]*status="200"[^}]*\} 2/);
    } finally {
      edge.child.kill('SIGTERM');
      shield.child.kill('SIGTERM');
    }
  });
});
