import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../helpers/pg.ts';

const run = promisify(execFile);
const HAUL = new URL('../../bin/haul.js', import.meta.url).pathname;

/** Runs `haul …` as a real process; resolves with its exit code and output. */
async function haul(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run('node', [HAUL, ...args], { env: { ...cleanEnv(), ...env }, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** The environment without any haul settings of the developer's shell. */
function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !/^(HAUL_|DATABASE_URL|REDIS_URL|S3_|AWS_|PORT$|HOST$)/.test(k)) env[k] = v;
  return env;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'haul-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('haul command line', () => {
  it('prints help for the command and every subcommand', async () => {
    const top = await haul(['--help']);
    expect(top.code).toBe(0);
    for (const c of ['serve', 'api', 'worker', 'ingest', 'migrate', 'token']) expect(top.stdout).toContain(c);
    for (const c of ['serve', 'api', 'worker', 'ingest', 'migrate', 'token']) {
      const r = await haul([c, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`usage: haul ${c}`);
    }
  });

  it('fails with exit code 2 and a clear message on unknown commands, flags and bad values', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['frobnicate'], /unknown command "frobnicate"/],
      [['serve', '--bogus'], /Unknown option '--bogus'/],
      [['serve', '--port', 'eighty'], /--port must be a port number/],
      [['serve', '--port', '70000'], /--port must be a port number/],
      [['token'], /--sub <user> is required/],
      [['token', '--sub', 'a', '--role', 'root', '--data-dir', dir], /--role must be admin or user/],
      [['token', '--sub', 'a', '--ttl', 'soon', '--data-dir', dir], /--ttl must be a duration/],
      [['migrate', 'extra'], /unexpected argument: extra/],
    ];
    for (const [args, message] of cases) {
      const r = await haul(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
    }
  });

  it('reports every configuration problem at once, without echoing secrets', async () => {
    const r = await haul(['serve', '--data-dir', dir], {
      DATABASE_URL: 'mysql://nope',
      REDIS_URL: 'http://nope',
      HAUL_JWT_SECRET: 'short-secret-value',
      HAUL_URL_TTL: 'forever',
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('DATABASE_URL must be a postgres:// URL');
    expect(r.stderr).toContain('REDIS_URL must be a redis:// URL');
    expect(r.stderr).toContain('HAUL_JWT_SECRET must be at least 32 characters');
    expect(r.stderr).toContain('HAUL_URL_TTL');
    expect(r.stderr).not.toContain('short-secret-value');
  });

  it('client commands check their own variables, all at once, without echoing secrets', async () => {
    const r = await haul(['get', '00000000-0000-0000-0000-000000000000', '--data-dir', dir], {
      HAUL_API_URL: 'not a url',
      PORT: '99999',
      HAUL_JWT_SECRET: 'short-secret-value',
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('HAUL_API_URL must be a URL');
    expect(r.stderr).toContain('PORT must be a port number');
    expect(r.stderr).toContain('HAUL_JWT_SECRET must be at least 32 characters');
    expect(r.stderr).not.toContain('short-secret-value');
  });

  it('token prints a JWT alone on the last line, signed with the data dir secret', async () => {
    const r = await haul(['token', '--sub', 'alice', '--role', 'admin', '--ttl', '2h', '--data-dir', dir]);
    expect(r.code).toBe(0);
    const last = r.stdout.trim().split('\n').at(-1)!;
    expect(last).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    const claims = decodeJwt(last);
    expect(claims).toMatchObject({ sub: 'alice', role: 'admin' });
    expect(claims.exp! - claims.iat!).toBe(7200);
    // The same data dir gives the same secret: a second token verifies against the first's key.
    const again = await haul(['token', '--sub', 'bob', '--data-dir', dir]);
    expect(again.code).toBe(0);
  });

  it('migrate applies pending migrations to PostgreSQL, then reports up to date', async () => {
    await using db = await createTestDatabase();
    const env = { DATABASE_URL: db.url, HAUL_JWT_SECRET: 'x'.repeat(32), HAUL_SIGNING_KEYS: 'k1:0123456789abcdef' };
    const first = await haul(['migrate'], env);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/applied 1: 20261126000000_init/);
    const second = await haul(['migrate'], env);
    expect(second.stdout).toMatch(/up to date \(1 applied\)/);
  });
});

describe('haul serve walk-through (the README, with curl)', () => {
  let child: ChildProcess;
  let base: string;
  let output = '';

  beforeAll(async () => {
    child = spawn('node', [HAUL, 'serve', '--port', '0', '--data-dir', join(dir, 'serve')], {
      env: { ...cleanEnv(), LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    base = await new Promise<string>((resolve, reject) => {
      const onData = (b: Buffer) => {
        output += b.toString();
        const m = /listening on (http:\/\/\S+)/.exec(output);
        if (m && output.includes('token')) resolve(m[1]!);
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => reject(new Error(`haul serve exited ${code}: ${output}`)));
    });
  });

  afterAll(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });

  const curl = async (...args: string[]) => (await run('curl', ['-sS', '--fail-with-body', ...args])).stdout;

  it('gets a token, lists files, starts, pauses, resumes and reads progress, then downloads bytes', async () => {
    const token = (await haul(['token', '--sub', 'alice', '--data-dir', join(dir, 'serve')])).stdout.trim().split('\n').at(-1)!;
    const auth = ['-H', `authorization: Bearer ${token}`, '-H', 'content-type: application/json'];
    const files = JSON.parse(
      await curl(...auth, `${base}/graphql`, '-d', '{"query":"{ files { edges { node { id name sizeBytes checksum } } } }"}'),
    );
    const demo = files.data.files.edges[0].node;
    expect(demo.name).toBe('haul-demo.bin');

    const start = JSON.parse(
      await curl(...auth, '-X', 'POST', `${base}/downloads`, '-d', JSON.stringify({ file_id: demo.id, client_id: 'laptop' })),
    );
    expect(start).toMatchObject({ file_size: demo.sizeBytes, checksum: demo.checksum, status: 'active' });

    const part = await run('curl', [
      '-sS',
      '-r',
      '0-99999',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code} %{size_download}',
      start.download_url,
    ]);
    expect(part.stdout).toBe('206 100000');

    const paused = JSON.parse(
      await curl(
        ...auth,
        '-X',
        'PATCH',
        `${base}/downloads/${start.session_id}`,
        '-d',
        '{"status":"paused","bytes_confirmed":100000}',
      ),
    );
    expect(paused).toMatchObject({ status: 'paused', bytes_confirmed: 100000 });
    const resumed = JSON.parse(
      await curl(...auth, '-X', 'PATCH', `${base}/downloads/${start.session_id}`, '-d', '{"status":"resumed"}'),
    );
    expect(resumed.status).toBe('active');
    const progress = JSON.parse(await curl(...auth, `${base}/downloads/${start.session_id}/progress`));
    expect(progress).toMatchObject({ bytes_confirmed: 100000, total_bytes: demo.sizeBytes, status: 'active' });
    expect(progress.percentage).toBeCloseTo((100000 / demo.sizeBytes) * 100, 1);

    // The rest of the file from the confirmed offset, then the whole-file checksum.
    const rest = await run('bash', [
      '-c',
      `(curl -sS -r 0-99999 "$0"; curl -sS -r 100000- "$0") | sha256sum`,
      resumed.download_url,
    ]);
    expect(rest.stdout.split(' ')[0]).toBe(demo.checksum);
  });

  it('on SIGTERM lets an in-flight download finish, then exits 0', async () => {
    const token = (await haul(['token', '--sub', 'bob', '--data-dir', join(dir, 'serve')])).stdout.trim().split('\n').at(-1)!;
    const auth = ['-H', `authorization: Bearer ${token}`, '-H', 'content-type: application/json'];
    const files = JSON.parse(
      await curl(...auth, `${base}/graphql`, '-d', '{"query":"{ files { edges { node { id checksum } } } }"}'),
    );
    const demo = files.data.files.edges[0].node;
    const start = JSON.parse(await curl(...auth, '-X', 'POST', `${base}/downloads`, '-d', JSON.stringify({ file_id: demo.id })));
    // A reader that takes its time (15 ms per 64 KiB pipe read: about 2 s for the 8 MiB demo), so
    // the signal lands mid-transfer. curl rather than fetch: undici sometimes reported the server's
    // close of the then-idle connection as an error after the last byte had arrived.
    let finishedAt = 0;
    const download = new Promise<string>((resolve, reject) => {
      const hash = createHash('sha256');
      const reader = spawn('curl', ['-sSf', start.download_url], { stdio: ['ignore', 'pipe', 'pipe'] });
      reader.stdout.on('data', (b: Buffer) => {
        hash.update(b);
        reader.stdout.pause();
        setTimeout(() => reader.stdout.resume(), 15);
      });
      let err = '';
      reader.stderr.on('data', (b: Buffer) => {
        err += b;
      });
      reader.once('close', (code) => {
        finishedAt = Date.now();
        if (code === 0) resolve(hash.digest('hex'));
        else reject(new Error(`curl exited ${code}: ${err}`));
      });
    });
    await new Promise((r) => setTimeout(r, 500));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const killedAt = Date.now();
    child.kill('SIGTERM');
    expect(await download).toBe(demo.checksum);
    expect(finishedAt).toBeGreaterThan(killedAt + 500);
    expect(await exited).toBe(0);
  });
});
