import type { ControlPlane } from './control.ts';
import { HaulClientError } from './errors.ts';
import type { Chunk } from './job.ts';
import { backoffDelay, DEFAULT_RETRY, sleep } from './retry.ts';
import { verifyManifest } from './verify.ts';

/** A file's identity and chunk manifest, as the engine downloads it. */
export interface Manifest {
  fileId: string;
  name: string;
  contentType: string;
  size: number;
  /** SHA-256 (hex) of the whole file: the version, the strong ETag, the final gate. */
  checksum: string;
  chunkSize: number;
  merkleRoot: string;
  chunks: Chunk[];
}

/**
 * Pages through `File.chunks` (1,000 a page) and checks the result before trusting it: indexes
 * 0…n−1 tiling [0, size) at `chunkSize`, and the RFC 6962 root of the digests equal to the file's
 * `merkleRoot`. A re-ingest between two pages mixes two versions and fails that check, so the
 * manifest is read again (once) before giving up with BAD_MANIFEST.
 */
export async function fetchManifest(control: ControlPlane, fileId: string, signal?: AbortSignal): Promise<Manifest> {
  for (let round = 1; ; round++) {
    const m = await readyManifest(control, fileId, signal);
    if (m.chunks.length === 0 && m.size === 0) return m;
    const entries = m.chunks.map((c) => ({ index: c.index, sha256: c.sha256 ?? '', startByte: c.start, endByte: c.end }));
    if (verifyManifest(entries, m.merkleRoot, { size: m.size, chunkSize: m.chunkSize })) return m;
    if (round >= 2)
      throw new HaulClientError('BAD_MANIFEST', `the manifest of file ${fileId} does not match its Merkle root`, {
        attempt: round,
      });
  }
}

/** A file being re-ingested is PENDING for a while: wait for it like the API's own retryable FILE_NOT_READY. */
async function readyManifest(control: ControlPlane, fileId: string, signal?: AbortSignal): Promise<Manifest> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetchOnce(control, fileId, signal);
    } catch (e) {
      if (!(e instanceof HaulClientError) || e.code !== 'FILE_NOT_READY' || attempt >= DEFAULT_RETRY.maxAttempts) throw e;
      e.attempt = attempt;
      await sleep(backoffDelay(attempt, DEFAULT_RETRY), signal);
    }
  }
}

async function fetchOnce(control: ControlPlane, fileId: string, signal?: AbortSignal): Promise<Manifest> {
  let after: string | null = null;
  let manifest: Manifest | undefined;
  for (;;) {
    const file = await control.manifestPage(fileId, after, signal);
    if (!file) throw new HaulClientError('NOT_FOUND', `file ${fileId} not found`);
    if (file.status !== 'READY' || !file.checksum || !file.merkleRoot)
      throw new HaulClientError('FILE_NOT_READY', `file ${fileId} is ${file.status.toLowerCase()}`);
    if (manifest && manifest.checksum !== file.checksum) {
      // Re-ingested between pages: start over.
      after = null;
      manifest = undefined;
      continue;
    }
    manifest ??= {
      fileId: file.id,
      name: file.name,
      contentType: file.contentType,
      size: file.sizeBytes,
      checksum: file.checksum,
      chunkSize: file.chunkSize,
      merkleRoot: file.merkleRoot,
      chunks: [],
    };
    for (const { node } of file.chunks.edges)
      manifest.chunks.push({ index: node.index, start: node.startByte, end: node.endByte, sha256: node.sha256 });
    if (!file.chunks.pageInfo.hasNextPage || !file.chunks.pageInfo.endCursor) break;
    after = file.chunks.pageInfo.endCursor;
  }
  manifest.chunks.sort((a, b) => a.index - b.index);
  return manifest;
}

/** Fixed-size chunks without digests, for a bare URL (no manifest). */
export function syntheticChunks(size: number, chunkSize: number): Chunk[] {
  const out: Chunk[] = [];
  for (let i = 0, at = 0; at < size; i++, at += chunkSize)
    out.push({ index: i, start: at, end: Math.min(at + chunkSize, size) - 1 });
  return out;
}
