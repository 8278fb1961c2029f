import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * RFC 6962 (Certificate Transparency) Merkle Tree Hash, DESIGN §7.
 *
 *   MTH({})     = SHA-256()
 *   MTH({d0})   = SHA-256(0x00 ‖ d0)                       (leaf hash)
 *   MTH(D[n])   = SHA-256(0x01 ‖ MTH(D[0:k]) ‖ MTH(D[k:n])) k = largest power of two < n
 *
 * Leaf inputs are arbitrary byte strings: haul passes each chunk's 32-byte SHA-256 digest, and
 * the CT test vectors pass short strings. Using the standard (and not a home-made tree) means
 * any RFC 6962 / RFC 9162 verifier can check a chunk proof.
 */

const LEAF = Buffer.from([0x00]);
const NODE = Buffer.from([0x01]);

export const EMPTY_ROOT: Buffer = createHash('sha256').digest();

export function leafHash(data: Uint8Array): Buffer {
  return createHash('sha256').update(LEAF).update(data).digest();
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash('sha256').update(NODE).update(left).update(right).digest();
}

/**
 * Every level of the tree, bottom-up (levels[0] = leaf hashes, last = [root]).
 *
 * Pairing neighbours level by level and promoting an odd last node unchanged builds exactly the
 * RFC 6962 tree: the "largest power of two below n" split puts every complete 2^j block on the
 * left, so the only unpaired node at any level is the right-most one, which RFC 6962 also
 * hashes no further until it meets its left sibling higher up. n-1 node hashes in all: O(n).
 */
export function merkleLevels(leaves: readonly Uint8Array[]): Buffer[][] {
  const out: Buffer[][] = [leaves.map(leafHash)];
  let level = out[0] as Buffer[];
  while (level.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(nodeHash(level[i] as Buffer, level[i + 1] as Buffer));
    if (level.length % 2 === 1) next.push(level[level.length - 1] as Buffer);
    out.push(next);
    level = next;
  }
  return out;
}

/** MTH over the leaf inputs (chunk digests). The empty list's root is SHA-256 of "". */
export function merkleRoot(leaves: readonly Uint8Array[]): Buffer {
  if (leaves.length === 0) return Buffer.from(EMPTY_ROOT);
  const all = merkleLevels(leaves);
  return (all[all.length - 1] as Buffer[])[0] as Buffer;
}

/**
 * RFC 6962 §2.1.1 PATH(m, D[n]): the sibling hashes from the leaf up to the root, deepest first.
 * A node with no sibling at some level (the promoted right-most node) contributes nothing there,
 * which is what the recursive definition produces too.
 */
export function auditPath(leaves: readonly Uint8Array[], index: number): Buffer[] {
  if (!Number.isSafeInteger(index) || index < 0 || index >= leaves.length) {
    throw new RangeError(`leaf index ${index} out of range for a tree of ${leaves.length}`);
  }
  return auditPathFromLevels(merkleLevels(leaves), index);
}

/**
 * The audit path read off levels built once by `merkleLevels`: O(log n) per proof, so a server
 * answering many proofs for one file hashes its tree once (n − 1 node hashes), not per call.
 */
export function auditPathFromLevels(levels: readonly (readonly Buffer[])[], index: number): Buffer[] {
  const size = levels[0]?.length ?? 0;
  if (!Number.isSafeInteger(index) || index < 0 || index >= size) {
    throw new RangeError(`leaf index ${index} out of range for a tree of ${size}`);
  }
  const path: Buffer[] = [];
  let i = index;
  for (const level of levels) {
    if (level.length === 1) break;
    const sibling = i ^ 1;
    if (sibling < level.length) path.push(level[sibling] as Buffer);
    i = Math.floor(i / 2);
  }
  return path;
}

/**
 * RFC 9162 §2.1.3.2 inclusion-proof verification. `leafData` is the leaf input (a chunk's
 * digest); it is leaf-hashed here, so a caller cannot accidentally pass an interior node.
 * Division instead of bit shifts keeps indexes above 2^31 correct.
 */
export function verifyAuditPath(
  leafData: Uint8Array,
  index: number,
  treeSize: number,
  path: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(treeSize) || index < 0 || index >= treeSize) return false;
  let fn = index;
  let sn = treeSize - 1;
  let r = leafHash(leafData);
  for (const p of path) {
    if (sn === 0) return false; // path longer than the tree is tall
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      // Skip the levels where our node was promoted without a sibling.
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn /= 2;
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && r.length === root.length && timingSafeEqual(r, root);
}
