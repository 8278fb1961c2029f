import type { Viewer } from '../auth/jwt.ts';
import type { PrismaClient } from '../db/client.ts';
import { HaulError } from '../errors.ts';
import type { DownloadSession } from '../generated/prisma/client.ts';
import type { DownloadUrlSigner } from './download-url.ts';
import { parseClientId, parseId } from './ids.ts';
import { embeddedLiveState, type LiveState } from './live.ts';
import { type FileView, type SessionStatus, type SessionView, type SessionWithUrl, toFileView, toSessionView } from './model.ts';
import { type ProgressReport, validateReport, validateReportShape } from './progress.ts';

export interface SessionDeps {
  prisma: PrismaClient;
  signer: DownloadUrlSigner;
  /** Session lifetime, extended by activity (default 72 h). */
  sessionTtlMs: number;
  /** Download URL lifetime (default 12 h). */
  urlTtlMs: number;
  now?: () => Date;
  /** The realtime layer: hot progress path, read overlay, event publishing (default: embedded, no events). */
  live?: LiveState;
}

const LIVE: SessionStatus[] = ['ACTIVE', 'PAUSED'];

/** A DownloadSession row as a raw query returns it (drivers differ on bigint and date types). */
type RawSession = Omit<
  DownloadSession,
  | 'totalBytes'
  | 'bytesConfirmed'
  | 'transferRateBps'
  | 'urlExpiresAt'
  | 'expiresAt'
  | 'completedAt'
  | 'createdAt'
  | 'updatedAt'
  | 'status'
> & {
  status: string;
  totalBytes: bigint | number | string;
  bytesConfirmed: bigint | number | string;
  transferRateBps: bigint | number | string;
  urlExpiresAt: Date | string;
  expiresAt: Date | string;
  completedAt: Date | string | null;
  createdAt: Date | string;
  updatedAt: Date | string;
};

const fromRaw = (r: RawSession): DownloadSession => ({
  ...r,
  status: r.status as SessionStatus,
  completedChunks: r.completedChunks ?? [],
  totalBytes: BigInt(r.totalBytes),
  bytesConfirmed: BigInt(r.bytesConfirmed),
  transferRateBps: BigInt(r.transferRateBps),
  urlExpiresAt: new Date(r.urlExpiresAt),
  expiresAt: new Date(r.expiresAt),
  completedAt: r.completedAt === null ? null : new Date(r.completedAt),
  createdAt: new Date(r.createdAt),
  updatedAt: new Date(r.updatedAt),
});

/**
 * The session state machine (DESIGN §4): ACTIVE ⇄ PAUSED, either → COMPLETED, any live
 * session past its expiry → EXPIRED. Every operation checks ownership first; progress is
 * merged monotonically in single SQL statements so concurrent reports never lose a chunk.
 */
