import { createServer } from 'node:http';
import { Readable, pipeline, Transform } from 'node:stream';
import { Keyring, verifyDownloadUrl } from '../src/edge/signing.ts';
const keyring = new Keyring({ keys: { kb: 'bench-signing-secret-0123456789' }, activeKid: 'kb', retired: [] });
const data = Buffer.alloc(65536, 1);
const v = process.env.V;
createServer((req, res) => {
  if (v === 'verify') { const u = verifyDownloadUrl(keyring, req.url!, new Date()); if (!u.ok) { res.statusCode = 403; res.end(); return; } }
  if (v === 'abort') { const ac = new AbortController(); res.once('close', () => { if (!res.writableFinished) ac.abort(); }); res.setTimeout(60000, () => res.destroy()); }
  res.writeHead(206, { 'content-length': '65536', 'content-range': `bytes 1048576-1114111/${1024 ** 3}` });
  if (v === 'pipeline') { pipeline(Readable.from([data], { objectMode: false }), new Transform({ transform(c, e, cb) { cb(null, c); } }), res, () => {}); return; }
  if (v === 'pipe2') { pipeline(Readable.from([data], { objectMode: false }), res, () => {}); return; }
  res.end(data);
}).listen(18090);
process.on('SIGINT', () => process.exit(0));
