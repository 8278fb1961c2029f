import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { Viewer } from '../auth/jwt.ts';
import { HaulError } from '../errors.ts';
import { readBody, sendJson } from '../http/io.ts';
import { percentage, type SessionView, type SessionWithUrl } from '../sessions/model.ts';
import type { SessionService } from '../sessions/service.ts';

/**
 * The seed's REST endpoints (snake_case JSON, lowercase statuses), thin over the same session
 * service as GraphQL: the same ownership checks and progress rules apply.
 */

const StartBody = z.strictObject({ file_id: z.string(), client_id: z.string().optional() });
const PatchBody = z.strictObject({
  status: z.enum(['paused', 'resumed', 'active', 'completed']).optional(),
  // Any JSON number gets through here so the session rules answer INVALID_PROGRESS for it.
  bytes_confirmed: z.number().optional(),
  completed_chunks: z.array(z.number()).optional(),
  transfer_rate_bps: z.number().optional(),
  checksum: z.string().optional(),
});

const lower = (s: string) => s.toLowerCase();

const sessionJson = (s: SessionView, downloadUrl: string | null) => ({
  session_id: s.id,
  file_id: s.fileId,
  client_id: s.clientId,
  status: lower(s.status),
  bytes_confirmed: s.bytesConfirmed,
  total_bytes: s.totalBytes,
  completed_chunks: s.completedChunks,
  download_url: downloadUrl,
  url_expires_at: s.urlExpiresAt.toISOString(),
  expires_at: s.expiresAt.toISOString(),
  created_at: s.createdAt.toISOString(),
  updated_at: s.updatedAt.toISOString(),
});

const ticketJson = (t: SessionWithUrl) => ({
  session_id: t.session.id,
  download_url: t.downloadUrl,
  file_size: t.file.sizeBytes,
  checksum: t.file.checksum,
  content_type: t.file.contentType,
  // The seed's `expires_at` is the download URL's expiry; the session's own is `session_expires_at`.
  expires_at: t.session.urlExpiresAt.toISOString(),
  session_expires_at: t.session.expiresAt.toISOString(),
  status: lower(t.session.status),
  bytes_confirmed: t.session.bytesConfirmed,
});

async function parseJson<T>(req: IncomingMessage, limit: number, schema: z.ZodType<T>): Promise<T> {
  const raw = await readBody(req, limit);
  let data: unknown;
  try {
    data = JSON.parse(raw.toString('utf8') || '{}');
  } catch {
    throw new HaulError('BAD_REQUEST', 'body is not valid JSON');
  }
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new HaulError('BAD_REQUEST', `${first?.path.join('.') || 'body'}: ${first?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

/** Handles /downloads routes; returns false when the path is not one of them. */
export async function handleDownloads(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  ctx: { viewer: Viewer; sessions: SessionService; maxBodyBytes: number },
): Promise<boolean> {
  const m = /^\/downloads(?:\/([^/]+)(\/progress)?)?\/?$/.exec(path);
  if (!m) return false;
  const [, id, progress] = m;
  const { viewer, sessions } = ctx;
  const method = req.method ?? 'GET';

  if (!id) {
    if (method !== 'POST') throw methodNotAllowed('POST');
    const body = await parseJson(req, ctx.maxBodyBytes, StartBody);
    const t = await sessions.start(viewer, { fileId: body.file_id, clientId: body.client_id });
    sendJson(res, t.created ? 201 : 200, ticketJson(t));
    return true;
  }
  if (progress) {
    if (method !== 'GET') throw methodNotAllowed('GET');
    const s = await sessions.get(viewer, id);
    sendJson(res, 200, {
      session_id: s.id,
      bytes_confirmed: s.bytesConfirmed,
      total_bytes: s.totalBytes,
      percentage: percentage(s),
      status: lower(s.status),
      transfer_rate_bps: s.transferRateBps,
      completed_chunk_count: s.completedChunks.length,
    });
    return true;
  }
  if (method === 'GET') {
    const t = await sessions.getWithUrl(viewer, id);
    sendJson(res, 200, sessionJson(t.session, t.urlFresh ? t.downloadUrl : null));
    return true;
  }
  if (method !== 'PATCH') throw methodNotAllowed('GET, PATCH');
  const body = await parseJson(req, ctx.maxBodyBytes, PatchBody);
  const report = {
    bytesConfirmed: body.bytes_confirmed,
    completedChunks: body.completed_chunks,
    transferRateBps: body.transfer_rate_bps,
  };
  const hasReport = report.bytesConfirmed != null || report.completedChunks != null || report.transferRateBps != null;
  let out: { session: SessionView; downloadUrl: string | null };
  switch (body.status) {
    case 'paused':
      out = { session: await sessions.pause(viewer, id, report), downloadUrl: null };
      break;
    case 'resumed':
    case 'active': {
      if (hasReport) await sessions.report(viewer, id, report);
      const t = await sessions.resume(viewer, id);
      out = { session: t.session, downloadUrl: t.downloadUrl };
      break;
    }
    case 'completed':
      if (!body.checksum) throw new HaulError('BAD_REQUEST', 'checksum is required to complete a download');
      if (hasReport) await sessions.report(viewer, id, report);
      out = { session: await sessions.complete(viewer, id, body.checksum), downloadUrl: null };
      break;
    default:
      if (!hasReport) throw new HaulError('BAD_REQUEST', 'nothing to change: give status or bytes_confirmed');
      out = { session: await sessions.report(viewer, id, report), downloadUrl: null };
  }
  sendJson(res, 200, sessionJson(out.session, out.downloadUrl));
  return true;
}

function methodNotAllowed(allow: string): HaulError {
  return new HaulError('BAD_REQUEST', `method not allowed; use ${allow}`, { allow });
}
