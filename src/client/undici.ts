import { createRequire } from 'node:module';
import type * as Undici from 'undici';

const require = createRequire(import.meta.url);

/**
 * undici's `Pool` and its request API, loaded without the package index, which also loads fetch,
 * WebSocket, EventSource and the cache API: ~9 MB of RSS and ~45 ms of start-up a download client
 * never uses (peak RSS of `haul get` is a goal). The two lines below are what the index does for
 * these; undici is pinned in package.json and every client test runs this path.
 */
export const Pool: typeof Undici.Pool = require('undici/lib/dispatcher/pool.js');
Object.assign(require('undici/lib/dispatcher/dispatcher.js').prototype, require('undici/lib/api/index.js'));

export type Pool = Undici.Pool;
export type { Dispatcher } from 'undici';
