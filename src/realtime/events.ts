import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { createPubSub } from 'graphql-yoga';
import type { Redis } from 'ioredis';

/**
 * Typed session-event channels (DESIGN §5). Events are thin: which session changed, how, and
 * its sequence number; subscribers re-read the state by id, so a payload can never disagree
 * with the store. Every event goes to two channels: the session's (downloadProgress) and its
 * owner's (myDownloadEvents, every device of the user).
 *
 * Production: Redis pub/sub with separate publisher and subscriber connections, so an event
 * published by any API process (or by the progress script inside Redis) reaches subscribers on
 * every process. Embedded: in-process.
 */

export type SessionEventKind = 'STARTED' | 'PROGRESS' | 'PAUSED' | 'RESUMED' | 'COMPLETED' | 'EXPIRED' | 'URL_REFRESHED';

export interface SessionEventMessage {
  sessionId: string;
  ownerId: string;
  kind: SessionEventKind;
  /** Per-session, increasing: a client drops any event whose seq is not above the last it saw. */
  seq: number;
}

export interface SessionEvents {
  publish(event: SessionEventMessage): void;
  session(sessionId: string): AsyncIterable<SessionEventMessage>;
  user(ownerId: string): AsyncIterable<SessionEventMessage>;
  close(): Promise<void>;
}

/** Channel names; the progress script in Redis publishes to the same ones. */
export const channels = (prefix: string) => ({
  session: `${prefix}session`,
  user: `${prefix}user`,
});

export function createSessionEvents(opts: { prefix: string; redis?: { publisher: Redis; subscriber: Redis } }): SessionEvents {
  const names = channels(opts.prefix);
  const publisher = opts.redis?.publisher;
  // The event target fires and forgets; a publish while Redis is away must not become an
  // unhandled rejection (that would end the process). The event is lost, which subscribers
  // survive: their next event, or a resubscription, carries the current state.
  const safePublisher =
    publisher && ({ publish: (c: string, m: string) => publisher.publish(c, m).catch(() => 0) } as unknown as Redis);
  const eventTarget =
    opts.redis && safePublisher
      ? createRedisEventTarget({ publishClient: safePublisher, subscribeClient: opts.redis.subscriber })
      : undefined;
  // Topic `${prefix}session` with id X is the Redis channel `${prefix}session:X`.
  const pubsub = createPubSub<Record<string, [string, SessionEventMessage]>>(eventTarget ? { eventTarget } : {});
  return {
    publish(event) {
      pubsub.publish(names.session, event.sessionId, event);
      pubsub.publish(names.user, event.ownerId, event);
    },
    session: (id) => pubsub.subscribe(names.session, id),
    user: (ownerId) => pubsub.subscribe(names.user, ownerId),
    async close() {
      opts.redis?.publisher.disconnect();
      opts.redis?.subscriber.disconnect();
    },
  };
}
