import { HaulError } from '../errors.ts';
import { type BlobStat, type BlobStore, sameVersion, validateStorageKey } from './blob-store.ts';

/**
 * Which version of an object a key holds. Ingest records the object's SHA-256 with the size and
 * modification time it hashed (and the store's entity tag, when it has them); the edge trusts the
 * record only while the store still reports those, so bytes replaced behind haul's back are never
 * served under an old version's name (a signed URL binds one version; DESIGN §4).
 *
 * Records live in the store itself, under a reserved prefix, so every backend (and every edge
 * reading it) sees the same thing without a database.
 */
export interface BlobVersion {
  /** SHA-256 hex of the object's bytes: the version, and the strong ETag. */
  sha256: string;
  size: number;
  /** The store's modification time when the bytes were hashed (ISO 8601). */
  lastModified: string;
  /** The store's entity tag of the bytes hashed (S3), absent where the store has none. */
  etag?: string;
}

/** The record of `sha256`, the digest of the object version `stat` describes. */
export function versionOf(sha256: string, stat: BlobStat): BlobVersion {
  return {
    sha256,
    size: stat.size,
    lastModified: stat.lastModified.toISOString(),
    ...(stat.etag !== undefined ? { etag: stat.etag } : {}),
  };
}

/** The stat a record was written for. */
export function statOf(v: BlobVersion): BlobStat {
  return { size: v.size, lastModified: new Date(v.lastModified), etag: v.etag };
}

/** Keys under this prefix are haul's own; clients may neither ingest nor fetch them. */
export const RESERVED_PREFIX = '.haul/';
const VERSIONS = `${RESERVED_PREFIX}versions/`;

/** A storage key from a user (ingestFile, haul ingest, a signed URL): valid and not reserved. */
export function assertUserStorageKey(key: unknown): asserts key is string {
  validateStorageKey(key);
  if (key.startsWith(RESERVED_PREFIX) || key === RESERVED_PREFIX.slice(0, -1))
    throw new HaulError('BAD_USER_INPUT', `invalid storage key: "${RESERVED_PREFIX}" is reserved`, { field: 'storageKey' });
}

export const isReservedKey = (key: string) => key.startsWith(RESERVED_PREFIX);

export async function writeVersion(store: BlobStore, key: string, v: BlobVersion): Promise<void> {
  await store.put(`${VERSIONS}${key}.json`, Buffer.from(JSON.stringify(v)));
}

export async function readVersion(store: BlobStore, key: string): Promise<BlobVersion | null> {
  const recordKey = `${VERSIONS}${key}.json`;
  let stream: NodeJS.ReadableStream;
  try {
    stream = await store.read(recordKey);
  } catch (e) {
    if (e instanceof HaulError && e.code === 'NOT_FOUND') return null;
    throw e;
  }
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of stream as AsyncIterable<Buffer>) {
    size += part.length;
    if (size > 4096) throw new HaulError('INTERNAL', `version record of "${key}" is oversized`);
    parts.push(part);
  }
  const v = JSON.parse(Buffer.concat(parts).toString('utf8')) as Partial<BlobVersion>;
  if (
    typeof v.sha256 !== 'string' ||
    !/^[0-9a-f]{64}$/.test(v.sha256) ||
    typeof v.size !== 'number' ||
    typeof v.lastModified !== 'string' ||
    (v.etag !== undefined && typeof v.etag !== 'string')
  )
    throw new HaulError('INTERNAL', `version record of "${key}" is malformed`);
  return { sha256: v.sha256, size: v.size, lastModified: v.lastModified, ...(v.etag !== undefined ? { etag: v.etag } : {}) };
}

/**
 * The object's current version, or null when the bytes no longer match what was hashed (or
 * were never ingested): the caller answers 410 for any URL naming a version.
 */
export function currentVersion(stat: BlobStat, record: BlobVersion | null): string | null {
  if (!record) return null;
  return sameVersion(statOf(record), stat) ? record.sha256 : null;
}
