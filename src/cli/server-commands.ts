import { resolve } from 'node:path';
import type { Config } from '../config/index.ts';
import type { Runtime } from '../runtime.ts';
import { type Command, EXIT, parsePort } from './args.ts';
import { configure, createLogger, runUntilSignal } from './setup.ts';

function banner(config: Config, runtime: Runtime, role: 'serve' | 'api', demoId?: string): string {
  const base = runtime.baseUrl;
  const custom = config.mode === 'embedded' && config.dataDir !== resolve('.haul');
  const dataDir = custom ? ` --data-dir ${JSON.stringify(config.dataDir)}` : '';
  const api = base === 'http://127.0.0.1:8080' ? '' : ` --api ${base}`;
  return [
    `haul ${role} listening on ${base} (${config.mode}: ${config.database.kind}, ${config.storage.kind} store${config.redisUrl ? ', redis' : ''})`,
    `  GraphQL   ${base}/graphql`,
    `  REST      ${base}/downloads`,
    ...(role === 'serve' ? [`  edge      ${base}/d/…  (signed URLs)`] : []),
    `  health    ${base}/healthz  ${base}/readyz`,
    `  token     TOKEN=$(npx haul token --sub alice${dataDir} | tail -1)`,
    ...(demoId ? [`  download  npx haul get ${demoId} --sub alice${api}${dataDir}`] : []),
  ].join('\n');
}

function serverCommand(role: 'serve' | 'api'): Command {
  const summary =
    role === 'serve'
      ? 'run API, edge and jobs in one process on the embedded defaults (PGlite, local folder store)'
      : 'run the API alone, on DATABASE_URL / REDIS_URL and the configured store';
  return {
    name: role,
    summary,
    usage: [
      `usage: haul ${role} [--port 8080] [--host 127.0.0.1]${role === 'serve' ? ' [--data-dir .haul]' : ''}`,
      '',
      summary,
      '',
      '  --port N        port to listen on (default 8080, or PORT; 0 picks a free one)',
      '  --host H        address to bind (default 127.0.0.1, or HOST)',
      ...(role === 'serve' ? ['  --data-dir D    where the embedded database, objects and secrets live (default .haul)'] : []),
      '',
      'Configuration comes from the environment; see docs/configuration.md.',
    ].join('\n'),
    options: {
      port: { type: 'string', short: 'p' },
      host: { type: 'string' },
      ...(role === 'serve' ? { 'data-dir': { type: 'string' as const } } : {}),
    },
    async run(values) {
      const config = configure(
        {
          port: parsePort(values.port),
          host: typeof values.host === 'string' ? values.host : undefined,
          dataDir: typeof values['data-dir'] === 'string' ? values['data-dir'] : undefined,
        },
        { createSecrets: true },
      );
      if (role === 'api' && config.mode !== 'production')
        console.error('haul api: DATABASE_URL is not set; running on the embedded PGlite database in the data dir');
      const log = createLogger(config.logLevel);
      // Loaded here, not at the top: `haul --help` and `haul token` stay fast without Prisma and the AWS SDK.
      const { startRuntime } = await import('../runtime.ts');
      const runtime = await startRuntime(config, log, { role });
      const { DEMO_STORAGE_KEY } = await import('../files/demo.ts');
      const demo =
        role === 'serve'
          ? await runtime.db.prisma.file
              .findUnique({ where: { storageKey: DEMO_STORAGE_KEY }, select: { id: true } })
              .catch(() => null)
          : null;
      console.log(banner(config, runtime, role, demo?.id));
      return runUntilSignal(() => runtime.stop(), log);
    },
  };
}

export const serveCommand = serverCommand('serve');
export const apiCommand = serverCommand('api');

export const migrateCommand: Command = {
  name: 'migrate',
  summary: 'apply pending database migrations (PostgreSQL or PGlite) and exit',
  usage: [
    'usage: haul migrate [--data-dir .haul]',
    '',
    'Applies prisma/migrations to DATABASE_URL, or to the embedded PGlite database in the data dir.',
  ].join('\n'),
  options: { 'data-dir': { type: 'string' } },
  async run(values) {
    const config = configure(
      { dataDir: typeof values['data-dir'] === 'string' ? values['data-dir'] : undefined },
      { createSecrets: false },
    );
    const { openDatabase } = await import('../db/client.ts');
    const { migrateDatabase } = await import('../db/migrate.ts');
    const db = await openDatabase(config.database);
    try {
      const r = await migrateDatabase(db);
      for (const m of r.missing) console.error(`warning: ${m} is recorded in the database but missing from prisma/migrations`);
      console.log(
        r.applied.length
          ? `applied ${r.applied.length}: ${r.applied.join(', ')}`
          : `up to date (${r.alreadyApplied.length} applied)`,
      );
      return EXIT.OK;
    } finally {
      await db.close();
    }
  },
};
