import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { download } from '../../src/client/index.ts';
import { bytesOf, sha256 } from '../helpers/api.ts';
import { startTestServer } from '../helpers/server.ts';

it('smoke', async () => {
  await using srv = await startTestServer({ role: 'serve' });
  const dir = await mkdtemp(join(tmpdir(), 'haul-get-'));
  const bytes = bytesOf(5 * 1024 * 1024 + 123);
  const fileId = await srv.addFile('a.bin', bytes, { chunkSize: 256 * 1024 });
  const events: any[] = [];
  const r = await download({ api: srv.url, token: await srv.token('alice'), fileId, out: join(dir, 'a.bin'), onEvent: (e) => events.push(e) });
  console.log(r, events.filter((e) => e.type !== 'tail'));
  expect(sha256(await readFile(join(dir, 'a.bin')))).toBe(sha256(bytes));
});
