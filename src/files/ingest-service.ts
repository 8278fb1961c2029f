import type { Viewer } from '../auth/jwt.ts';
import type { PrismaClient } from '../db/client.ts';
import { HaulError } from '../errors.ts';
import { type IngestJobData, ingestJobId, type JobQueue } from '../jobs/queues.ts';
import { type FileView, toFileView } from '../sessions/model.ts';
import { assertUserStorageKey } from '../storage/versions.ts';
import { DEFAULT_CHUNK_SIZE, validateChunkSize } from './chunking.ts';

export interface IngestFileInput {
  storageKey: string;
  name: string;
  contentType: string;
  chunkSize?: number | null;
  /** SHA-256 the caller expects (optional): other bytes end FAILED, CHECKSUM_MISMATCH. */
  checksum?: string | null;
}

const MAX_NAME = 255;
// RFC 9110 media type: token "/" token, then optional parameters; no control characters.
const MEDIA_TYPE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+\/[!#$%&'*+.^_`|~0-9A-Za-z-]+(\s*;[\x20-\x7e]*)?$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing them is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

const bad = (field: string, message: string) => new HaulError('BAD_USER_INPUT', message, { field });

/**
 * The control-plane side of ingest (DESIGN §5 `ingestFile`): validate, record the File as
 * PENDING, enqueue the job, answer at once. The bytes are never touched here; the job (in a
 * `haul worker`, or in-process when embedded) reads them.
 */
export function createIngestService(deps: { prisma: PrismaClient; jobs: JobQueue }) {
  const { prisma, jobs } = deps;
  return {
    async ingestFile(viewer: Viewer, input: IngestFileInput): Promise<FileView> {
      if (viewer.role !== 'admin') throw new HaulError('FORBIDDEN', 'ingestFile needs the admin role');
      assertUserStorageKey(input.storageKey);
      const chunkSize = validateChunkSize(input.chunkSize ?? DEFAULT_CHUNK_SIZE);
      // The name and type become Content-Disposition and Content-Type on the edge.
      if (!input.name || input.name.length > MAX_NAME || CONTROL.test(input.name))
        throw bad('name', `name must be 1-${MAX_NAME} characters without control characters`);
      if (input.contentType.length > MAX_NAME || !MEDIA_TYPE.test(input.contentType))
        throw bad('contentType', 'contentType must be a media type such as application/octet-stream');
      const checksum = input.checksum ?? undefined;
      if (checksum !== undefined && !/^[0-9a-fA-F]{64}$/.test(checksum))
        throw bad('checksum', 'checksum must be 64 hex characters (SHA-256)');

      // One row per storage key; a repeated ingest resets it to PENDING with the new metadata.
      const pending = {
        name: input.name,
        contentType: input.contentType,
        chunkSize,
        status: 'PENDING' as const,
        failReason: null,
        checksum: null,
        merkleRoot: null,
      };
      const file = await prisma.file.upsert({
        where: { storageKey: input.storageKey },
        create: { storageKey: input.storageKey, sizeBytes: 0n, ...pending },
        update: pending,
      });
      const data: IngestJobData = {
        fileId: file.id,
        storageKey: file.storageKey,
        name: file.name,
        contentType: file.contentType,
        chunkSize,
        ...(checksum ? { checksum: checksum.toLowerCase() } : {}),
      };
      try {
        await jobs.enqueue('ingest', data, { jobId: ingestJobId(data) });
      } catch (e) {
        // A PENDING row with no job would wait forever: say why it never started.
        const reason = `could not enqueue the ingest job: ${e instanceof Error ? e.message : String(e)}`;
        await prisma.file.update({ where: { id: file.id }, data: { status: 'FAILED', failReason: reason } }).catch(() => {});
        throw new HaulError('UNAVAILABLE', 'the job queue is unavailable; retry');
      }
      return toFileView(file);
    },

    /** Percent done of a PENDING file's ingest job; null otherwise (or when the queue cannot say). */
    async progress(file: Pick<FileView, 'status' | 'storageKey' | 'chunkSize'>): Promise<number | null> {
      if (file.status !== 'PENDING') return null;
      return jobs.progress('ingest', ingestJobId(file)).catch(() => null);
    },
  };
}

export type IngestService = ReturnType<typeof createIngestService>;
