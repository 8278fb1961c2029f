// The thread side of src/client/file-hasher.ts, and of src/client/chunk-verifier.ts, which runs
// an instance of it for chunk checks only. Plain JavaScript on purpose: worker threads do not
// inherit the tsx loader that runs haul's TypeScript, and this file needs nothing but node:.
//
// It computes the whole-file SHA-256 of `<out>.part` over the written prefix, region by region
// in file order, reading back what the connections just wrote (from the page cache). A region
// with `verify` (a chunk trusted from the journal of an earlier run) is checked against its own
// digest first, on the same read: a bad one is reported and left out of the running hash, and
// regions after it are ignored until it is sent again. A region with `keep` (a chunk not verified
// yet) saves the hash state before it, so that `rewind` can go back there if the chunk fails its
// check; `verified` drops that state. Every region is answered once: hashed, bad or skipped.
// `check` answers one chunk's SHA-256 read back (or the error reading it): the chunk verifier's
// whole job, and the whole-file hasher's when it has nothing to hash. A region with `verify` and
// `check` (an id) is a chunk just written whose check has not started: checked and hashed on one
// read, the answer carrying the id back.
//
// With `native` (the path of the sha256x2.c addon, native-sha.ts), the whole-file state is the
// addon's, and a chunk checked on a region's read is hashed in lock-step with it (two digests for
// about the cost of one); otherwise both are OpenSSL's.
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';

/** @type {{ path: string, native?: string }} */
const { path, native } = workerData;
const port = parentPort;
if (!port) throw new Error('file-hash-worker must run as a worker thread');

/**
 * The running digests' operations: the addon's states (112-byte Buffers) or OpenSSL's Hash.
 * `pair` feeds the same bytes to two states.
 * @type {{ create(): any, update(s: any, b: Buffer): void, pair(a: any, b: any, bytes: Buffer): void, copy(s: any): any, hex(s: any): string }}
 */
const sha = (() => {
  if (!native) {
    return {
      create: () => createHash('sha256'),
      update: (s, b) => s.update(b),
      pair: (a, b, bytes) => {
        a.update(bytes);
        b.update(bytes);
      },
      copy: (s) => s.copy(),
      hex: (s) => s.digest('hex'),
    };
  }
  const addon = createRequire(import.meta.url)(native);
  return {
    create() {
      const s = Buffer.allocUnsafe(112);
      addon.init(s);
      return s;
    },
    update: (s, b) => addon.update(s, b),
    pair: (a, b, bytes) => addon.update(a, b, bytes),
    copy: (s) => Buffer.from(s),
    hex: (s) => addon.digest(s).toString('hex'),
  };
})();

const fd = openSync(path, 'r');
const buf = Buffer.allocUnsafe(1 << 20);
let whole = sha.create();
let next = 0;
/** @type {Map<number, { hash: any, offset: number }>} hash states before unverified chunks */
const checkpoints = new Map();

/** Feeds bytes [offset, offset + length) to `feed`; false if the file is shorter. */
function readRegion(offset, length, feed) {
  for (let at = offset; at < offset + length; ) {
    const n = readSync(fd, buf, 0, Math.min(buf.length, offset + length - at), at);
    if (n === 0) return false;
    feed(buf.subarray(0, n));
    at += n;
  }
  return true;
}

port.on('message', (/** @type {any} */ m) => {
  try {
    if (m.type === 'region') {
      if (m.offset !== next) {
        port.postMessage({ type: 'skipped', index: m.index, check: m.check });
        return;
      }
      if (m.keep) checkpoints.set(m.index, { hash: sha.copy(whole), offset: m.offset });
      if (m.verify) {
        const chunk = sha.create();
        const candidate = sha.copy(whole);
        if (!readRegion(m.offset, m.length, (bytes) => sha.pair(candidate, chunk, bytes)) || sha.hex(chunk) !== m.verify) {
          port.postMessage({ type: 'bad', index: m.index, check: m.check });
          return;
        }
        whole = candidate;
      } else if (!readRegion(m.offset, m.length, (bytes) => sha.update(whole, bytes))) {
        throw new Error(`${path} is shorter than expected`);
      }
      next += m.length;
      port.postMessage({ type: 'hashed', index: m.index, upTo: next, check: m.check });
    } else if (m.type === 'rewind') {
      const cp = checkpoints.get(m.index);
      // No state saved: the region was never hashed (the hash is before it already).
      if (!cp) return;
      whole = cp.hash;
      next = cp.offset;
      for (const k of checkpoints.keys()) if (k >= m.index) checkpoints.delete(k);
      port.postMessage({ type: 'rewound', upTo: next });
    } else if (m.type === 'check') {
      try {
        const chunk = createHash('sha256');
        if (!readRegion(m.start, m.end + 1 - m.start, (bytes) => chunk.update(bytes)))
          throw new Error(`${path} is shorter than expected`);
        port.postMessage({ type: 'checked', id: m.id, hex: chunk.digest('hex') });
      } catch (e) {
        port.postMessage({ type: 'checked', id: m.id, error: e instanceof Error ? e.message : String(e) });
      }
    } else if (m.type === 'verified') {
      checkpoints.delete(m.index);
    } else if (m.type === 'finish') {
      if (next !== m.size) port.postMessage({ type: 'incomplete', upTo: next });
      else {
        port.postMessage({ type: 'digest', hex: sha.hex(whole) });
        closeSync(fd);
      }
    }
  } catch (e) {
    port.postMessage({ type: 'error', message: e instanceof Error ? e.message : String(e) });
  }
});