export function createSessionService(deps: SessionDeps) {
  const { prisma, signer } = deps;
  const now = deps.now ?? (() => new Date());
  const live = deps.live ?? embeddedLiveState();
  const view = async (row: DownloadSession) => (await live.overlay([row]))[0] as SessionView;

  async function loadFile(fileId: string): Promise<FileView> {
    const file = await prisma.file.findUnique({ where: { id: parseId(fileId, 'file') } });
    if (!file) throw new HaulError('NOT_FOUND', 'file not found');
    return toFileView(file);
  }

  /** Loads a session the viewer may act on; another user's session is indistinguishable from none. */
  async function loadOwned(viewer: Viewer, sessionId: string): Promise<DownloadSession> {
    const s = await prisma.downloadSession.findUnique({ where: { id: parseId(sessionId, 'session') } });
    if (!s || (s.ownerId !== viewer.sub && viewer.role !== 'admin')) throw new HaulError('NOT_FOUND', 'session not found');
    return s;
  }

  /** Moves a live session past its expiry to EXPIRED (write-through); returns the fresh row. */
  async function expireIfDue(s: DownloadSession): Promise<DownloadSession> {
    if (!LIVE.includes(s.status) || s.expiresAt > now()) return s;
    // With Redis, a report extends the session there first; PostgreSQL's expiry learns it at the
    // next flush. A session active since the last flush is not expired on PostgreSQL's word alone.
    const [merged] = await live.overlay([s]);
    if (merged && merged.expiresAt > now()) return s;
    const { count } = await prisma.downloadSession.updateMany({
      where: { id: s.id, status: { in: LIVE } },
      data: { status: 'EXPIRED' },
    });
    const fresh = await prisma.downloadSession.findUniqueOrThrow({ where: { id: s.id } });
    if (count === 1) await live.changed('EXPIRED', fresh, await loadFile(fresh.fileId));
    return fresh;
  }

  /** Loads, checks ownership and expiry, and refuses terminal states for mutations. */
  async function loadLive(viewer: Viewer, sessionId: string, action: string): Promise<DownloadSession> {
    const s = await expireIfDue(await loadOwned(viewer, sessionId));
    if (s.status === 'EXPIRED') throw new HaulError('SESSION_EXPIRED', 'session expired; start a new download');
    if (s.status === 'COMPLETED') throw new HaulError('INVALID_TRANSITION', `cannot ${action} a completed session`);
    return s;
  }

  async function withUrl(s: DownloadSession, file: FileView): Promise<SessionWithUrl> {
    if (!file.checksum) throw new HaulError('FILE_NOT_READY', 'file has no checksum yet');
    const downloadUrl = await signer.sign(
      { storageKey: file.storageKey, version: file.checksum, filename: file.name, contentType: file.contentType },
      s.urlExpiresAt,
    );
    return { session: toSessionView(s), file, downloadUrl };
  }

  const expiries = () => {
    const t = now().getTime();
    return { urlExpiresAt: new Date(t + deps.urlTtlMs), expiresAt: new Date(t + deps.sessionTtlMs) };
  };

  /**
   * Merges a validated report in one statement: the chunk set becomes the union, and
   * bytesConfirmed the largest of the stored value, the reported offset and the end of the
   * done-chunk prefix (counted as the sorted distinct indexes i with c = i − 1). Every SET
   * expression reads the row PostgreSQL re-checks after waiting for a concurrent writer, and
   * both updates are monotonic, so concurrent reports commute and none is lost.
   */
  async function applyProgress(s: DownloadSession, file: FileView, report: ProgressReport): Promise<DownloadSession> {
    const chunks = [...new Set(report.completedChunks ?? [])];
    const offset = BigInt(report.bytesConfirmed ?? 0);
    const rate = report.transferRateBps == null ? null : BigInt(report.transferRateBps);
    const { expiresAt } = expiries();
    const rows = await prisma.$queryRaw<RawSession[]>`
      UPDATE "DownloadSession" SET
        "completedChunks" = (SELECT coalesce(array_agg(DISTINCT c ORDER BY c), '{}')
                             FROM unnest(coalesce("completedChunks", '{}') || ${chunks}::int[]) AS c),
        "bytesConfirmed" = GREATEST("bytesConfirmed", ${offset}, LEAST(${BigInt(file.sizeBytes)}::bigint, ${BigInt(file.chunkSize)}::bigint * (
          SELECT count(*) FROM (
            SELECT c, row_number() OVER (ORDER BY c) AS i
            FROM (SELECT DISTINCT c FROM unnest(coalesce("completedChunks", '{}') || ${chunks}::int[]) AS c) AS d
          ) AS t WHERE c = i - 1))),
        "transferRateBps" = coalesce(${rate}::bigint, "transferRateBps"),
        "expiresAt" = GREATEST("expiresAt", ${expiresAt}),
        "updatedAt" = now()
      WHERE "id" = ${s.id}::uuid AND "status" IN ('ACTIVE', 'PAUSED')
      RETURNING "id"::text, "fileId"::text, "ownerId", "clientId", "status"::text, "totalBytes", "bytesConfirmed",
        "completedChunks", "transferRateBps", "urlExpiresAt", "expiresAt", "completedAt", "createdAt", "updatedAt"`;
    const row = rows[0];
    if (!row) return expireOrRefuse(s.id);
    return fromRaw(row);
  }

  /** The session left the live states between read and write: say which way. */
  async function expireOrRefuse(id: string): Promise<never> {
    const s = await prisma.downloadSession.findUniqueOrThrow({ where: { id } });
    if (s.status === 'EXPIRED') throw new HaulError('SESSION_EXPIRED', 'session expired; start a new download');
    throw new HaulError('INVALID_TRANSITION', `session is ${s.status.toLowerCase()}`);
  }

  async function setStatus(s: DownloadSession, from: SessionStatus[], to: SessionStatus, extra = {}): Promise<DownloadSession> {
    const { count } = await prisma.downloadSession.updateMany({
      where: { id: s.id, status: { in: from } },
      data: { status: to, ...extra },
    });
    if (count === 0) await expireOrRefuse(s.id);
    return prisma.downloadSession.findUniqueOrThrow({ where: { id: s.id } });
  }

  /**
   * Re-reads for events are shared per (session, seq) on this process: when a change reaches
   * many subscribers of one session, PostgreSQL and Redis are read once, not once each.
   */
  const eventReads = new Map<string, Promise<SessionView | null>>();

  return {
    loadFile,

    /** The session as of event `seq`, for a subscriber; ownership is checked per viewer. */
    async getForEvent(viewer: Viewer, sessionId: string, seq: number): Promise<SessionView> {
      const id = parseId(sessionId, 'session');
      const key = `${id}:${seq}`;
      let read = eventReads.get(key);
      if (!read) {
        read = prisma.downloadSession.findUnique({ where: { id } }).then((row) => (row ? expireIfDue(row).then(view) : null));
        eventReads.set(key, read);
        const forget = () => setTimeout(() => eventReads.delete(key), 1000).unref();
        read.then(forget, forget);
      }
      const s = await read;
      if (!s || (s.ownerId !== viewer.sub && viewer.role !== 'admin')) throw new HaulError('NOT_FOUND', 'session not found');
      return s;
    },

    async get(viewer: Viewer, sessionId: string): Promise<SessionView> {
      return view(await expireIfDue(await loadOwned(viewer, sessionId)));
    },

    /** Returns the session with a fresh URL (GET /downloads/{id} shows the URL too). */
    async getWithUrl(viewer: Viewer, sessionId: string): Promise<SessionWithUrl & { urlFresh: boolean }> {
      const s = await expireIfDue(await loadOwned(viewer, sessionId));
      const file = await loadFile(s.fileId);
      return { ...(await withUrl(s, file)), session: await view(s), urlFresh: LIVE.includes(s.status) };
    },

    async list(viewer: Viewer, opts: { status?: SessionStatus | null; first?: number }): Promise<SessionView[]> {
      const rows = await prisma.downloadSession.findMany({
        where: { ownerId: viewer.sub, ...(opts.status ? { status: opts.status } : {}) },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: Math.min(Math.max(opts.first ?? 100, 1), 500),
      });
      return live.overlay(await Promise.all(rows.map((r) => expireIfDue(r))));
    },

    /** Idempotent per (user, file, device): a live session is returned again with a fresh URL. */
    async start(
      viewer: Viewer,
      input: { fileId: string; clientId?: string | null },
    ): Promise<SessionWithUrl & { created: boolean }> {
      const clientId = parseClientId(input.clientId);
      const file = await loadFile(input.fileId);
      if (file.status !== 'READY') throw new HaulError('FILE_NOT_READY', `file is ${file.status.toLowerCase()}`);
      for (let attempt = 0; attempt < 3; attempt++) {
        const existing = await prisma.downloadSession.findFirst({
          where: { ownerId: viewer.sub, fileId: file.id, clientId, status: { in: LIVE } },
        });
        if (existing && (await expireIfDue(existing)).status !== 'EXPIRED') {
          const s = await prisma.downloadSession.update({ where: { id: existing.id }, data: expiries() });
          await live.changed('URL_REFRESHED', s, file);
          return { ...(await withUrl(s, file)), session: await view(s), created: false };
        }
        try {
          const s = await prisma.downloadSession.create({
            data: { fileId: file.id, ownerId: viewer.sub, clientId, totalBytes: BigInt(file.sizeBytes), ...expiries() },
          });
          await live.changed('STARTED', s, file);
          return { ...(await withUrl(s, file)), created: true };
        } catch (e) {
          // A concurrent start for the same (user, file, device) won the partial unique index.
          if ((e as { code?: string }).code !== 'P2002') throw e;
        }
      }
      throw new HaulError('UNAVAILABLE', 'could not start the session; retry');
    },

    async report(viewer: Viewer, sessionId: string, report: ProgressReport): Promise<SessionView> {
      validateReportShape(report);
      const id = parseId(sessionId, 'session');
      const hot = await live.report(viewer, id, report, async () => {
        const session = await loadLive(viewer, id, 'report progress on');
        return { session, file: await loadFile(session.fileId) };
      });
      if (hot) return hot;
      const s = await loadLive(viewer, id, 'report progress on');
      const file = await loadFile(s.fileId);
      validateReport(report, file);
      const row = await applyProgress(s, file, report);
      await live.changed('PROGRESS', row, file);
      return view(row);
    },

    /** ACTIVE → PAUSED, merging the final progress first. Pausing a paused session is a no-op. */
    async pause(viewer: Viewer, sessionId: string, report: ProgressReport = {}): Promise<SessionView> {
      const s = await loadLive(viewer, sessionId, 'pause');
      const file = await loadFile(s.fileId);
      validateReport(report, file);
      const merged = await applyProgress(s, file, report);
      if (merged.status === 'PAUSED') return view(merged);
      const out = await setStatus(merged, ['ACTIVE'], 'PAUSED');
      await live.changed('PAUSED', out, file);
      return view(out);
    },

    /** PAUSED → ACTIVE with a fresh URL; resuming an active session just refreshes its URL. */
    async resume(viewer: Viewer, sessionId: string): Promise<SessionWithUrl> {
      const s = await loadLive(viewer, sessionId, 'resume');
      const file = await loadFile(s.fileId);
      const out = await setStatus(s, LIVE, 'ACTIVE', expiries());
      await live.changed(s.status === 'PAUSED' ? 'RESUMED' : 'URL_REFRESHED', out, file);
      return { ...(await withUrl(out, file)), session: await view(out) };
    },

    async refreshUrl(viewer: Viewer, sessionId: string): Promise<SessionWithUrl> {
      const s = await loadLive(viewer, sessionId, 'refresh the URL of');
      const file = await loadFile(s.fileId);
      const out = await setStatus(s, LIVE, s.status, expiries());
      await live.changed('URL_REFRESHED', out, file);
      return { ...(await withUrl(out, file)), session: await view(out) };
    },

    /** Only the file's own SHA-256 completes a session; completing twice is harmless. */
    async complete(viewer: Viewer, sessionId: string, checksum: string): Promise<SessionView> {
      const existing = await expireIfDue(await loadOwned(viewer, sessionId));
      const file = await loadFile(existing.fileId);
      const given = typeof checksum === 'string' ? checksum.trim().toLowerCase() : '';
      if (!/^[0-9a-f]{64}$/.test(given)) throw new HaulError('BAD_USER_INPUT', 'checksum must be 64 hex characters (SHA-256)');
      if (given !== file.checksum) throw new HaulError('CHECKSUM_MISMATCH', 'checksum does not match the file');
      if (existing.status === 'COMPLETED') return view(existing);
      if (existing.status === 'EXPIRED') throw new HaulError('SESSION_EXPIRED', 'session expired; start a new download');
      const all = Array.from({ length: file.chunkCount }, (_, i) => i);
      const out = await setStatus(existing, LIVE, 'COMPLETED', {
        completedAt: now(),
        bytesConfirmed: BigInt(file.sizeBytes),
        completedChunks: all,
      });
      await live.changed('COMPLETED', out, file);
      return view(out);
    },
  };
}

export type SessionService = ReturnType<typeof createSessionService>;
