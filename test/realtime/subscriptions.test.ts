import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CompleteDownloadDocument,
  PauseDownloadDocument,
  ReportProgressDocument,
  StartDownloadDocument,
} from '../../src/client/generated/graphql.ts';
import { gql, startTestServer, type TestServer } from '../helpers/server.ts';
import {
  MY_EVENTS_SUBSCRIPTION,
  type MyEvent,
  PROGRESS_SUBSCRIPTION,
  type ProgressEvent,
  subscribeSse,
  subscribeWs,
} from '../helpers/subscribe.ts';

const CHUNK = 64 * 1024;
const BYTES = Buffer.alloc(4 * CHUNK + 100, 3);
let srv: TestServer;
let fileId: string;
let alice: string;
let bob: string;

beforeAll(async () => {
  srv = await startTestServer({ db: 'pglite', role: 'api' });
  fileId = await srv.addFile('live.bin', BYTES, { chunkSize: CHUNK });
  alice = await srv.token('alice');
  bob = await srv.token('bob');
});
afterAll(async () => {
  await srv?.[Symbol.asyncDispose]();
});

async function start(clientId: string) {
  const r = await gql(srv.url, alice, StartDownloadDocument, { fileId, clientId });
  return r.data!.startDownload.session.id;
}

describe('subscriptions (embedded, in-process pub/sub)', () => {
  for (const [transport, subscribe] of [
    ['WebSocket', subscribeWs],
    ['SSE', subscribeSse],
  ] as const) {
    it(`downloadProgress over ${transport}: current state first, then every change, ending at completion`, async () => {
      const id = await start(`dev-${transport}`);
      const sub = subscribe<ProgressEvent>(srv.url, alice, PROGRESS_SUBSCRIPTION, { id });
      try {
        const [snap] = await sub.waitFor(1);
        expect(snap!.downloadProgress).toMatchObject({
          kind: 'SNAPSHOT',
          seq: 0,
          session: { id, status: 'ACTIVE', bytesConfirmed: 0 },
        });
        await gql(srv.url, alice, ReportProgressDocument, { sessionId: id, completedChunks: [0, 1] });
        await gql(srv.url, alice, PauseDownloadDocument, { sessionId: id });
        await gql(srv.url, alice, CompleteDownloadDocument, {
          sessionId: id,
          checksum: (await srv.runtime.db.prisma.file.findUniqueOrThrow({ where: { id: fileId } })).checksum!,
        });
        const events = (await sub.waitFor(4)).map((e) => e.downloadProgress);
        expect(events.map((e) => e.kind)).toEqual(['SNAPSHOT', 'PROGRESS', 'PAUSED', 'COMPLETED']);
        expect(events[1]!.session).toMatchObject({ bytesConfirmed: 2 * CHUNK, completedChunks: [0, 1] });
        expect(events[2]!.session.status).toBe('PAUSED');
        expect(events[3]!.session).toMatchObject({ status: 'COMPLETED', bytesConfirmed: BYTES.length });
        // Sequence numbers rise with every change.
        expect(events[2]!.seq).toBeGreaterThan(events[1]!.seq);
        expect(events[3]!.seq).toBeGreaterThan(events[2]!.seq);
        await expect.poll(() => sub.done).toBe(true);
      } finally {
        sub.close();
      }
    });

    it(`refuses another user's session over ${transport}`, async () => {
      const id = await start(`private-${transport}`);
      const sub = subscribe<ProgressEvent>(srv.url, bob, PROGRESS_SUBSCRIPTION, { id });
      try {
        await expect.poll(() => sub.errors.length).toBeGreaterThan(0);
        expect(JSON.stringify(sub.errors)).toContain('NOT_FOUND');
        expect(sub.events).toEqual([]);
      } finally {
        sub.close();
      }
    });
  }

  it('myDownloadEvents follows every device of the user and nobody else’s', async () => {
    const laptop = await start('my-laptop');
    const sub = subscribeWs<MyEvent>(srv.url, alice, MY_EVENTS_SUBSCRIPTION);
    const bobs = subscribeWs<MyEvent>(srv.url, bob, MY_EVENTS_SUBSCRIPTION);
    try {
      await expect.poll(() => sub.events.some((e) => e.myDownloadEvents.session.id === laptop)).toBe(true);
      const snapshots = sub.events.length;
      const phone = await start('my-phone');
      await gql(srv.url, alice, ReportProgressDocument, { sessionId: laptop, completedChunks: [0] });
      const events = (await sub.waitFor(snapshots + 2)).slice(snapshots).map((e) => e.myDownloadEvents);
      expect(events.map((e) => [e.kind, e.session.clientId])).toEqual([
        ['STARTED', 'my-phone'],
        ['PROGRESS', 'my-laptop'],
      ]);
      expect(events[0]!.session.id).toBe(phone);
      await new Promise((r) => setTimeout(r, 200));
      expect(bobs.events).toEqual([]);
    } finally {
      sub.close();
      bobs.close();
    }
  });
});
