import { createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  auditPath,
  auditPathFromLevels,
  EMPTY_ROOT,
  leafHash,
  merkleLevels,
  merkleRoot,
  nodeHash,
  verifyAuditPath,
} from '../../src/files/merkle.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const unhex = (s: string) => Buffer.from(s, 'hex');

// RFC 6962 test vectors as published by Certificate Transparency (merkle_tree_test) and
// transparency-dev/merkle (proof/verify_test.go): the leaf inputs, the roots of the trees of
// the first 1..8 leaves, and inclusion proofs (there 1-based leaf numbers; here 0-based).
const CT_LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map(unhex);
const CT_ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const CT_PATHS: { index: number; size: number; path: string[] }[] = [
  { index: 0, size: 1, path: [] },
  {
    index: 0,
    size: 8,
    path: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    index: 5,
    size: 8,
    path: [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
  { index: 2, size: 3, path: ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125'] },
  {
    index: 1,
    size: 5,
    path: [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  },
];

/** The RFC 6962 §2.1 definitions, written out literally: the oracle for the fast code. */
function largestPow2Below(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
function refRoot(d: Buffer[]): Buffer {
  if (d.length === 0) return createHash('sha256').digest();
  if (d.length === 1) return leafHash(d[0] as Buffer);
  const k = largestPow2Below(d.length);
  return nodeHash(refRoot(d.slice(0, k)), refRoot(d.slice(k)));
}
function refPath(m: number, d: Buffer[]): Buffer[] {
  if (d.length <= 1) return [];
  const k = largestPow2Below(d.length);
  return m < k ? [...refPath(m, d.slice(0, k)), refRoot(d.slice(k))] : [...refPath(m - k, d.slice(k)), refRoot(d.slice(0, k))];
}

function flipBit(b: Uint8Array, bit: number): Buffer {
  const out = Buffer.from(b);
  const i = Math.floor(bit / 8) % out.length;
  out[i] = (out[i] as number) ^ (1 << (bit % 8));
  return out;
}

describe('RFC 6962 Merkle tree', () => {
  it('the empty tree hashes to SHA-256("")', () => {
    expect(hex(merkleRoot([]))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(hex(EMPTY_ROOT)).toBe(hex(merkleRoot([])));
  });

  it('matches the published CT roots for sizes 1..8', () => {
    for (let n = 1; n <= 8; n++) expect(hex(merkleRoot(CT_LEAVES.slice(0, n))), `size ${n}`).toBe(CT_ROOTS[n - 1]);
  });

  it('produces and verifies the published CT audit paths', () => {
    for (const { index, size, path } of CT_PATHS) {
      const leaves = CT_LEAVES.slice(0, size);
      expect(auditPath(leaves, index).map(hex), `${index}/${size}`).toEqual(path);
      const root = unhex(CT_ROOTS[size - 1] as string);
      expect(verifyAuditPath(leaves[index] as Buffer, index, size, path.map(unhex), root)).toBe(true);
    }
  });

  it('agrees with the literal recursive definition on random leaf lists', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 70 }), (arrs) => {
        const leaves = arrs.map((a) => Buffer.from(a));
        const root = merkleRoot(leaves);
        expect(hex(root)).toBe(hex(refRoot(leaves)));
        // The server's cached form: levels built once, paths read off them.
        const levels = merkleLevels(leaves);
        for (let i = 0; i < leaves.length; i++) {
          const path = auditPath(leaves, i);
          expect(path.map(hex)).toEqual(refPath(i, leaves).map(hex));
          expect(auditPathFromLevels(levels, i).map(hex)).toEqual(path.map(hex));
          expect(verifyAuditPath(leaves[i] as Buffer, i, leaves.length, path, root)).toBe(true);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('rejects any single flipped bit in the leaf, the path or the root', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 70 })
          .chain((n) =>
            fc.record({ n: fc.constant(n), index: fc.nat({ max: n - 1 }), bit: fc.nat({ max: 255 }), which: fc.nat() }),
          ),
        ({ n, index, bit, which }) => {
          const leaves = Array.from({ length: n }, (_, i) => createHash('sha256').update(`chunk ${i}`).digest());
          const root = merkleRoot(leaves);
          const path = auditPath(leaves, index);
          const leaf = leaves[index] as Buffer;
          expect(verifyAuditPath(flipBit(leaf, bit), index, n, path, root)).toBe(false);
          expect(verifyAuditPath(leaf, index, n, path, flipBit(root, bit))).toBe(false);
          if (path.length > 0) {
            const j = which % path.length;
            const bad = path.map((p, k) => (k === j ? flipBit(p, bit) : p));
            expect(verifyAuditPath(leaf, index, n, bad, root)).toBe(false);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('rejects a proof offered for the wrong index, size or path length', () => {
    const leaves = CT_LEAVES;
    const root = merkleRoot(leaves);
    const path = auditPath(leaves, 5);
    const leaf = leaves[5] as Buffer;
    expect(verifyAuditPath(leaf, 4, 8, path, root)).toBe(false);
    // (Sizes 7 and 8 give leaf 5 paths of the same shape: the root, not the proof, binds the
    // size. Size 6 has a shorter path, so the 8-leaf proof must not pass for it.)
    expect(verifyAuditPath(leaf, 5, 6, path, root)).toBe(false);
    expect(verifyAuditPath(leaf, 8, 8, path, root)).toBe(false);
    expect(verifyAuditPath(leaf, -1, 8, path, root)).toBe(false);
    expect(verifyAuditPath(leaf, 5, 8, path.slice(1), root)).toBe(false);
    expect(verifyAuditPath(leaf, 5, 8, [...path, root], root)).toBe(false);
    expect(verifyAuditPath(leaf, 5, 8, path, root.subarray(0, 31))).toBe(false);
    expect(() => auditPath(leaves, 8)).toThrow(RangeError);
  });

  it('handles a 50 GiB manifest (5,120 chunk digests) quickly', () => {
    const leaves = Array.from({ length: 5120 }, () => randomBytes(32));
    const t0 = performance.now();
    const root = merkleRoot(leaves);
    const path = auditPath(leaves, 5119);
    const elapsed = performance.now() - t0;
    // 5120 = 4096 + 1024: the last leaf sits 10 levels deep in the right subtree, plus the left root.
    expect(path).toHaveLength(11);
    expect(auditPath(leaves, 0)).toHaveLength(13);
    expect(verifyAuditPath(leaves[5119] as Buffer, 5119, 5120, path, root)).toBe(true);
    expect(verifyAuditPath(leaves[0] as Buffer, 0, 5120, auditPath(leaves, 0), root)).toBe(true);
    expect(elapsed).toBeLessThan(1000);
  });
});
