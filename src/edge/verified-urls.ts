import { BoundedMap } from '../bounded-map.ts';
import { type Keyring, type VerifiedDownloadUrl, type VerifyResult, verifyDownloadUrl } from './signing.ts';

/**
 * Remembers the request targets that verified, so a client fetching many ranges of one URL pays
 * for parsing and the HMAC once (about a tenth of the edge's CPU on 64 KiB ranges).
 *
 * Sound because verification is a pure function of the exact target string and the keyring,
 * except for the expiry, which is checked again on every hit. Only successes are kept, so forged
 * URLs can neither fill nor probe the cache. Bounded: the oldest entry goes first. A keyring is
 * fixed for the life of a handler; one that changes needs a new cache.
 */
export class VerifiedUrlCache {
  readonly #keyring: Keyring;
  readonly #urls: BoundedMap<string, VerifiedDownloadUrl>;

  constructor(keyring: Keyring, max = 10_000) {
    this.#keyring = keyring;
    this.#urls = new BoundedMap(max);
  }

  verify(target: string, now: Date): VerifyResult {
    const hit = this.#urls.get(target);
    if (hit !== undefined) {
      if (now.getTime() < hit.expiresAt.getTime()) return hit;
      this.#urls.delete(target);
    }
    const result = verifyDownloadUrl(this.#keyring, target, now);
    if (result.ok && this.#urls.max > 0) this.#urls.set(target, result);
    return result;
  }
}
