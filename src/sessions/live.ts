import type { Logger } from 'pino';
import type { Viewer } from '../auth/jwt.ts';
import { BoundedMap } from '../bounded-map.ts';
import { HaulError } from '../errors.ts';
import type { DownloadSession } from '../generated/prisma/client.ts';
import type { SessionEventKind, SessionEvents } from '../realtime/events.ts';
import type { HotProgress, HotProgressStore } from './hot-progress.ts';
import { type FileView, type SessionView, toSessionView } from './model.ts';
import type { ProgressReport } from './progress.ts';

/**
 * How session state meets the realtime layer: where progress reports go, how reads see
 * progress not yet flushed, and how changes are published with their sequence numbers.
 *
 * - embedded (no Redis): reports are SQL merges; events are published in-process.
 * - Redis: reports take the one-round-trip hot path; reads overlay the hot state on
 *   PostgreSQL's; write-through changes refresh the cached meta and publish through Redis.
 *   Whenever Redis fails, everything falls back to PostgreSQL alone (availability over
 *   freshness): reports become SQL merges, reads show flushed progress, events are dropped.
 */
export interface LiveState {
  /**
   * Applies a report on the hot path; null means "use the SQL path" (embedded, or Redis down).
   * `load` reads the session and its file from PostgreSQL when the hot path has no meta.
   */
  report(
    viewer: Viewer,
    sessionId: string,
    report: ProgressReport,
    load: () => Promise<{ session: DownloadSession; file: FileView }>,
  ): Promise<SessionView | null>;
  /** Rows as the API shows them: PostgreSQL's state with unflushed progress merged in. */
  overlay(rows: DownloadSession[]): Promise<SessionView[]>;
  /** Publishes a committed change (and refreshes the hot path's cached meta). Never throws. */
  changed(kind: SessionEventKind, row: DownloadSession, file: FileView): Promise<void>;
}

const hotMeta = (row: DownloadSession, file: FileView) => ({
  ownerId: row.ownerId,
  status: row.status,
  sizeBytes: file.sizeBytes,
  chunkSize: file.chunkSize,
  chunkCount: file.chunkCount,
  expiresAtMs: row.expiresAt.getTime(),
});

/** PostgreSQL row + hot progress: every merge is monotonic, like the stores themselves. */
export function mergeHot(row: DownloadSession, hot: HotProgress | null): SessionView {
  const v = toSessionView(row);
  if (!hot) return v;
  const live = v.status === 'ACTIVE' || v.status === 'PAUSED';
  const chunks = hot.completedChunks.length
    ? [...new Set([...v.completedChunks, ...hot.completedChunks])].sort((a, b) => a - b)
    : v.completedChunks;
  return {
    ...v,
    bytesConfirmed: Math.max(v.bytesConfirmed, Math.min(hot.bytesConfirmed, v.totalBytes)),
    completedChunks: chunks,
    transferRateBps: hot.transferRateBps ?? v.transferRateBps,
    expiresAt: live && hot.expiresAtMs > v.expiresAt.getTime() ? new Date(hot.expiresAtMs) : v.expiresAt,
    updatedAt: hot.updatedAtMs > v.updatedAt.getTime() ? new Date(hot.updatedAtMs) : v.updatedAt,
  };
}

export function embeddedLiveState(events?: SessionEvents): LiveState {
  let seq = Date.now() * 1000;
  return {
    report: async () => null,
    overlay: async (rows) => rows.map(toSessionView),
    async changed(kind, row) {
      events?.publish({ sessionId: row.id, ownerId: row.ownerId, kind, seq: ++seq });
    },
  };
}

/** Identity fields of a session answered from memory: 2.5–7.5 s, then refreshed in the background. */
const ROW_TTL_MS = 5_000;
const STALE_MAX_MS = 30_000;

export function redisLiveState(deps: { hot: HotProgressStore; events: SessionEvents; log?: Logger }): LiveState {
  const { hot, events } = deps;
  const rowCache = new BoundedMap<
    string,
    { value: { session: DownloadSession; file: FileView }; until: number; refreshing: boolean }
  >(10_000);
  const degraded = (what: string, err: unknown) =>
    deps.log?.warn({ err: err instanceof Error ? err.message : String(err) }, `redis unavailable: ${what} on PostgreSQL alone`);

  return {
    async report(viewer, sessionId, report, load) {
      const who = { sub: viewer.sub, admin: viewer.role === 'admin' };
      try {
        for (let attempt = 0; attempt < 2; attempt++) {
          const r = await hot.report(sessionId, who, report);
          if (r.ok) {
            // Identity fields from a recent read; status and progress from Redis, which is current.
            const { session } = await loadCached(sessionId, load);
            return { ...mergeHot(session, r.progress), status: r.status as SessionView['status'] };
          }
          switch (r.reason) {
            case 'MISS': {
              const { session, file } = await load();
              await hot.prime(session.id, hotMeta(session, file), {
                bytesConfirmed: Number(session.bytesConfirmed),
                completedChunks: session.completedChunks,
              });
              continue;
            }
            case 'NOT_FOUND':
              throw new HaulError('NOT_FOUND', 'session not found');
            case 'INVALID_TRANSITION':
              throw new HaulError('INVALID_TRANSITION', 'cannot report progress on a completed session');
            case 'INVALID_PROGRESS':
              throw new HaulError('INVALID_PROGRESS', r.message ?? 'invalid progress');
            case 'EXPIRED':
              // PostgreSQL decides (and writes through) expiry: the SQL path says SESSION_EXPIRED.
              return null;
          }
        }
        return null;
      } catch (e) {
        if (e instanceof HaulError) throw e;
        degraded('progress report', e);
        return null;
      }
    },

    async overlay(rows) {
      try {
        const hotRows = await hot.readMany(rows.map((r) => r.id));
        return rows.map((r, i) => mergeHot(r, hotRows[i] ?? null));
      } catch (e) {
        degraded('read', e);
        return rows.map(toSessionView);
      }
    },

    async changed(kind, row, file) {
      try {
        const seq = await hot.bump(row.id, hotMeta(row, file));
        events.publish({ sessionId: row.id, ownerId: row.ownerId, kind, seq });
      } catch (e) {
        degraded(`${kind.toLowerCase()} event`, e);
      }
    },
  };

  /**
   * The response to a hot report needs the session's identity fields (client, URL expiry, …),
   * which change only on write-through paths: keep them per process for a few seconds. An entry
   * past its time is still answered from while one background read refreshes it (its lifetime is
   * jittered so entries filled together do not all expire together): a burst of PostgreSQL reads
   * every few seconds was the progress hot path's latency tail. Past STALE_MAX_MS it is read again
   * before answering.
   */
  async function loadCached(sessionId: string, load: () => Promise<{ session: DownloadSession; file: FileView }>) {
    const now = Date.now();
    const hit = rowCache.get(sessionId);
    if (hit && hit.until > now) return hit.value;
    if (hit && now - hit.until < STALE_MAX_MS) {
      if (!hit.refreshing) {
        hit.refreshing = true;
        load().then(remember, () => {
          hit.refreshing = false;
        });
      }
      return hit.value;
    }
    const value = await load();
    remember(value);
    return value;

    function remember(value: { session: DownloadSession; file: FileView }) {
      rowCache.delete(sessionId);
      rowCache.set(sessionId, { value, until: Date.now() + ROW_TTL_MS * (0.5 + Math.random()), refreshing: false });
    }
  }
}
