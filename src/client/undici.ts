import { createRequire } from 'node:module';
import type * as Undici from 'undici';

const require = createRequire(import.meta.url);

/**
 * undici's `Pool`, loaded alone. The package index also loads fetch, WebSocket, EventSource and
 * the cache API: ~9 MB of RSS and ~45 ms of start-up that a download client never uses (peak RSS
 * of `haul get` is a goal). undici is pinned in package.json and every client test runs this path.
 */
export const Pool: typeof Undici.Pool = require('undici/lib/dispatcher/pool.js');
export type Pool = Undici.Pool;
export type { Dispatcher } from 'undici';
