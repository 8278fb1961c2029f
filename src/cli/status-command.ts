import { ControlPlane } from '../client/control.ts';
import { formatBytes } from '../client/display.ts';
import { isHaulClientError } from '../client/errors.ts';
import { MyDownloadsOverviewDocument, PauseDownloadDocument, SessionOverviewDocument } from '../client/generated/graphql.ts';
import { type Command, UsageError } from './args.ts';
import { AUTH_OPTIONS, AUTH_USAGE, clientAuth } from './client-auth.ts';

interface Row {
  id: string;
  status: string;
  clientId: string;
  bytesConfirmed: number;
  totalBytes: number;
  percentage: number;
  completedChunkCount: number;
  transferRateBps: number;
  updatedAt: string;
  file: { id: string; name: string };
}

const line = (s: Row) =>
  [
    s.id,
    s.status.padEnd(9),
    `${s.percentage.toFixed(1).padStart(5)}%`,
    `${formatBytes(s.bytesConfirmed)}/${formatBytes(s.totalBytes)}`.padEnd(21),
    `${s.file.name} (${s.clientId})`,
  ].join('  ');

/** API refusals exit 3 like `haul get`; an unreachable API exits 1. */
function fail(cmd: string, e: unknown): number {
  const code = isHaulClientError(e) ? e.code : 'INTERNAL';
  console.error(`haul ${cmd}: ${code}: ${(e as Error).message}`);
  return isHaulClientError(e) ? e.exitCode : 1;
}

export const statusCommand: Command = {
  name: 'status',
  summary: 'show your downloads (or one session) as the server knows them',
  positionals: 1,
  usage: [
    'usage: haul status [sessionId] [--all] [--json] [--api URL] [--token T | --sub U] [--data-dir D]',
    '',
    'Without an id: your live (active and paused) downloads, newest first; --all adds completed',
    'and expired ones. With an id: that session in detail.',
    '',
    '  --all           every status',
    '  --json          the sessions as JSON',
    ...AUTH_USAGE,
    '',
    'Exit codes: 0 ok; 1 the API is unreachable; 2 usage; 3 refused (token, unknown session).',
  ].join('\n'),
  options: { all: { type: 'boolean' }, json: { type: 'boolean' }, ...AUTH_OPTIONS },
  async run(values, positionals) {
    const { api, token } = await clientAuth(values);
    const control = new ControlPlane({ api, token });
    const id = positionals[0];
    try {
      if (id) {
        const s = (await control.call('downloadSession', SessionOverviewDocument, { id })).downloadSession;
        if (values.json) console.log(JSON.stringify(s));
        else
          console.log(
            [
              line(s),
              `  file ${s.file.id}, ${s.completedChunkCount} chunks verified, ${formatBytes(s.transferRateBps)}/s last reported`,
              `  updated ${s.updatedAt}, expires ${s.expiresAt}${s.completedAt ? `, completed ${s.completedAt}` : ''}`,
            ].join('\n'),
          );
        return 0;
      }
      const rows = (await control.call('myDownloads', MyDownloadsOverviewDocument, { first: 100 })).myDownloads.filter(
        (s) => values.all || s.status === 'ACTIVE' || s.status === 'PAUSED',
      );
      if (values.json) console.log(JSON.stringify(rows));
      else if (rows.length === 0) console.log(values.all ? 'no downloads' : 'no live downloads (--all shows finished ones)');
      else for (const s of rows) console.log(line(s));
      return 0;
    } catch (e) {
      return fail('status', e);
    }
  },
};

export const pauseCommand: Command = {
  name: 'pause',
  summary: 'pause a download session (a running haul get of it stops within seconds)',
  positionals: 1,
  usage: [
    'usage: haul pause <sessionId> [--json] [--api URL] [--token T | --sub U] [--data-dir D]',
    '',
    'Marks the session PAUSED on the server. A `haul get` running it (on any device) notices at its',
    'next progress report and stops with exit code 130; `haul get <sessionId>` resumes it.',
    '',
    '  --json          the paused session as JSON',
    ...AUTH_USAGE,
    '',
    'Exit codes: 0 paused; 1 the API is unreachable; 2 usage; 3 refused (unknown or completed session).',
  ].join('\n'),
  options: { json: { type: 'boolean' }, ...AUTH_OPTIONS },
  async run(values, positionals) {
    const id = positionals[0];
    if (!id) throw new UsageError('name the session to pause');
    const { api, token } = await clientAuth(values);
    const control = new ControlPlane({ api, token });
    try {
      const s = (await control.call('pauseDownload', PauseDownloadDocument, { sessionId: id })).pauseDownload;
      if (values.json) console.log(JSON.stringify(s));
      else
        console.log(
          `paused ${s.id} at ${s.percentage.toFixed(1)}% (${formatBytes(s.bytesConfirmed)} of ${formatBytes(s.totalBytes)})`,
        );
      return 0;
    } catch (e) {
      return fail('pause', e);
    }
  },
};
