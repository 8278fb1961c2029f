import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { type ProgressLine, ProgressRenderer, RateMeter } from '../client/display.ts';
import { type Command, EXIT, UsageError } from './args.ts';
import { AUTH_OPTIONS, clientAuth } from './client-auth.ts';

const SESSION_FIELDS = 'id fileId clientId status totalBytes bytesConfirmed transferRateBps file { name }';
const ONE = `subscription($id: ID!) { downloadProgress(sessionId: $id) { kind seq session { ${SESSION_FIELDS} } } }`;
const ALL = `subscription { myDownloadEvents { kind seq session { ${SESSION_FIELDS} } } }`;

interface WatchedSession {
  id: string;
  clientId: string;
  status: string;
  totalBytes: number;
  bytesConfirmed: number;
  transferRateBps: number;
  file: { name: string };
}
interface WatchEvent {
  kind: string;
  seq: number;
  session: WatchedSession;
}

/** graphql-ws reports GraphQL errors as an array, socket problems as an Error or a CloseEvent. */
function describeError(e: unknown): string {
  if (Array.isArray(e)) {
    const first = e[0] as { message?: string; extensions?: { code?: string } } | undefined;
    return `${first?.extensions?.code ?? 'ERROR'}: ${first?.message ?? 'subscription refused'}`;
  }
  if (e instanceof Error) return e.message;
  const close = e as { code?: number; reason?: string };
  if (close.code === 4403) return 'UNAUTHENTICATED: the token was refused';
  return `connection closed${close.code ? ` (${close.code}${close.reason ? `: ${close.reason}` : ''})` : ''}`;
}

export const watchCommand: Command = {
  name: 'watch',
  summary: 'follow a download live from another device (one session, or --all of yours)',
  positionals: 1,
  usage: [
    'usage: haul watch <sessionId> | --all  [--json] [--api URL] [--token T | --sub U] [--data-dir D]',
    '',
    'Subscribes over WebSocket and shows each change as it happens: a progress bar on a terminal,',
    'a line every few seconds otherwise, one JSON object per event with --json.',
    '',
    '  --all           every session of the token’s user, on every device',
    '  --json          NDJSON: {"kind","seq","session":{…}} per event',
    '  --api URL       the service (default HAUL_API_URL, else http://127.0.0.1:<PORT or 8080>)',
    '  --token T       a JWT of the session’s owner (default HAUL_TOKEN)',
    '  --sub U         or mint a token for user U with the local secret (like haul token)',
    '',
    'Exit codes: 0 when the watched session completes (or on Ctrl-C), 1 when it expires or the',
    'connection fails, 2 on usage errors.',
  ].join('\n'),
  options: {
    all: { type: 'boolean' },
    json: { type: 'boolean' },
    ...AUTH_OPTIONS,
  },
  async run(values, positionals) {
    const sessionId = positionals[0];
    if (!values.all && !sessionId) throw new UsageError('name a session id, or pass --all');
    if (values.all && sessionId) throw new UsageError('give a session id or --all, not both');
    const { api, token } = await clientAuth(values);

    const renderer = new ProgressRenderer(process.stdout);
    const sessions = new Map<string, { s: WatchedSession; meter: RateMeter }>();
    const client = createClient({
      url: `${api.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${token}` },
      retryAttempts: 5,
    });

    const draw = () => {
      const lines: ProgressLine[] = [...sessions.values()].map(({ s, meter }) => ({
        label: `${s.file.name} (${s.clientId})`,
        done: s.bytesConfirmed,
        total: s.totalBytes,
        rate: s.transferRateBps > 0 ? s.transferRateBps : meter.sample(s.bytesConfirmed),
        status: s.status,
      }));
      renderer.render(lines);
    };

    return new Promise<number>((resolve) => {
      const finish = (code: number) => {
        void client.dispose();
        resolve(code);
      };
      process.once('SIGINT', () => finish(EXIT.OK));
      client.subscribe<{ downloadProgress?: WatchEvent; myDownloadEvents?: WatchEvent }>(
        { query: values.all ? ALL : ONE, variables: values.all ? {} : { id: sessionId } },
        {
          next: (r) => {
            if (r.errors?.length) {
              const e = r.errors[0] as { message: string; extensions?: { code?: string } };
              console.error(`haul watch: ${e.extensions?.code ?? 'ERROR'}: ${e.message}`);
              return finish(EXIT.FAILURE);
            }
            const event = r.data?.downloadProgress ?? r.data?.myDownloadEvents;
            if (!event) return;
            if (values.json) process.stdout.write(`${JSON.stringify(event)}\n`);
            const known = sessions.get(event.session.id);
            sessions.set(event.session.id, { s: event.session, meter: known?.meter ?? new RateMeter() });
            if (!values.json) draw();
          },
          error: (e) => {
            console.error(`haul watch: ${describeError(e)}`);
            finish(EXIT.FAILURE);
          },
          complete: () => {
            const s = sessionId ? sessions.get(sessionId)?.s : undefined;
            finish(s?.status === 'COMPLETED' || !s ? EXIT.OK : EXIT.FAILURE);
          },
        },
      );
    });
  },
};
