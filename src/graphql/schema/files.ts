import { HaulError } from '../../errors.ts';
import { encodeFileCursor, MAX_PAGE } from '../../files/repository.ts';
import type { FileView } from '../../sessions/model.ts';
import { builder, FileStatusEnum } from '../builder.ts';

export const FileRef = builder.objectRef<FileView>('File').implement({
  description: 'A downloadable file and the integrity data computed at ingest.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    sizeBytes: t.expose('sizeBytes', { type: 'ByteCount' }),
    contentType: t.exposeString('contentType'),
    checksum: t.exposeString('checksum', { nullable: true, description: 'SHA-256 (hex) of the whole file; null until READY.' }),
    chunkSize: t.exposeInt('chunkSize'),
    chunkCount: t.exposeInt('chunkCount'),
    merkleRoot: t.exposeString('merkleRoot', {
      nullable: true,
      description: 'RFC 6962 Merkle root (hex) over the chunk SHA-256 digests.',
    }),
    status: t.expose('status', { type: FileStatusEnum }),
    failReason: t.exposeString('failReason', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

export const PageInfo = builder.objectRef<{ hasNextPage: boolean; endCursor: string | null }>('PageInfo').implement({
  fields: (t) => ({
    hasNextPage: t.exposeBoolean('hasNextPage'),
    endCursor: t.exposeString('endCursor', { nullable: true }),
  }),
});

const FileEdge = builder.objectRef<{ node: FileView; cursor: string }>('FileEdge').implement({
  fields: (t) => ({
    cursor: t.exposeString('cursor'),
    node: t.field({ type: FileRef, resolve: (e) => e.node }),
  }),
});

const FileConnection = builder
  .objectRef<{ edges: { node: FileView; cursor: string }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } }>(
    'FileConnection',
  )
  .implement({
    fields: (t) => ({
      edges: t.field({ type: [FileEdge], resolve: (c) => c.edges }),
      pageInfo: t.field({ type: PageInfo, resolve: (c) => c.pageInfo }),
    }),
  });

builder.queryFields((t) => ({
  file: t.field({
    type: FileRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_, { id }, ctx) => {
      try {
        return await ctx.files.get(String(id));
      } catch (e) {
        // A malformed id names no file: null, like any other unknown id.
        if (e instanceof HaulError && e.code === 'NOT_FOUND') return null;
        throw e;
      }
    },
  }),
  files: t.field({
    type: FileConnection,
    description: `Files in ingest order, as a cursor connection; at most ${MAX_PAGE} a page.`,
    args: { first: t.arg.int({ defaultValue: 20 }), after: t.arg.string() },
    resolve: async (_, { first, after }, ctx) => {
      const limit = first ?? 20;
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE)
        throw new HaulError('BAD_USER_INPUT', `first must be between 1 and ${MAX_PAGE}`);
      const { items, hasNextPage } = await ctx.files.page({ after, limit });
      const edges = items.map((node) => ({ node, cursor: encodeFileCursor(node) }));
      return { edges, pageInfo: { hasNextPage, endCursor: edges.at(-1)?.cursor ?? null } };
    },
  }),
}));
