import { statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { tuneForDownloadProcess } from '../client/collect.ts';
import { ControlPlane } from '../client/control.ts';
import { HaulClientError, isHaulClientError } from '../client/errors.ts';
import { download, downloadUrl } from '../client/index.ts';
import type { DownloadResult } from '../client/types.ts';
import { type Command, UsageError } from './args.ts';
import { AUTH_OPTIONS, AUTH_USAGE, clientAuth } from './client-auth.ts';
import { GetOutput } from './get-output.ts';

const str = (v: string | boolean | undefined) => (typeof v === 'string' ? v : undefined);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Exit codes of `haul get` (docs/client.md). */
export const GET_EXIT = { OK: 0, FAILURE: 1, USAGE: 2, REFUSED: 3, INTEGRITY: 4, PAUSED: 130 } as const;

/** This machine as a device id: sessions are per (user, file, device). */
export function defaultClientId(): string {
  const host = hostname().replace(/[^\x21-\x7e]/g, '') || 'host';
  return `haul-cli@${host}`.slice(0, 128);
}

/** `-o` may name a file or an existing directory (the file's own name goes inside). */
function outResolver(o: string | undefined): string | ((name: string) => string) {
  if (!o) return (name) => name;
  const isDir = o.endsWith('/') || statSync(o, { throwIfNoEntry: false })?.isDirectory() === true;
  return isDir ? (name) => join(o, name) : o;
}

export const getCommand: Command = {
  name: 'get',
  summary: 'download a file (by id, session id, or any signed URL): parallel, verified, resumable',
  positionals: 1,
  usage: [
    'usage: haul get <fileId | sessionId | url> [-o PATH] [--connections N] [--json] [--force] [--client-id ID]',
    '                [--api URL] [--token T | --sub U] [--data-dir D]',
    '',
    'Downloads over up to N connections, verifying every chunk against the manifest’s SHA-256 and the',
    'whole file before it is renamed into place. Interrupted (Ctrl-C, a crash, kill -9), run the',
    'same command again: it resumes from <out>.part and its journal. Ctrl-Z pauses (fg resumes).',
    'With a URL (a haul signed URL, S3 presigned, any server with byte ranges) there is no',
    'manifest: pieces are guarded by ETag and the file is checked against Repr-Digest if sent.',
    '',
    '  -o, --output PATH  where to save (default: the file’s name in the current directory;',
    '                     an existing directory keeps the name)',
    '  --connections N    parallel connections at most, 1-64 (default 8); starts with 2 and opens',
    '                     more while the network, not this machine, is what holds it back',
    '  --json             NDJSON events on stdout: start, progress (each second), retry, restart, …, done | error',
    '  --force            replace an existing file at the output path',
    '  --client-id ID     this device’s id (default haul-cli@<hostname>)',
    '  --hashing H        SHA-256 on worker threads (thread, default: chunks read back as they land, and the whole file) or the main thread (inline)',
    ...AUTH_USAGE,
    '',
    'Exit codes: 0 downloaded and verified; 1 failed (network, server, disk); 2 usage, configuration,',
    'or the output exists; 3 refused (token, unknown id, expired session, URL refused); 4 integrity',
    '(corrupt source, checksum mismatch); 130 paused (Ctrl-C, or paused from elsewhere).',
  ].join('\n'),
  options: {
    output: { type: 'string', short: 'o' },
    connections: { type: 'string' },
    json: { type: 'boolean' },
    force: { type: 'boolean' },
    'client-id': { type: 'string' },
    hashing: { type: 'string' },
    ...AUTH_OPTIONS,
  },
  async run(values, positionals) {
    const target = positionals[0];
    if (!target) throw new UsageError('name a file id, a session id, or a URL');
    const connections = values.connections === undefined ? 8 : Number(values.connections);
    if (!Number.isInteger(connections) || connections < 1 || connections > 64)
      throw new UsageError('--connections must be an integer from 1 to 64');
    const hashing = str(values.hashing) ?? 'thread';
    if (hashing !== 'inline' && hashing !== 'thread') throw new UsageError('--hashing is inline or thread');
    const isUrl = /^https?:\/\//i.test(target);
    if (!isUrl && !UUID.test(target)) throw new UsageError(`"${target}" is neither an id (UUID) nor an http(s) URL`);
    tuneForDownloadProcess();
    const out = new GetOutput(values.json === true);
    const common = {
      out: outResolver(str(values.output)),
      connections,
      hashing: hashing as 'inline' | 'thread',
      overwrite: values.force === true,
      onEvent: (e: Parameters<GetOutput['event']>[0]) => out.event(e),
      onProgress: (p: Parameters<GetOutput['progress']>[0]) => out.progress(p),
    };

    let start: (signal: AbortSignal) => Promise<DownloadResult>;
    if (isUrl) start = (signal) => downloadUrl({ ...common, url: target, signal });
    else {
      const { api, token } = await clientAuth(values);
      const clientId = str(values['client-id']) ?? defaultClientId();
      let which: { fileId: string } | { sessionId: string } | undefined;
      start = async (signal) => {
        // One id names a file or a session: ask for the file first (null when it is not one).
        which ??= (await new ControlPlane({ api, token }).file(target, signal)) ? { fileId: target } : { sessionId: target };
        return download({ ...common, ...which, api, token, clientId, signal });
      };
    }
    return runWithSignals(start, out);
  },
};

/**
 * Ctrl-C / SIGTERM pause the download (the SDK flushes the journal and pauses the session) and
 * exit 130; a second Ctrl-C exits at once. Ctrl-Z pauses the same way, then stops the process as
 * usual; `fg` continues the download where it was.
 */
async function runWithSignals(start: (signal: AbortSignal) => Promise<DownloadResult>, out: GetOutput): Promise<number> {
  for (;;) {
    const ctl = new AbortController();
    const onSignal = (sig: NodeJS.Signals) => {
      if (ctl.signal.aborted && sig === 'SIGINT') process.exit(GET_EXIT.PAUSED);
      ctl.abort(sig);
    };
    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGTSTP'];
    for (const s of signals) process.on(s, onSignal);
    try {
      const result = await start(ctl.signal);
      out.done(result);
      return GET_EXIT.OK;
    } catch (e) {
      if (ctl.signal.reason === 'SIGTSTP' && isHaulClientError(e) && e.code === 'ABORTED') {
        process.stderr.write('\nhaul get: paused; `fg` continues\n');
        process.kill(process.pid, 'SIGSTOP');
        continue;
      }
      const err = isHaulClientError(e)
        ? e
        : new HaulClientError('INTERNAL', e instanceof Error ? e.message : String(e), { cause: e });
      const code = err.exitCode;
      out.error(err, code);
      return code;
    } finally {
      for (const s of signals) process.off(s, onSignal);
    }
  }
}
