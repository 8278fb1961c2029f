import { formatBytes, ProgressRenderer } from '../client/display.ts';
import type { HaulClientError } from '../client/errors.ts';
import type { DownloadEvent, DownloadProgress, DownloadResult } from '../client/types.ts';

/**
 * What `haul get` shows. `--json`: one JSON object per line on stdout (the SDK's events, a
 * `progress` line a second, then `done` or `error`). Otherwise progress goes to stderr: a bar
 * redrawn in place on a terminal (bytes, speed, ETA, connections), a plain line every few seconds
 * elsewhere; notable events as lines of their own; the saved path on stdout at the end.
 */
export class GetOutput {
  #renderer: ProgressRenderer;
  #name = '';
  #last: DownloadProgress | undefined;
  #lastJson = 0;
  #lastDraw = 0;
  /** stdout was closed by its reader (`| head`): keep downloading, stop printing there. */
  #outClosed = false;

  constructor(
    private readonly json: boolean,
    private readonly err: NodeJS.WriteStream = process.stderr,
    private readonly out: NodeJS.WriteStream = process.stdout,
  ) {
    this.#renderer = new ProgressRenderer(err, { intervalMs: 3000 });
    out.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') throw e;
      this.#outClosed = true;
    });
  }

  #jsonLine(o: object) {
    if (!this.#outClosed) this.out.write(`${JSON.stringify(o)}\n`);
  }

  /** A line of its own; on a terminal it replaces the bar, which is drawn again below it. */
  #say(text: string) {
    if (this.#renderer.tty && this.#last) {
      this.err.write(`\x1b[1F\x1b[2K${text}\n`);
      this.#renderer = new ProgressRenderer(this.err, { intervalMs: 3000 });
      this.#draw(true);
    } else this.err.write(`${text}\n`);
  }

  event(e: DownloadEvent): void {
    if (this.json) {
      this.#jsonLine(e);
      return;
    }
    switch (e.type) {
      case 'start':
        this.#name = e.name;
        if (e.resumedBytes > 0) this.#say(`haul get: resuming ${e.name}: ${formatBytes(e.resumedBytes)} already verified`);
        break;
      case 'restart':
        this.#say(`haul get: the file changed on the server; starting over (restart ${e.restarts}): ${e.reason}`);
        break;
      case 'url-refreshed':
        this.#say('haul get: the download URL was refused (expired?); got a fresh one');
        break;
      case 'corrupt-chunk':
        this.#say(`haul get: chunk ${e.chunk} failed its SHA-256 (from ${e.source ?? 'unknown'}); fetching it again`);
        break;
      case 'source-warning':
        this.#say(`haul get: warning: ${e.source} has sent ${e.corruptChunks} corrupt chunks`);
        break;
      case 'rehash':
      case 'warning':
        this.#say(`haul get: ${'message' in e ? e.message : e.reason}`);
        break;
      case 'retry':
        if (e.attempt >= 3) this.#say(`haul get: ${e.code}${e.status ? ` ${e.status}` : ''}, retrying (attempt ${e.attempt})`);
        break;
      case 'report-failed':
        if (e.pendingChunks > 0 && this.#last?.phase !== 'finishing')
          this.#say(`haul get: cannot report progress (${e.code}); continuing, will catch up`);
        break;
      default:
        break;
    }
  }

  progress(p: DownloadProgress): void {
    this.#last = p;
    if (this.json) {
      const now = Date.now();
      if (now - this.#lastJson < 1000 && p.phase === 'downloading') return;
      this.#lastJson = now;
      this.#jsonLine({ type: 'progress', ...p });
      return;
    }
    this.#draw(false);
  }

  #draw(force: boolean) {
    const p = this.#last;
    if (!p) return;
    const now = Date.now();
    if (!force && this.#renderer.tty && now - this.#lastDraw < 150 && p.phase === 'downloading') return;
    this.#lastDraw = now;
    this.#renderer.render([
      {
        label: this.#name || 'download',
        done: p.doneBytes + p.inFlightBytes,
        total: p.totalBytes,
        rate: p.phase === 'downloading' ? p.rate : null,
        status: p.phase,
        note: `${p.activeConnections}/${p.connections} conns`,
      },
    ]);
  }

  done(r: DownloadResult): void {
    if (this.json) {
      this.#jsonLine({ type: 'done', ...r });
      return;
    }
    const secs = r.timings.totalMs / 1000;
    const speed = secs > 0 ? ` at ${formatBytes(r.receivedBytes / secs)}/s` : '';
    this.err.write(
      `haul get: ${formatBytes(r.bytes)} in ${secs.toFixed(1)} s${speed}, ${r.verified ? 'verified' : 'NOT verified (the server gave no digest)'}` +
        `${r.restarts ? `, ${r.restarts} restart(s)` : ''}${r.refetchedChunks ? `, ${r.refetchedChunks} chunk(s) fetched again` : ''}\n`,
    );
    if (!this.#outClosed) this.out.write(`${r.path}  sha256 ${r.sha256}\n`);
  }

  error(e: HaulClientError | Error, exitCode: number): void {
    const c = e as HaulClientError;
    if (this.json) {
      this.#jsonLine({
        type: 'error',
        code: c.code ?? 'INTERNAL',
        message: e.message,
        status: c.status,
        attempt: c.attempt,
        exitCode,
      });
      return;
    }
    if (this.#renderer.tty && this.#last) this.err.write('\n');
    this.err.write(`haul get: ${c.code ? `${c.code}: ` : ''}${e.message}\n`);
  }
}
