import { ConfigError } from '../config/index.ts';
import { type Command, parsePort, UsageError } from './args.ts';
import { configure, createLogger, runUntilSignal } from './setup.ts';

export const DEFAULT_EDGE_PORT = 8081;

function parseUpstream(value: string | boolean | undefined): string | undefined {
  if (value === undefined) return undefined;
  let u: URL | undefined;
  try {
    u = typeof value === 'string' ? new URL(value) : undefined;
  } catch {}
  if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.search || u.hash)
    throw new UsageError('--upstream must be an http(s) URL without query, e.g. http://shield:8081');
  return value as string;
}

const summary = 'run the data plane alone: serve signed download URLs (/d/…) from the configured store';

export const edgeCommand: Command = {
  name: 'edge',
  summary,
  usage: [
    `usage: haul edge [--port ${DEFAULT_EDGE_PORT}] [--host 127.0.0.1] [--data-dir .haul] [--upstream URL]`,
    '',
    `${summary}.`,
    'It needs no database: it verifies each URL with the signing keys and reads the object store.',
    '',
    `  --port N        port to listen on (default ${DEFAULT_EDGE_PORT}; 0 picks a free one)`,
    '  --host H        address to bind (default 127.0.0.1, or HOST)',
    '  --data-dir D    embedded mode: where haul serve keeps its objects and secrets (default .haul)',
    '  --upstream URL  read through another haul edge (a shield) instead of the store',
    '',
    'Routes: /d/… (signed downloads), /healthz, /readyz.',
    'Signing keys come from HAUL_SIGNING_KEYS, or else from the data dir (written by haul serve);',
    'the store from HAUL_STORAGE / HAUL_STORAGE_DIR / S3_*. See docs/edge.md.',
  ].join('\n'),
  options: {
    port: { type: 'string', short: 'p' },
    host: { type: 'string' },
    'data-dir': { type: 'string' },
    upstream: { type: 'string' },
  },
  async run(values) {
    const upstream = parseUpstream(values.upstream);
    let config: ReturnType<typeof configure>;
    try {
      config = configure(
        {
          port: parsePort(values.port) ?? DEFAULT_EDGE_PORT,
          host: typeof values.host === 'string' ? values.host : undefined,
          dataDir: typeof values['data-dir'] === 'string' ? values['data-dir'] : undefined,
          requireAuth: false,
        },
        // An edge never invents a keyring: URLs signed by anyone else would all fail.
        { createSecrets: false },
      );
    } catch (e) {
      if (e instanceof ConfigError && e.problems.some((p) => p.includes('HAUL_SIGNING_KEYS')))
        throw new ConfigError([...e.problems, 'or run `haul serve` once with this --data-dir, so its secrets exist']);
      throw e;
    }
    const log = createLogger(config.logLevel);
    // Loaded here, not at the top: `haul --help` stays fast without the AWS SDK.
    const { startEdgeRuntime } = await import('../edge/runtime.ts');
    const edge = await startEdgeRuntime(config, log, { upstream });
    const base = edge.baseUrl;
    console.log(
      [
        `haul edge listening on ${base} (${upstream ? `upstream ${upstream}` : `${config.storage.kind} store`})`,
        `  downloads ${base}/d/…  (signed URLs)`,
        `  health    ${base}/healthz  ${base}/readyz`,
      ].join('\n'),
    );
    return runUntilSignal(() => edge.stop(), log);
  },
};
