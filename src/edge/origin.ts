import type { Readable } from 'node:stream';

/**
 * Where an edge gets bytes from: the object store itself, an upstream haul edge (the shield
 * tier), or either of those behind the slice cache. The edge handler speaks only this, so the
 * tiers compose: cache(store), cache(upstream(shield URL)), …
 */

/** One object version, as a verified signed URL names it. */
export interface ObjectRef {
  /** The storage key. */
  objectPath: string;
  /** SHA-256 hex the URL binds. */
  version: string;
  /**
   * The verified request's path and query (signature included): an upstream origin forwards it
   * so the next tier verifies the same signature on its own.
   */
  signedPath: string;
}

/** What the edge needs to answer headers and conditionals. */
export interface ObjectMeta {
  size: number;
  /** The object's current version (SHA-256 hex), or null when it has none (changed, never ingested). */
  version: string | null;
  lastModified: Date;
}

export interface Origin {
  /** Metadata of the object's current state, or null when there is no object at this key. */
  head(ref: ObjectRef, signal?: AbortSignal): Promise<ObjectMeta | null>;
  /**
   * Streams the inclusive byte range of the object, which must still be `ref.version`:
   * rejects with HaulError NOT_FOUND when it is gone, and the edge never splices versions.
   */
  read(ref: ObjectRef, range: { start: number; end: number }, signal?: AbortSignal): Promise<Readable>;
}
