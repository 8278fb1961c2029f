import type { PrismaClient } from '../db/client.ts';
import { HaulError } from '../errors.ts';
import { parseId } from '../sessions/ids.ts';
import { type FileView, toFileView } from '../sessions/model.ts';
import { createManifest } from './manifest.ts';

/** A position in the files listing: (createdAt, id), encoded opaquely for clients. */
interface FileCursor {
  createdAt: Date;
  id: string;
}

export const encodeFileCursor = (f: FileCursor): string =>
  Buffer.from(`${f.createdAt.toISOString()}|${f.id}`).toString('base64url');

export function decodeFileCursor(cursor: string): FileCursor {
  const [at, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const createdAt = new Date(at ?? '');
  if (!id || Number.isNaN(createdAt.getTime())) throw new HaulError('BAD_USER_INPUT', 'malformed cursor');
  try {
    return { createdAt, id: parseId(id, 'cursor') };
  } catch {
    throw new HaulError('BAD_USER_INPUT', 'malformed cursor');
  }
}

export const MAX_PAGE = 100;

export function createFileRepository(prisma: PrismaClient) {
  return {
    /** Chunk manifest pages and Merkle proofs (src/files/manifest.ts). */
    manifest: createManifest(prisma),

    async get(id: string): Promise<FileView | null> {
      const f = await prisma.file.findUnique({ where: { id: parseId(id, 'file') } });
      return f ? toFileView(f) : null;
    },

    /** Keyset page in (createdAt, id) order; one query, `limit + 1` rows to know if more follow. */
    async page(opts: { after?: string | null; limit: number }): Promise<{ items: FileView[]; hasNextPage: boolean }> {
      const c = opts.after ? decodeFileCursor(opts.after) : undefined;
      const rows = await prisma.file.findMany({
        where: c ? { OR: [{ createdAt: { gt: c.createdAt } }, { createdAt: c.createdAt, id: { gt: c.id } }] } : undefined,
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
        take: opts.limit + 1,
      });
      return { items: rows.slice(0, opts.limit).map(toFileView), hasNextPage: rows.length > opts.limit };
    },
  };
}

export type FileRepository = ReturnType<typeof createFileRepository>;
