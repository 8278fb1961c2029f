import type { Viewer } from '../../auth/jwt.ts';
import { HaulError } from '../../errors.ts';
import type { SessionEventKind, SessionEventMessage } from '../../realtime/events.ts';
import type { SessionView } from '../../sessions/model.ts';
import type { SessionService } from '../../sessions/service.ts';
import { builder } from '../builder.ts';
import { SessionRef } from './sessions.ts';

type EventKind = SessionEventKind | 'SNAPSHOT';

interface DownloadEvent {
  kind: EventKind;
  seq: number;
  session: SessionView;
}

const KINDS = ['SNAPSHOT', 'STARTED', 'PROGRESS', 'PAUSED', 'RESUMED', 'COMPLETED', 'EXPIRED', 'URL_REFRESHED'] as const;
const EventKindEnum = builder.enumType('DownloadEventKind', {
  description: 'SNAPSHOT is the first event of a subscription: the state when it began.',
  values: KINDS satisfies readonly EventKind[],
});

const EventRef = builder.objectRef<DownloadEvent>('DownloadEvent').implement({
  description: 'A change to a download session, with the session as it is after the change.',
  fields: (t) => ({
    kind: t.expose('kind', { type: EventKindEnum }),
    seq: t.expose('seq', {
      type: 'SafeInt',
      description:
        'Increases with every change of the session; drop an event whose seq is not above the last one seen. 0 for SNAPSHOT.',
    }),
    session: t.field({ type: SessionRef, resolve: (e) => e.session }),
  }),
});

/**
 * Starts listening at once: yoga's pub/sub subscribes on the first `next()`, so without this a
 * change between reading the snapshot and starting to iterate would be lost.
 */
function listen(messages: AsyncIterable<SessionEventMessage>): AsyncIterator<SessionEventMessage> {
  const it = messages[Symbol.asyncIterator]();
  const first = it.next();
  let used = false;
  return {
    next: () => {
      if (used) return it.next();
      used = true;
      return first;
    },
    return: (v?: unknown) => it.return?.(v) ?? Promise.resolve({ done: true, value: undefined }),
  };
}

/**
 * Thin events, re-read state (STYLE §6): every message names a session; the subscriber reads
 * it by id with the viewer's own rights, so a payload can never show what the viewer may not see.
 */
async function* follow(
  messages: AsyncIterator<SessionEventMessage>,
  viewer: Viewer,
  sessions: SessionService,
  opts: { untilTerminal: boolean },
): AsyncGenerator<DownloadEvent> {
  const lastSeq = new Map<string, number>();
  for (let next = await messages.next(); !next.done; next = await messages.next()) {
    const m = next.value;
    if ((lastSeq.get(m.sessionId) ?? 0) >= m.seq) continue;
    lastSeq.set(m.sessionId, m.seq);
    let session: SessionView;
    try {
      session = await sessions.getForEvent(viewer, m.sessionId, m.seq);
    } catch (e) {
      if (e instanceof HaulError && e.code === 'NOT_FOUND') continue;
      throw e;
    }
    yield { kind: m.kind, seq: m.seq, session };
    if (opts.untilTerminal && (session.status === 'COMPLETED' || session.status === 'EXPIRED')) return;
  }
}

builder.subscriptionFields((t) => ({
  downloadProgress: t.field({
    type: EventRef,
    description: 'Follows one session: its current state first, then every change until it completes or expires.',
    args: { sessionId: t.arg.id({ required: true }) },
    subscribe: async function* (_, { sessionId }, ctx) {
      // Listen first, then read: a change between the two arrives as an event, never lost.
      const messages = listen(ctx.events.session(String(sessionId)));
      try {
        const first = await ctx.sessions.get(ctx.viewer, String(sessionId));
        yield { kind: 'SNAPSHOT' as const, seq: 0, session: first };
        if (first.status === 'COMPLETED' || first.status === 'EXPIRED') return;
        yield* follow(messages, ctx.viewer, ctx.sessions, { untilTerminal: true });
      } finally {
        await messages.return?.();
      }
    },
    resolve: (event) => event,
  }),
  myDownloadEvents: t.field({
    type: EventRef,
    description: 'Every change to any of the viewer’s sessions, on any device; first a SNAPSHOT of each live session.',
    subscribe: async function* (_, __, ctx) {
      const messages = listen(ctx.events.user(ctx.viewer.sub));
      try {
        for (const status of ['ACTIVE', 'PAUSED'] as const)
          for (const session of await ctx.sessions.list(ctx.viewer, { status, first: 500 }))
            yield { kind: 'SNAPSHOT' as const, seq: 0, session };
        yield* follow(messages, ctx.viewer, ctx.sessions, { untilTerminal: false });
      } finally {
        await messages.return?.();
      }
    },
    resolve: (event) => event,
  }),
}));
