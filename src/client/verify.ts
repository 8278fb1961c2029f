import { createHash, timingSafeEqual } from 'node:crypto';
import { merkleRoot, verifyAuditPath } from '../files/merkle.ts';

/**
 * Integrity checks for clients (DESIGN §7): a chunk against its manifest entry, a chunk against
 * the file's Merkle root with the audit path from `chunkProof` (no manifest needed), and a whole
 * manifest against the root. Every function answers a boolean and never throws on bad input:
 * anything malformed simply does not verify.
 */

/** What `chunkProof(fileId, index)` returns (the fields these checks read). */
export interface ChunkProof {
  index: number;
  /** The chunk's SHA-256, hex: the tree's leaf input. */
  sha256: string;
  treeSize: number;
  auditPath: readonly string[];
  merkleRoot: string;
}

const HEX64 = /^[0-9a-f]{64}$/i;

function hexEqual(a: Buffer, hex: string): boolean {
  if (!HEX64.test(hex)) return false;
  const b = Buffer.from(hex, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** SHA-256 of a chunk's bytes, hex. */
export const chunkDigest = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/**
 * The digest `sha256` (hex) is leaf `proof.index` of the tree whose root is `proof.merkleRoot`.
 * Pass `expectedRoot` (the File's `merkleRoot`, from a source you trust) to pin the root; a
 * proof is only as good as the root it is checked against.
 */
export function verifyChunkDigest(sha256: string, proof: ChunkProof, expectedRoot?: string): boolean {
  if (!HEX64.test(sha256) || !HEX64.test(proof.merkleRoot) || !proof.auditPath.every((h) => HEX64.test(h))) return false;
  if (expectedRoot !== undefined && expectedRoot.toLowerCase() !== proof.merkleRoot.toLowerCase()) return false;
  return verifyAuditPath(
    Buffer.from(sha256, 'hex'),
    proof.index,
    proof.treeSize,
    proof.auditPath.map((h) => Buffer.from(h, 'hex')),
    Buffer.from(proof.merkleRoot, 'hex'),
  );
}

/** The chunk's bytes hash to the proof's digest, and that digest is in the tree (see verifyChunkDigest). */
export function verifyChunk(bytes: Uint8Array, proof: ChunkProof, expectedRoot?: string): boolean {
  const digest = createHash('sha256').update(bytes).digest();
  return hexEqual(digest, proof.sha256) && verifyChunkDigest(proof.sha256, proof, expectedRoot);
}

/**
 * A complete manifest (every chunk, any order) is consistent: indexes 0…n−1 each once, byte
 * ranges tiling [0, size) when `size` and `chunkSize` are given, and the RFC 6962 root of the
 * digests equal to `root`.
 */
export function verifyManifest(
  chunks: readonly { index: number; sha256: string; startByte?: number; endByte?: number }[],
  root: string,
  geometry?: { size: number; chunkSize: number },
): boolean {
  const sorted = [...chunks].sort((a, b) => a.index - b.index);
  for (const [i, c] of sorted.entries()) {
    if (c.index !== i || !HEX64.test(c.sha256)) return false;
    if (geometry) {
      const start = i * geometry.chunkSize;
      const end = Math.min(start + geometry.chunkSize, geometry.size) - 1;
      if (c.startByte !== start || c.endByte !== end) return false;
    }
  }
  if (geometry && sorted.length !== Math.ceil(geometry.size / geometry.chunkSize)) return false;
  return hexEqual(merkleRoot(sorted.map((c) => Buffer.from(c.sha256, 'hex'))), root);
}
