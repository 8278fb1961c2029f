import { BoundedMap } from '../bounded-map.ts';
import type { PrismaClient } from '../db/client.ts';
import { HaulError } from '../errors.ts';
import { parseId } from '../sessions/ids.ts';
import { auditPathFromLevels, merkleLevels } from './merkle.ts';

/** One manifest entry: the chunk's inclusive byte range and SHA-256 (DESIGN §3). */
export interface ChunkView {
  index: number;
  startByte: number;
  endByte: number;
  sha256: string;
}

/** An RFC 6962 inclusion proof of one chunk digest in its file's Merkle tree. */
export interface ChunkProofView {
  fileId: string;
  index: number;
  startByte: number;
  endByte: number;
  /** The leaf input: the chunk's SHA-256, hex. */
  sha256: string;
  treeSize: number;
  /** Sibling hashes, deepest first, hex. */
  auditPath: string[];
  merkleRoot: string;
}

/** Largest manifest page: a 50 GiB file (5,120 chunks) pages in 6 queries. */
export const MAX_CHUNK_PAGE = 1000;

export const encodeChunkCursor = (index: number): string => Buffer.from(`c${index}`).toString('base64url');

export function decodeChunkCursor(cursor: string): number {
  const m = /^c(\d{1,10})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  const index = m ? Number(m[1]) : Number.NaN;
  if (!Number.isSafeInteger(index)) throw new HaulError('BAD_USER_INPUT', 'malformed cursor');
  return index;
}

export interface ChunkPageRequest {
  fileId: string;
  /** Return chunks with index > after (-1: from the start). */
  after: number;
  limit: number;
}

interface RawChunk {
  fileId: string;
  index: number;
  startByte: bigint | number | string;
  endByte: bigint | number | string;
  sha256: string;
}

interface Tree {
  /** Leaf inputs (chunk digests) in order. */
  digests: Buffer[];
  levels: Buffer[][];
  root: string;
}

/** Trees kept per process: 16 × 5,120 leaves ≈ 16 × 330 KiB of hashes at most. */
const TREE_CACHE = 16;

/**
 * Reads of the chunk manifest, built to keep SQL bounded:
 * - `pages` answers many `chunks(first, after)` fields in one statement (a LATERAL join walks
 *   the primary key of each file), so listing files with their manifests is not N+1;
 * - `proof` needs every leaf digest of the file: one indexed query selecting only `sha256`,
 *   then the tree's levels are cached by (file, Merkle root), so later proofs for the same file
 *   cost no chunk query and O(log n) hashing. A re-ingest changes the root, hence the key.
 */
export function createManifest(prisma: PrismaClient) {
  const trees = new BoundedMap<string, Promise<Tree>>(TREE_CACHE);

  async function pages(requests: readonly ChunkPageRequest[]): Promise<Map<string, ChunkView[]>> {
    const out = new Map<string, ChunkView[]>();
    // One statement per distinct (after, limit); aliases asking for different pages are rare.
    const groups = new Map<string, ChunkPageRequest[]>();
    for (const r of requests) {
      const k = `${r.after}:${r.limit}`;
      groups.set(k, [...(groups.get(k) ?? []), r]);
    }
    for (const group of groups.values()) {
      const { after, limit } = group[0] as ChunkPageRequest;
      const ids = [...new Set(group.map((r) => r.fileId))];
      const rows = await prisma.$queryRaw<RawChunk[]>`
        SELECT c."fileId"::text AS "fileId", c."index", c."startByte", c."endByte", c."sha256"
        FROM unnest(${ids}::uuid[]) AS f(id)
        CROSS JOIN LATERAL (
          SELECT * FROM "FileChunk" WHERE "fileId" = f.id AND "index" > ${after}
          ORDER BY "index" LIMIT ${limit}
        ) AS c
        ORDER BY c."fileId", c."index"`;
      for (const id of ids) out.set(`${id}:${after}:${limit}`, []);
      for (const r of rows) {
        out.get(`${r.fileId}:${after}:${limit}`)?.push({
          index: Number(r.index),
          startByte: Number(r.startByte),
          endByte: Number(r.endByte),
          sha256: r.sha256,
        });
      }
    }
    return out;
  }

  async function buildTree(fileId: string, root: string): Promise<Tree> {
    const rows = await prisma.fileChunk.findMany({ where: { fileId }, orderBy: { index: 'asc' }, select: { sha256: true } });
    const digests = rows.map((r) => Buffer.from(r.sha256, 'hex'));
    const levels = merkleLevels(digests);
    const top = rows.length === 0 ? undefined : levels[levels.length - 1]?.[0]?.toString('hex');
    // The rows changed between reading the file and its chunks (a re-ingest committed).
    if (top !== root) throw new HaulError('FILE_NOT_READY', 'the manifest is being rebuilt; retry');
    return { digests, levels, root };
  }

  function treeFor(fileId: string, root: string): Promise<Tree> {
    const key = `${fileId}:${root}`;
    let t = trees.get(key);
    if (t) {
      // Refresh its place: the Map's order is the LRU order.
      trees.delete(key);
      trees.set(key, t);
      return t;
    }
    t = buildTree(fileId, root);
    trees.set(key, t);
    t.catch(() => trees.delete(key));
    return t;
  }

  async function proof(fileId: string, index: number): Promise<ChunkProofView> {
    const file = await prisma.file.findUnique({ where: { id: parseId(fileId, 'file') } });
    if (!file) throw new HaulError('NOT_FOUND', 'file not found');
    if (file.status !== 'READY' || !file.merkleRoot)
      throw new HaulError('FILE_NOT_READY', `file is ${file.status.toLowerCase()}`);
    if (!Number.isSafeInteger(index) || index < 0 || index >= file.chunkCount)
      throw new HaulError('BAD_USER_INPUT', `chunk index ${index} out of range (file has ${file.chunkCount} chunks)`, {
        field: 'index',
      });
    const tree = await treeFor(file.id, file.merkleRoot);
    const digest = tree.digests[index];
    if (!digest || tree.digests.length !== file.chunkCount)
      throw new HaulError('FILE_NOT_READY', 'the manifest is being rebuilt; retry');
    const size = Number(file.sizeBytes);
    return {
      fileId: file.id,
      index,
      startByte: index * file.chunkSize,
      endByte: Math.min((index + 1) * file.chunkSize, size) - 1,
      sha256: digest.toString('hex'),
      treeSize: file.chunkCount,
      auditPath: auditPathFromLevels(tree.levels, index).map((b) => b.toString('hex')),
      merkleRoot: file.merkleRoot,
    };
  }

  return { pages, proof };
}

export type Manifest = ReturnType<typeof createManifest>;
