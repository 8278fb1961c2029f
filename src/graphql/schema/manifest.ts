import { HaulError } from '../../errors.ts';
import {
  type ChunkPageRequest,
  type ChunkProofView,
  type ChunkView,
  decodeChunkCursor,
  encodeChunkCursor,
  MAX_CHUNK_PAGE,
} from '../../files/manifest.ts';
import { builder } from '../builder.ts';
import type { Context } from '../context.ts';
import { FileRef, PageInfo } from './files.ts';

const ChunkRef = builder.objectRef<ChunkView>('FileChunk').implement({
  description: 'One entry of a file’s manifest: verify the bytes of [startByte, endByte] against sha256.',
  fields: (t) => ({
    index: t.exposeInt('index'),
    startByte: t.expose('startByte', { type: 'ByteCount' }),
    endByte: t.expose('endByte', { type: 'ByteCount', description: 'Inclusive, like HTTP Range.' }),
    sha256: t.exposeString('sha256', { description: 'SHA-256 of the chunk’s bytes, hex.' }),
  }),
});

const ChunkEdge = builder.objectRef<{ node: ChunkView; cursor: string }>('FileChunkEdge').implement({
  fields: (t) => ({
    cursor: t.exposeString('cursor'),
    node: t.field({ type: ChunkRef, resolve: (e) => e.node }),
  }),
});

interface ChunkConnectionShape {
  edges: { node: ChunkView; cursor: string }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  totalCount: number;
}

const ChunkConnection = builder.objectRef<ChunkConnectionShape>('FileChunkConnection').implement({
  fields: (t) => ({
    edges: t.field({ type: [ChunkEdge], resolve: (c) => c.edges }),
    pageInfo: t.field({ type: PageInfo, resolve: (c) => c.pageInfo }),
    totalCount: t.exposeInt('totalCount', { description: 'Chunks in the whole manifest (the file’s chunkCount).' }),
  }),
});

const ChunkProofRef = builder.objectRef<ChunkProofView>('ChunkProof').implement({
  description:
    'An RFC 6962 inclusion proof: the chunk digest (leaf input) at `index`, with `auditPath`, hashes to `merkleRoot` in a tree of `treeSize` leaves.',
  fields: (t) => ({
    fileId: t.exposeID('fileId'),
    index: t.exposeInt('index'),
    startByte: t.expose('startByte', { type: 'ByteCount' }),
    endByte: t.expose('endByte', { type: 'ByteCount' }),
    sha256: t.exposeString('sha256', { description: 'The chunk’s SHA-256 (the leaf input), hex.' }),
    treeSize: t.exposeInt('treeSize'),
    auditPath: t.exposeStringList('auditPath', { description: 'Sibling hashes from the leaf up, hex (RFC 6962 PATH).' }),
    merkleRoot: t.exposeString('merkleRoot'),
  }),
});

/**
 * Per-request batching of `chunks` fields (DataLoader's scheduling: collect every call made
 * while GraphQL resolves one level, then one statement), so `files { chunks }` is not N+1.
 */
type Load = (req: ChunkPageRequest) => Promise<ChunkView[]>;
const loaders = new WeakMap<Context, Load>();

function chunkLoader(ctx: Context): Load {
  const existing = loaders.get(ctx);
  if (existing) return existing;
  let batch: { req: ChunkPageRequest; resolve(v: ChunkView[]): void; reject(e: unknown): void }[] = [];
  const flush = async () => {
    const todo = batch;
    batch = [];
    try {
      const pages = await ctx.files.manifest.pages(todo.map((b) => b.req));
      for (const b of todo) b.resolve(pages.get(`${b.req.fileId}:${b.req.after}:${b.req.limit}`) ?? []);
    } catch (e) {
      for (const b of todo) b.reject(e);
    }
  };
  const load: Load = (req) =>
    new Promise((resolve, reject) => {
      if (batch.length === 0) void Promise.resolve().then(() => process.nextTick(flush));
      batch.push({ req, resolve, reject });
    });
  loaders.set(ctx, load);
  return load;
}

builder.objectField(FileRef, 'chunks', (t) =>
  t.field({
    type: ChunkConnection,
    description: `The chunk manifest in index order, as a cursor connection; at most ${MAX_CHUNK_PAGE} a page. Empty until the file is READY.`,
    args: { first: t.arg.int({ defaultValue: 100 }), after: t.arg.string() },
    resolve: async (file, { first, after }, ctx) => {
      const limit = first ?? 100;
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_CHUNK_PAGE)
        throw new HaulError('BAD_USER_INPUT', `first must be between 1 and ${MAX_CHUNK_PAGE}`);
      const from = after ? decodeChunkCursor(after) : -1;
      if (file.status !== 'READY') return { edges: [], pageInfo: { hasNextPage: false, endCursor: null }, totalCount: 0 };
      // One row more than asked says whether another page follows.
      const rows = await chunkLoader(ctx)({ fileId: file.id, after: from, limit: limit + 1 });
      const edges = rows.slice(0, limit).map((node) => ({ node, cursor: encodeChunkCursor(node.index) }));
      return {
        edges,
        pageInfo: { hasNextPage: rows.length > limit, endCursor: edges.at(-1)?.cursor ?? null },
        totalCount: file.chunkCount,
      };
    },
  }),
);

builder.queryFields((t) => ({
  chunkProof: t.field({
    type: ChunkProofRef,
    description: 'The RFC 6962 audit path of one chunk: verify it without the whole manifest (SDK: verifyChunk).',
    args: { fileId: t.arg.id({ required: true }), index: t.arg.int({ required: true }) },
    resolve: (_, { fileId, index }, ctx) => ctx.files.manifest.proof(String(fileId), index),
  }),
}));
