// The thread side of src/client/chunk-verifier.ts. Plain JavaScript on purpose, like
// file-hash-worker.js: worker threads do not inherit a TypeScript loader, and this needs only node:.
//
// Reads a byte range of `<out>.part` back (from the page cache: it was just written) and answers
// its SHA-256, so that the connections' thread only receives and writes.
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';

/** @type {{ path: string }} */
const { path } = workerData;
const port = parentPort;
if (!port) throw new Error('chunk-verify-worker must run as a worker thread');

const fd = openSync(path, 'r');
const buf = Buffer.allocUnsafe(1 << 20);

port.on('message', (/** @type {{ type: 'digest', id: number, start: number, end: number } | { type: 'close' }} */ m) => {
  if (m.type === 'close') {
    closeSync(fd);
    port.close();
    return;
  }
  try {
    const hash = createHash('sha256');
    for (let at = m.start; at <= m.end; ) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, m.end + 1 - at), at);
      if (n === 0) throw new Error(`${path} is shorter than expected`);
      hash.update(buf.subarray(0, n));
      at += n;
    }
    port.postMessage({ id: m.id, hex: hash.digest('hex') });
  } catch (e) {
    port.postMessage({ id: m.id, error: e instanceof Error ? e.message : String(e) });
  }
});
