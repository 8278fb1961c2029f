import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { processEnv } from '../config/errors.ts';

/** The addon's functions (sha256x2.c). */
export interface Sha256x2 {
  supported(): boolean;
  init(state: Buffer): void;
  update(state: Buffer, data: Buffer): void;
  update(a: Buffer, b: Buffer, data: Buffer): void;
  digest(state: Buffer): Buffer;
}

/** Bytes of a state Buffer. */
export const STATE_BYTES = 112;

const SOURCE = fileURLToPath(new URL('./sha256x2.c', import.meta.url));
const CACHE = join(dirname(SOURCE), '..', '..', 'node_modules', '.cache', 'haul-native');
const debug = processEnv().HAUL_DEBUG ? (m: string) => console.error(`haul: ${m}`) : () => {};

let found: { path: string | undefined } | undefined;
/** A failed build is tried again after this long (a compiler installed since, a full disk freed). */
const RETRY_FAILED_BUILD_MS = 24 * 3_600_000;

/**
 * The path of the two-state SHA-256 addon (sha256x2.c) for this machine, built with the system's
 * C compiler (`$CC`, else `cc`) on first use into node_modules/.cache/haul-native/ (~0.6 s, once
 * per version of the source), or undefined: not x86-64, a CPU without the SHA extensions, no
 * compiler or Node headers, `HAUL_NATIVE_SHA=0`. Undefined only costs speed: the hashers use
 * OpenSSL. A failed build is remembered for a day (a `.failed` file beside, with the compiler's
 * message) so that it is not tried on every run.
 */
export function nativeShaPath(): string | undefined {
  found ??= { path: locate() };
  return found.path;
}

/** Tests: use `path` (undefined: OpenSSL only) from now on in this process; null: detect again. */
export function overrideNativeSha(path: string | undefined | null): void {
  found = path === null ? undefined : { path };
}

/**
 * Removes the builds of other versions of the source (a process still using one keeps its mapping)
 * and leftovers of interrupted builds older than an hour; never fails.
 */
function prune(current: string): void {
  try {
    const hourAgo = Date.now() - 3_600_000;
    for (const name of readdirSync(CACHE)) {
      const path = join(CACHE, name);
      if (path === current || path.startsWith(`${current}.`)) continue;
      if (!name.endsWith('.tmp') || statSync(path).mtimeMs < hourAgo) rmSync(path, { force: true });
    }
  } catch (e) {
    debug(`pruning ${CACHE}: ${e}`);
  }
}

function locate(): string | undefined {
  const env = processEnv();
  if (env.HAUL_NATIVE_SHA === '0' || process.arch !== 'x64') return undefined;
  try {
    const headers = join(dirname(process.execPath), '..', 'include', 'node');
    if (!existsSync(join(headers, 'node_api.h'))) {
      debug(`no Node headers in ${headers}: whole-file and chunk digests use OpenSSL`);
      return undefined;
    }
    const source = readFileSync(SOURCE);
    const cc = env.CC || 'cc';
    // macOS links an addon as a bundle whose N-API symbols resolve against the running node.
    const link = process.platform === 'darwin' ? ['-bundle', '-undefined', 'dynamic_lookup'] : ['-shared'];
    const args = ['-O2', ...link, '-fPIC', '-I', headers];
    const key = createHash('sha256')
      .update(source)
      .update(JSON.stringify([cc, args, process.versions.napi]))
      .digest('hex')
      .slice(0, 16);
    const path = join(CACHE, `sha256x2-${key}.node`);
    const failed = statSync(`${path}.failed`, { throwIfNoEntry: false });
    if (failed && Date.now() - failed.mtimeMs < RETRY_FAILED_BUILD_MS) {
      debug(`building the SHA-256 addon failed lately (${path}.failed): digests use OpenSSL`);
      return undefined;
    }
    if (!existsSync(path)) {
      mkdirSync(CACHE, { recursive: true });
      const tmp = `${path}.${process.pid}.tmp`;
      const t0 = performance.now();
      try {
        execFileSync(cc, [...args, '-o', tmp, SOURCE], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 });
        renameSync(tmp, path);
        debug(`built ${path} in ${(performance.now() - t0).toFixed(0)} ms`);
        prune(path);
      } catch (e) {
        rmSync(tmp, { force: true });
        const why = (e as { stderr?: Buffer }).stderr?.toString() || String(e);
        writeFileSync(`${path}.failed`, why);
        debug(`building ${SOURCE} failed, digests use OpenSSL: ${why}`);
        return undefined;
      }
    }
    const addon = createRequire(import.meta.url)(path) as Sha256x2;
    if (!addon.supported()) {
      debug('this CPU has no SHA extensions: digests use OpenSSL');
      return undefined;
    }
    return path;
  } catch (e) {
    debug(`the SHA-256 addon is not usable, digests use OpenSSL: ${e}`);
    return undefined;
  }
}
