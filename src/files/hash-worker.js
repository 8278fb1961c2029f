// The thread side of src/files/hashing.ts. Plain JavaScript on purpose: worker threads do not
// inherit the tsx loader that runs haul's TypeScript, and this file needs nothing but node:.
//
// Two roles, one thread each: `whole` feeds every slot of the shared ring to one SHA-256 (the
// whole-file digest is inherently sequential), `chunks` cuts the same bytes at chunk boundaries
// and digests each chunk. Both read the ring in place (no copy) and acknowledge each slot so
// the main thread can refill it once both are done with it.
import { createHash } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';

/** @type {{ role: 'whole' | 'chunks', ring: SharedArrayBuffer, chunkSize: number }} */
const { role, ring, chunkSize } = workerData;
const memory = new Uint8Array(ring);
const port = parentPort;
if (!port) throw new Error('hash-worker must run as a worker thread');

let hash = createHash('sha256');
let inChunk = 0;

port.on('message', (/** @type {{ slot: number, at: number, len: number } | { end: true }} */ m) => {
  if ('end' in m) {
    if (role === 'whole') port.postMessage({ digest: hash.digest('hex') });
    else port.postMessage({ end: true, digests: inChunk > 0 ? [hash.digest('hex')] : [] });
    return;
  }
  const bytes = memory.subarray(m.at, m.at + m.len);
  if (role === 'whole') {
    hash.update(bytes);
    port.postMessage({ slot: m.slot });
    return;
  }
  /** @type {string[]} */
  const digests = [];
  for (let off = 0; off < bytes.length; ) {
    const take = Math.min(chunkSize - inChunk, bytes.length - off);
    hash.update(bytes.subarray(off, off + take));
    off += take;
    inChunk += take;
    if (inChunk === chunkSize) {
      digests.push(hash.digest('hex'));
      hash = createHash('sha256');
      inChunk = 0;
    }
  }
  port.postMessage({ slot: m.slot, digests });
});
