#!/usr/bin/env node
// haul ships as TypeScript with no build step to forget. Compiling it with tsx on every start cost
// `haul get` about 0.17 s and 37 MB (docs/decisions.md), so this launcher runs a bundle of the
// sources instead, built with esbuild on first use into node_modules/.cache/haul/<key>/. The key
// covers every file the bundle is built from, so an edit is picked up by the next run. With
// HAUL_NO_BUNDLE=1, or if the build fails for any reason, the sources run through tsx as before.
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { dirname, extname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Folders of the bundled sources (src/ imports ../jobs); a build that reads a file elsewhere fails. */
const SOURCE_DIRS = ['src', 'jobs'];
/** Other files that change the bundle: this launcher (the build options), esbuild's version, tsconfig. */
const BUILD_FILES = [relative(ROOT, fileURLToPath(import.meta.url)), 'package.json', 'package-lock.json', 'tsconfig.json'];
const CACHE = join(ROOT, 'node_modules', '.cache', 'haul');
/** Builds kept, the current one included. */
const KEEP = 3;
/**
 * A file modified this recently may be rewritten within the timestamp granularity (a jiffy, or a
 * second or two on some file systems) without its size or mtime changing: not cached (git's "racy
 * clean" entries). Such a run uses tsx instead; the next one builds.
 */
const RACY_MS = 2000;
const debug = process.env.HAUL_DEBUG ? (message) => console.error(`haul: ${message}`) : () => {};

async function load() {
  const noBundle = process.env.HAUL_NO_BUNDLE;
  let dir = null;
  if (!noBundle || noBundle === '0') {
    try {
      dir = await bundle();
    } catch (e) {
      debug(`no bundle, running the sources through tsx: ${e instanceof Error ? e.stack : e}`);
    }
  }
  if (dir) {
    // As under tsx, stack traces point into src/ — except for `haul get`, which reports errors as
    // messages and whose wall time is compared with curl's: source maps cost it ~20 ms per run
    // (A/B of 20 alternating 1 GiB downloads: 1.295 → 1.276 s). HAUL_DEBUG turns them on there too.
    if (process.argv[2] !== 'get' || process.env.HAUL_DEBUG) process.setSourceMapsEnabled(true);
    return (await import(pathToFileURL(join(dir, 'main.js')).href)).main;
  }
  const { register } = await import('tsx/esm/api');
  register();
  return (await import('../src/cli/main.ts')).main;
}

/** The cache directory holding a bundle of the current sources (built if need be), or null. */
async function bundle() {
  const started = Date.now();
  const t0 = performance.now();
  const lines = [process.version, ROOT];
  let newest = 0;
  const add = (path) => {
    // A dangling symbolic link (an editor's lock file) counts as the link itself.
    const s = statSync(ROOT + path, { throwIfNoEntry: false }) ?? lstatSync(ROOT + path);
    lines.push(`${path}\0${s.size}\0${s.mtimeMs}`);
    if (s.mtimeMs > newest) newest = s.mtimeMs;
  };
  for (const path of BUILD_FILES) add(path);
  for (const path of SOURCE_DIRS) walk(path, add);
  const key = createHash('sha256').update(lines.join('\n')).digest('hex').slice(0, 20);
  const dir = join(CACHE, key);
  debug(`cache key ${key} in ${(performance.now() - t0).toFixed(1)} ms`);
  if (existsSync(join(dir, 'main.js'))) return dir;
  if (newest > started - RACY_MS) {
    debug('sources modified in the last 2 s: not building a bundle this time');
    return null;
  }

  mkdirSync(CACHE, { recursive: true });
  const tmp = mkdtempSync(join(CACHE, `.tmp-${key}-`));
  chmodSync(tmp, 0o755); // mkdtemp's 0700 would hide the build from other users of the checkout
  try {
    await build(tmp);
    try {
      renameSync(tmp, dir);
    } catch (e) {
      if (!existsSync(join(dir, 'main.js'))) throw e;
      debug('another process built the same sources first: using its build');
      return dir;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  debug(`built ${dir} in ${(performance.now() - t0).toFixed(0)} ms`);
  prune(key);
  return dir;
}

/** Calls add(path) for every file under dir (a path relative to ROOT), symbolic links followed. */
function walk(dir, add) {
  for (const e of readdirSync(ROOT + dir, { withFileTypes: true })) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory() || (e.isSymbolicLink() && statSync(ROOT + path, { throwIfNoEntry: false })?.isDirectory()))
      walk(path, add);
    else add(path);
  }
}

async function build(outdir) {
  const { default: esbuild } = await import('esbuild');
  try {
    const { metafile } = await esbuild.build({
      absWorkingDir: ROOT,
      entryPoints: { main: 'src/cli/main.ts' },
      outdir,
      chunkNames: 'chunks/[name]-[hash]',
      bundle: true,
      // Each import() stays a chunk of its own: `haul get` never loads the server's modules.
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      packages: 'external',
      sourcemap: 'linked',
      sourcesContent: false,
      keepNames: true,
      metafile: true,
      logLevel: 'silent',
      plugins: [pinImportMeta],
    });
    for (const input of Object.keys(metafile.inputs))
      if (!SOURCE_DIRS.some((d) => input.startsWith(`${d}/`)))
        throw new Error(`${input} is bundled but outside ${SOURCE_DIRS.join(', ')}/, so an edit to it would go unseen`);
  } finally {
    await esbuild.stop();
  }
}

/**
 * Replaces import.meta.url (and .filename, .dirname) in each source with that file's own location:
 * the modules that find files next to them (worker scripts, migrations, Prisma's client) must keep
 * finding them in src/, not in the cache directory. The cache is per checkout, so absolute paths
 * are fine. Any other use of import.meta fails the build, which falls back to tsx.
 */
const pinImportMeta = {
  name: 'haul-pin-import-meta',
  setup(b) {
    b.onLoad({ filter: /\.[cm]?[jt]s$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8');
      const loader = /^\.[cm]?ts$/.test(extname(args.path)) ? 'ts' : 'js';
      if (!source.includes('import.meta')) return { contents: source, loader };
      const pinned = { url: pathToFileURL(args.path).href, filename: args.path, dirname: dirname(args.path) };
      const contents = source.replace(/\bimport\.meta\.(url|filename|dirname)\b/g, (_, p) => JSON.stringify(pinned[p]));
      if (/\bimport\.meta\b/.test(contents)) throw new Error(`${args.path}: a use of import.meta that cannot be pinned`);
      return { contents, loader };
    });
  },
};

/** Removes builds beyond the newest KEEP and leftovers of interrupted builds; never fails. */
function prune(current) {
  try {
    const hourAgo = Date.now() - 3_600_000;
    const builds = [];
    for (const name of readdirSync(CACHE)) {
      if (name === current) continue;
      const path = join(CACHE, name);
      const mtime = statSync(path).mtimeMs;
      if (!name.startsWith('.tmp-')) builds.push({ path, mtime });
      else if (mtime < hourAgo) rmSync(path, { recursive: true, force: true });
    }
    builds.sort((a, b) => b.mtime - a.mtime);
    for (const { path } of builds.slice(KEEP - 1)) rmSync(path, { recursive: true, force: true });
  } catch (e) {
    debug(`pruning old builds: ${e}`);
  }
}

const main = await load();
process.exitCode = await main(process.argv.slice(2));
