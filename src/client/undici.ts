import { createRequire } from 'node:module';
import type * as Undici from 'undici';

const require = createRequire(import.meta.url);
let pool: typeof Undici.Pool | undefined;

/**
 * undici's `Pool` and its request API, loaded on first use (HTTPS; plain HTTP goes through
 * raw-http.ts and never loads it) and without the package index, which also loads fetch,
 * WebSocket, EventSource and the cache API: ~9 MB of RSS and ~45 ms of start-up a download client
 * never uses (peak RSS of `haul get` is a goal). The two lines below are what the index does for
 * these; undici is pinned in package.json and the HTTPS client tests run this path.
 */
export function undiciPool(): typeof Undici.Pool {
  if (!pool) {
    pool = require('undici/lib/dispatcher/pool.js') as typeof Undici.Pool;
    Object.assign(require('undici/lib/dispatcher/dispatcher.js').prototype, require('undici/lib/api/index.js'));
  }
  return pool;
}

export type Pool = Undici.Pool;
export type { Dispatcher } from 'undici';
