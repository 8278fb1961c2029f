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

/**
 * The bytes of a range pulled chunk by chunk, without stream machinery: what the handler sends
 * when the origin offers it (`Origin.chunks`). A chunk held in memory (a cached slice) comes back
 * synchronously, so a warm response is a few `res.write` calls.
 */
export interface ChunkSource {
  /**
   * The next chunk: a Buffer when it is ready now, a promise when it must be read first (it
   * rejects when the origin fails), null after the last one (or a promise of null). Called again
   * only once the previous chunk has been handed on; chunks are never empty.
   */
  next(): Buffer | null | Promise<Buffer | null>;
  /** Releases whatever the source holds (reads ahead, open files, shared fills). Idempotent; called on every end. */
  close(): void;
  /**
   * Optional: the consumer no longer references `chunk` (the socket has written it), so the
   * source may reuse its memory for a later chunk instead of allocating (and collecting) a new one.
   */
  recycle?(chunk: Buffer): void;
}

export interface Origin {
  /** Metadata of the object's current state, or null when there is no object at this key. */
  head(ref: ObjectRef, signal?: AbortSignal): Promise<ObjectMeta | null>;
  /**
   * Streams the inclusive byte range of the object, which must still be `ref.version`:
   * rejects with HaulError NOT_FOUND when it is gone, and the edge never splices versions.
   */
  read(ref: ObjectRef, range: { start: number; end: number }, signal?: AbortSignal): Promise<Readable>;
  /**
   * Optional fast path of `read`, with the same checks and errors: resolves once the first bytes
   * are known to be readable (so a vanished object is still a clean status), then hands chunks
   * out on demand. `signal` covers the call itself; afterwards the caller calls `close()`.
   */
  chunks?(ref: ObjectRef, range: { start: number; end: number }, signal?: AbortSignal): Promise<ChunkSource>;
  /**
   * Optional: fills `into` with the `into.length` bytes at `start` (a slice fill of the cache),
   * with the same version checks as `read`; rejects rather than return fewer bytes.
   */
  readInto?(ref: ObjectRef, start: number, into: Buffer, signal?: AbortSignal): Promise<void>;
}
