import { BoundedMap } from '../bounded-map.ts';
import type { BlobStat, BlobStore } from '../storage/blob-store.ts';
import { type BlobVersion, readVersion, statOf } from '../storage/versions.ts';

/** Which object version a stat describes: size, modification time and entity tag (S3). */
export const statKey = (s: BlobStat) => `${s.size}:${s.lastModified.getTime()}:${s.etag ?? ''}`;

interface Entry {
  record: BlobVersion | null;
  /** `statKey` of the stat the record was read for (or the record's own). */
  statKey: string;
  at: number;
}

/**
 * Version records (`storage/versions.ts`) read from the store, cached for `ttlMs` (at most `max`,
 * the oldest dropped first) so a hot file does not re-read its record on every request. A caller
 * says which cached entries it may use; concurrent misses on one key share one read.
 */
export class VersionCache {
  readonly #entries: BoundedMap<string, Entry>;
  readonly #inflight = new Map<string, Promise<BlobVersion | null>>();

  constructor(
    private readonly store: BlobStore,
    private readonly opts: { ttlMs: number; max: number; now: () => number },
  ) {
    this.#entries = new BoundedMap(opts.max);
  }

  /**
   * The record of `key`: a fresh cached one that `usable` accepts, else read from the store and
   * cached under `forStat` (the key of the stat it was read for), or else the record's own stat.
   */
  async get(key: string, usable: (statKey: string) => boolean, forStat?: string): Promise<BlobVersion | null> {
    const now = this.opts.now();
    const hit = this.#entries.get(key);
    if (hit && now - hit.at < this.opts.ttlMs && usable(hit.statKey)) return hit.record;
    let flight = this.#inflight.get(key);
    if (!flight) {
      flight = readVersion(this.store, key).finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, flight);
    }
    const record = await flight;
    if (this.opts.ttlMs > 0) {
      const sk = forStat ?? (record ? statKey(statOf(record)) : '');
      this.#entries.delete(key);
      this.#entries.set(key, { record, statKey: sk, at: now });
    }
    return record;
  }

  /** Forgets `key`'s record (its object changed). */
  delete(key: string): void {
    this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }
}
