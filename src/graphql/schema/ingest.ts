import { HaulError } from '../../errors.ts';
import { builder } from '../builder.ts';
import { FileRef } from './files.ts';

builder.objectField(FileRef, 'ingestProgress', (t) =>
  t.float({
    nullable: true,
    description: 'While PENDING: percent of the object hashed by its ingest job (0-100); null otherwise.',
    resolve: (file, _, ctx) => ctx.ingest?.progress(file) ?? null,
  }),
);

builder.mutationFields((t) => ({
  ingestFile: t.field({
    type: FileRef,
    description:
      'Admin only. Registers the object at `storageKey` as a file (PENDING) and queues its ingest: chunk digests, whole-file SHA-256 and Merkle root. Poll `file(id)` until READY or FAILED. Ingesting a key again rebuilds its manifest.',
    args: {
      storageKey: t.arg.string({ required: true }),
      name: t.arg.string({ required: true }),
      contentType: t.arg.string({ required: true }),
      chunkSize: t.arg.int({ description: 'Bytes per chunk, 1 KiB to 1 GiB (default 10 MiB).' }),
      checksum: t.arg.string({
        description: 'The SHA-256 (hex) the bytes must have; other bytes end FAILED with CHECKSUM_MISMATCH.',
      }),
    },
    resolve: (_, args, ctx) => {
      if (ctx.viewer.role !== 'admin') throw new HaulError('FORBIDDEN', 'ingestFile needs the admin role');
      if (!ctx.ingest) throw new HaulError('UNAVAILABLE', 'this process does not run ingest jobs');
      return ctx.ingest.ingestFile(ctx.viewer, args);
    },
  }),
}));
