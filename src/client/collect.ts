import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Gc = (options?: { type?: 'minor' | 'major'; execution?: 'sync' | 'async' }) => void;

/** Bytes received between two young-generation collections (after tuneForDownloadProcess). */
const EVERY = 8 * 1024 * 1024;
let gc: Gc | undefined;
let collecting = false;
let sinceLast = 0;

/**
 * Memory tuning for a process that does nothing but download (`haul get`): not for the SDK inside
 * a larger application, which should leave its V8 alone.
 */
export function tuneForDownloadProcess(): void {
  // undici parses HTTP with llhttp compiled to WebAssembly at the first connection; V8's optimizing
  // WebAssembly compiler costs a transient ~35 MB there, most of the process's peak RSS. The baseline
  // compiler is plenty: with Content-Length bodies the parser does constant work per socket read.
  setFlagsFromString('--liftoff-only');
  collecting = true;
}

/**
 * Through undici (HTTPS), socket reads arrive as 64 KiB buffers that are dead as soon as they are
 * written, but V8 frees them only when its young generation fills — rare on this path, which
 * allocates almost no JavaScript objects per read — or when external memory has grown by ~64 MB.
 * That garbage was most of `haul get`'s peak RSS. A minor collection every 8 MiB received keeps it
 * small; with a nearly empty young generation each one takes a fraction of a millisecond. Not called
for plain HTTP: raw-http.ts reads into one buffer per socket, and forcing ~130 collections per GiB
there cost ~0.15 s of the receiving thread for nothing.
 * (`gc` is exposed at run time: the flag is honoured for the function a new context gets.)
 */
export function noteReceived(bytes: number): void {
  if (!collecting) return;
  sinceLast += bytes;
  if (sinceLast < EVERY) return;
  sinceLast = 0;
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as Gc;
  }
  gc({ type: 'minor' });
}
