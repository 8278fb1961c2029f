import { createServer } from 'node:http';
import { Readable } from 'node:stream';
import { createEdgeHandler } from '../src/edge/handler.ts';
import { Keyring } from '../src/edge/signing.ts';
const data = Buffer.alloc(1024 * 1024 * 64, 1);
const origin = {
  async head() { return { size: 1024 ** 3, version: 'f'.repeat(64), lastModified: new Date(0) }; },
  async read(_r: unknown, range: { start: number; end: number }) {
    return Readable.from([data.subarray(range.start % (32 << 20), range.start % (32 << 20) + range.end - range.start + 1)], { objectMode: false });
  },
};
const keyring = new Keyring({ keys: { kb: 'bench-signing-secret-0123456789' }, activeKid: 'kb', retired: [] });
createServer(createEdgeHandler({ keyring, origin })).listen(18081);
process.on('SIGINT', () => process.exit(0));
