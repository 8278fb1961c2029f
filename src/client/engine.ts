import { ControlPlane, type Ticket } from './control.ts';
import { HaulClientError } from './errors.ts';
import type { UrlSource } from './fetcher.ts';
import { journalPath, removeJournal } from './journal.ts';
import { type LocalState, openLocal } from './local.ts';
import { fetchManifest, type Manifest } from './manifest.ts';
import { ProgressReporter } from './reporter.ts';
import { sleep } from './retry.ts';
import { type Run, startRun } from './run.ts';
import { newStats, transfer } from './transfer.ts';
import type { DownloadOptions, DownloadResult } from './types.ts';

/**
 * `download()` for a file of the service (DESIGN §4, §8): a session and signed URL from
 * `startDownload` (or `resumeDownload` for a session id), the manifest paged and checked, the
 * local `.part` and journal resumed, then `transfer` (transfer.ts). A file that changes under the
 * download (412/410/416) restarts it: a new ticket, the new manifest, and since the journal is
 * keyed by the file's SHA-256, chunks of the old version are discarded, never spliced.
 */
export async function downloadFile(opts: DownloadOptions): Promise<DownloadResult> {
  if (!opts.fileId === !opts.sessionId) throw new HaulClientError('BAD_USER_INPUT', 'give exactly one of fileId or sessionId');
  const run = startRun(opts);
  const { emit, signal } = run;
  const control = new ControlPlane({
    api: opts.api,
    token: opts.token,
    retry: run.retry,
    onRetry: (op, e, delayMs) => emit({ type: 'api-retry', op, code: e.code, attempt: e.attempt, delayMs }),
  });
  const stats = newStats();
  let restarts = 0;
  let urlRefreshes = 0;
  try {
    let ticket = await openSession(control, opts, opts.clientId ?? 'default', signal);
    const fileId = ticket.session.fileId;
    // The session's device (a session id may come from another device): restarts stay on it.
    const clientId = ticket.session.clientId;
    for (;;) {
      const manifest = await fetchManifest(control, fileId, signal);
      await run.resolveOut(manifest.name);
      const local = await openLocal(
        run.partPath,
        {
          kind: 'manifest',
          id: manifest.fileId,
          version: manifest.checksum,
          size: manifest.size,
          chunkSize: manifest.chunkSize,
          chunkCount: manifest.chunks.length,
          sessionId: ticket.session.id,
        },
        manifest.chunks,
        ticket.session.completedChunks,
      );
      const attempt = await transferOnce(run, control, ticket, manifest, local, clientId, stats);
      if (attempt.kind === 'done') {
        urlRefreshes += attempt.urlRefreshes;
        const sessionId = attempt.sessionId;
        const completed = await finish(run, control, local, sessionId, attempt.sha256, opts);
        return run.result({
          sha256: attempt.sha256,
          verified: true,
          sessionId,
          fileId,
          restarts,
          urlRefreshes,
          stats,
          completed,
        });
      }
      urlRefreshes += attempt.urlRefreshes;
      if (++restarts > (opts.maxRestarts ?? 3)) {
        attempt.error.message = `${attempt.error.message}; gave up after ${restarts - 1} restarts`;
        throw attempt.error;
      }
      emit({ type: 'restart', reason: attempt.error.message, restarts });
      await sleep(Math.min(8000, 500 * 2 ** (restarts - 1)), signal);
      ticket = await control.start(fileId, clientId, signal);
      if (ticket.session.status === 'PAUSED') ticket = await control.resume(ticket.session.id, signal);
    }
  } catch (e) {
    throw run.failure(e);
  } finally {
    await run.close();
  }
}

async function openSession(control: ControlPlane, opts: DownloadOptions, clientId: string, signal: AbortSignal): Promise<Ticket> {
  let fileId = opts.fileId;
  if (opts.sessionId) {
    try {
      return await control.resume(opts.sessionId, signal);
    } catch (e) {
      // An expired session cannot be resumed, but its file can still be downloaded (the journal keeps what is done).
      if ((e as HaulClientError).code !== 'SESSION_EXPIRED') throw e;
      fileId = (await control.session(opts.sessionId, signal)).fileId;
    }
  }
  const ticket = await control.start(fileId!, clientId, signal);
  // startDownload hands a paused session back as it is; downloading it means resuming it.
  return ticket.session.status === 'PAUSED' ? control.resume(ticket.session.id, signal) : ticket;
}

type Attempt =
  | { kind: 'done'; sha256: string; sessionId: string; urlRefreshes: number }
  | { kind: 'changed'; error: HaulClientError; urlRefreshes: number };

