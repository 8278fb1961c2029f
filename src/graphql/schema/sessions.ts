import { HaulError } from '../../errors.ts';
import { percentage, type SessionView, type SessionWithUrl } from '../../sessions/model.ts';
import { builder, SessionStatusEnum } from '../builder.ts';
import { FileRef } from './files.ts';

export const SessionRef = builder.objectRef<SessionView>('DownloadSession').implement({
  description: 'One user’s download of one file on one device: the authoritative resume state.',
  fields: (t) => ({
    id: t.exposeID('id'),
    fileId: t.exposeID('fileId'),
    file: t.field({
      type: FileRef,
      resolve: async (s, _, ctx) => {
        const f = await ctx.files.get(s.fileId);
        if (!f) throw new HaulError('NOT_FOUND', 'file not found');
        return f;
      },
    }),
    clientId: t.exposeString('clientId', { description: 'The device this session belongs to.' }),
    status: t.expose('status', { type: SessionStatusEnum }),
    totalBytes: t.expose('totalBytes', { type: 'ByteCount' }),
    bytesConfirmed: t.expose('bytesConfirmed', {
      type: 'ByteCount',
      description:
        'The larger of the offset a sequential client confirmed and the end of the run of verified chunks from byte 0; resume with Range: bytes=<bytesConfirmed>-.',
    }),
    completedChunks: t.exposeIntList('completedChunks', { description: 'Indexes of chunks the client verified, ascending.' }),
    completedChunkCount: t.int({ resolve: (s) => s.completedChunks.length }),
    percentage: t.float({ resolve: (s) => percentage(s) }),
    transferRateBps: t.expose('transferRateBps', { type: 'ByteCount', description: 'Last reported rate, bytes per second.' }),
    urlExpiresAt: t.expose('urlExpiresAt', { type: 'DateTime' }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime' }),
    completedAt: t.expose('completedAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const ProgressRef = builder.objectRef<SessionView>('DownloadProgress').implement({
  description: 'The progress figures of a session (the REST /progress shape).',
  fields: (t) => ({
    sessionId: t.exposeID('id'),
    status: t.expose('status', { type: SessionStatusEnum }),
    bytesConfirmed: t.expose('bytesConfirmed', { type: 'ByteCount' }),
    totalBytes: t.expose('totalBytes', { type: 'ByteCount' }),
    percentage: t.float({ resolve: (s) => percentage(s) }),
    completedChunkCount: t.int({ resolve: (s) => s.completedChunks.length }),
    transferRateBps: t.expose('transferRateBps', { type: 'ByteCount' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const TicketRef = builder.objectRef<SessionWithUrl>('DownloadTicket').implement({
  description: 'A session and a freshly signed URL to fetch its bytes from, with HTTP Range requests.',
  fields: (t) => ({
    session: t.field({ type: SessionRef, resolve: (r) => r.session }),
    downloadUrl: t.string({ resolve: (r) => r.downloadUrl }),
    urlExpiresAt: t.field({ type: 'DateTime', resolve: (r) => r.session.urlExpiresAt }),
  }),
});

const progressArgs = (t: Parameters<Parameters<typeof builder.mutationFields>[0]>[0]) => ({
  completedChunks: t.arg.intList({ description: 'Chunk indexes verified since (or including) the last report.' }),
  bytesConfirmed: t.arg({ type: 'ByteCount', description: 'A sequential client’s verified offset.' }),
  transferRateBps: t.arg({ type: 'ByteCount' }),
});

builder.queryFields((t) => ({
  downloadSession: t.field({
    type: SessionRef,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_, { id }, ctx) => ctx.sessions.get(ctx.viewer, String(id)),
  }),
  downloadProgress: t.field({
    type: ProgressRef,
    args: { sessionId: t.arg.id({ required: true }) },
    resolve: (_, { sessionId }, ctx) => ctx.sessions.get(ctx.viewer, String(sessionId)),
  }),
  myDownloads: t.field({
    type: [SessionRef],
    description: 'The viewer’s sessions, newest first (at most `first`, default 100, max 500).',
    args: { status: t.arg({ type: SessionStatusEnum }), first: t.arg.int() },
    resolve: (_, { status, first }, ctx) => ctx.sessions.list(ctx.viewer, { status, first: first ?? undefined }),
  }),
}));

builder.mutationFields((t) => ({
  startDownload: t.field({
    type: TicketRef,
    description: 'Starts (or, for the same user, file and device, returns again) a download session.',
    args: { fileId: t.arg.id({ required: true }), clientId: t.arg.string() },
    resolve: (_, { fileId, clientId }, ctx) => ctx.sessions.start(ctx.viewer, { fileId: String(fileId), clientId }),
  }),
  pauseDownload: t.field({
    type: SessionRef,
    args: { sessionId: t.arg.id({ required: true }), ...progressArgs(t) },
    resolve: (_, { sessionId, ...report }, ctx) => ctx.sessions.pause(ctx.viewer, String(sessionId), report),
  }),
  resumeDownload: t.field({
    type: TicketRef,
    args: { sessionId: t.arg.id({ required: true }) },
    resolve: (_, { sessionId }, ctx) => ctx.sessions.resume(ctx.viewer, String(sessionId)),
  }),
  reportProgress: t.field({
    type: SessionRef,
    description: 'Merges verified progress monotonically: late or duplicate reports change nothing.',
    args: { sessionId: t.arg.id({ required: true }), ...progressArgs(t) },
    resolve: (_, { sessionId, ...report }, ctx) => ctx.sessions.report(ctx.viewer, String(sessionId), report),
  }),
  completeDownload: t.field({
    type: SessionRef,
    args: { sessionId: t.arg.id({ required: true }), checksum: t.arg.string({ required: true }) },
    resolve: (_, { sessionId, checksum }, ctx) => ctx.sessions.complete(ctx.viewer, String(sessionId), checksum),
  }),
  refreshDownloadUrl: t.field({
    type: TicketRef,
    args: { sessionId: t.arg.id({ required: true }) },
    resolve: (_, { sessionId }, ctx) => ctx.sessions.refreshUrl(ctx.viewer, String(sessionId)),
  }),
}));
