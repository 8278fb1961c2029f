import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:tls';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { bytesOf, sha256 } from '../helpers/api.ts';
import { cleanEnv } from '../helpers/process.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

/**
 * `haul get` against a service behind TLS: API calls and ranges then go through undici (plain
 * HTTP uses raw-http.ts), loaded only for such origins. A TLS proxy with a self-signed
 * certificate (made by openssl) sits in front of a real haul; the CLI trusts it through
 * NODE_EXTRA_CA_CERTS.
 */
const HAUL = new URL('../../bin/haul.js', import.meta.url).pathname;
let dir: string;
let tls: Server;
let srv: TestServer;
let tlsUrl: string;
const sockets = new Set<Socket>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'haul-https-'));
  const openssl = ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1'];
  openssl.push('-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'));
  execFileSync('openssl', openssl, { stdio: 'ignore' });
  let target = 0;
  tls = createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (client) => {
    const upstream = connect(target, '127.0.0.1');
    sockets.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => tls.listen(0, '127.0.0.1', r));
  tlsUrl = `https://127.0.0.1:${(tls.address() as { port: number }).port}`;
  srv = await startTestServer({ role: 'serve', env: { HAUL_EDGE_URL: tlsUrl } });
  target = Number(new URL(srv.url).port);
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => tls?.close(r));
  await srv?.[Symbol.asyncDispose]();
  await rm(dir, { recursive: true, force: true });
});

it('downloads and verifies over HTTPS, API and ranges alike', async () => {
  const bytes = bytesOf(3 * 1024 * 1024 + 17, 11);
  const fileId = await srv.addFile('tls.bin', bytes, { chunkSize: 256 * 1024 });
  const out = join(dir, 'tls.bin');
  const token = await srv.token('alice');
  const stdout = await new Promise<string>((resolve, reject) =>
    execFile(
      'node',
      [HAUL, 'get', fileId, '-o', out, '--connections', '4', '--json', '--api', tlsUrl, '--token', token],
      { env: { ...cleanEnv(), NODE_EXTRA_CA_CERTS: join(dir, 'cert.pem') } },
      (err, so, se) => (err ? reject(new Error(`${err.message}\n${se}`)) : resolve(so)),
    ),
  );
  const done = JSON.parse(stdout.trim().split('\n').at(-1)!);
  expect(done).toMatchObject({ type: 'done', verified: true, completed: true, sha256: sha256(bytes) });
  expect(sha256(await readFile(out))).toBe(sha256(bytes));
});