/** One pass with one manifest; a file change comes back as `changed`, anything else final is thrown. */
async function transferOnce(
  run: Run,
  control: ControlPlane,
  ticket: Ticket,
  manifest: Manifest,
  local: LocalState,
  clientId: string,
  stats: ReturnType<typeof newStats>,
): Promise<Attempt> {
  const { emit, progress, opts } = run;
  let sessionId = ticket.session.id;
  let url = ticket.downloadUrl;
  let refreshing: Promise<void> | undefined;
  let refusedInARow = 0;
  let urlRefreshes = 0;
  const remotePause = new AbortController();
  const signal = AbortSignal.any([run.signal, remotePause.signal]);

  const urls: UrlSource = {
    current: () => url,
    async refresh(stale) {
      if (stale !== url) return;
      refreshing ??= (async () => {
        if (++refusedInARow > 3)
          throw new HaulClientError('URL_REFUSED', 'the data plane refused 3 fresh URLs in a row', {
            status: 403,
            attempt: refusedInARow,
          });
        let t: Ticket;
        try {
          t = await control.refresh(sessionId, signal);
        } catch (e) {
          if ((e as HaulClientError).code !== 'SESSION_EXPIRED') throw e;
          t = await control.start(manifest.fileId, clientId, signal);
          sessionId = t.session.id;
          reporter.sessionId = sessionId;
        }
        url = t.downloadUrl;
        urlRefreshes++;
        emit({ type: 'url-refreshed', reason: 'the data plane answered 403' });
      })().finally(() => {
        refreshing = undefined;
      });
      await refreshing;
    },
  };

  const server = new Set(ticket.session.completedChunks);
  const reporter = new ProgressReporter(
    control,
    sessionId,
    manifest.chunks.length,
    {
      onSession(s) {
        if (s.status === 'PAUSED' && !remotePause.signal.aborted)
          remotePause.abort(new HaulClientError('PAUSED', 'the session was paused from elsewhere'));
      },
      onFailure: (e, pending) => emit({ type: 'report-failed', code: e.code, pendingChunks: pending }),
      onCatchUp: (chunks) => emit({ type: 'report-caught-up', chunks }),
    },
    { intervalMs: opts.reportIntervalMs ?? 2000 },
  );
  reporter.setDoneCount(local.done.size);
  reporter.add(
    [...local.done].filter((i) => !server.has(i)),
    false,
  );
  const doneBytes = manifest.chunks.reduce((n, c) => (local.done.has(c.index) ? n + c.end - c.start + 1 : n), 0);
  run.begin(manifest.size, manifest.chunks.length, doneBytes, local.done.size);
  emit({ type: 'resume-check', outcome: local.outcome, verifiedChunks: local.done.size });
  emit({
    type: 'start',
    out: run.out,
    name: manifest.name,
    size: manifest.size,
    chunkCount: manifest.chunks.length,
    chunkSize: manifest.chunkSize,
    connections: run.connections,
    resumedBytes: doneBytes,
    sessionId,
    fileId: manifest.fileId,
  });
  const rateTimer = setInterval(() => {
    reporter.rate = progress.rate;
  }, 1000);
  rateTimer.unref();

  // A haul edge URL names its version (`v=<sha256>`): If-Match can go on every request from the first.
  const v = new URL(url).searchParams.get('v');
  try {
    const sha256 = await transfer({
      chunks: manifest.chunks,
      size: manifest.size,
      done: local.done,
      unverified: local.unverified,
      part: local.part,
      journal: local.journal,
      url: urls,
      etag: v === manifest.checksum ? `"${manifest.checksum}"` : undefined,
      lastModified: undefined,
      expectedSha256: manifest.checksum,
      connections: run.connections,
      rampUp: opts.rampUp,
      pools: run.pools,
      retry: run.retry,
      signal,
      maxChunkCorruption: opts.maxChunkCorruption ?? 5,
      minSplitBytes: opts.minSplitBytes ?? 256 * 1024,
      progress,
      stats,
      hashing: opts.hashing ?? 'thread',
      emit,
      onChunkDone: (i) => reporter.add([i]),
      onResponse: () => {
        refusedInARow = 0;
      },
    });
    clearInterval(rateTimer);
    await reporter.stop();
    return { kind: 'done', sha256, sessionId, urlRefreshes };
  } catch (e) {
    clearInterval(rateTimer);
    const pending = await reporter.stop();
    await local.journal.close().catch(() => {});
    await local.part.close();
    if (signal.aborted) {
      const remote = remotePause.signal.aborted;
      let reported = remote;
      if (!remote && opts.pauseOnAbort !== false)
        reported = await control.pause(sessionId, pending, Math.round(progress.rate)).then(
          () => true,
          () => false,
        );
      emit({ type: 'paused', reason: remote ? 'paused from elsewhere' : 'stopped by the caller', reported });
      if (remote) throw remotePause.signal.reason;
      throw new HaulClientError('ABORTED', 'download paused: run it again to resume', { cause: run.signal.reason });
    }
    if (e instanceof HaulClientError && e.code === 'FILE_CHANGED') return { kind: 'changed', error: e, urlRefreshes };
    throw e;
  }
}

/** Renames the verified `.part` into place and tells the server (retrying while the API is down, up to a deadline). */
async function finish(
  run: Run,
  control: ControlPlane,
  local: LocalState,
  sessionId: string,
  sha256: string,
  opts: DownloadOptions,
) {
  run.finalizing();
  await local.journal.close();
  await local.part.commit(run.out, { fsync: opts.fsync ?? false });
  await removeJournal(journalPath(run.partPath));
  const deadline = AbortSignal.timeout(opts.completeTimeoutMs ?? 30_000);
  try {
    await control.complete(sessionId, sha256, AbortSignal.any([deadline, run.signal]));
    return true;
  } catch (e) {
    run.emit({
      type: 'warning',
      message: `downloaded and verified, but the server was not told (${(e as HaulClientError).code ?? String(e)})`,
    });
    return false;
  }
}
