import { ConfigError } from '../config/errors.ts';
import { type Command, EXIT, parseCommandArgs, UsageError } from './args.ts';

/**
 * Commands by name, each module imported only when its command runs: `haul get` never loads the
 * server (Prisma, Pothos, yoga), which keeps a client's start-up time and memory small.
 */
const commands: Array<[name: string, load: () => Promise<Command>]> = [
  ['serve', async () => (await import('./server-commands.ts')).serveCommand],
  ['api', async () => (await import('./server-commands.ts')).apiCommand],
  ['edge', async () => (await import('./edge-command.ts')).edgeCommand],
  ['worker', async () => (await import('./worker-command.ts')).workerCommand],
  ['ingest', async () => (await import('./ingest-command.ts')).ingestCommand],
  ['get', async () => (await import('./get-command.ts')).getCommand],
  ['status', async () => (await import('./status-command.ts')).statusCommand],
  ['pause', async () => (await import('./status-command.ts')).pauseCommand],
  ['watch', async () => (await import('./watch-command.ts')).watchCommand],
  ['migrate', async () => (await import('./server-commands.ts')).migrateCommand],
  ['token', async () => (await import('./token.ts')).tokenCommand],
];

async function help(): Promise<string> {
  const loaded = await Promise.all(commands.map(([, load]) => load()));
  const width = Math.max(...loaded.map((c) => c.name.length));
  return [
    'haul: a file download service (sessions, signed URLs, ranged parallel downloads, verified chunks)',
    '',
    'usage: haul <command> [options]   (haul <command> --help for its options)',
    '',
    ...loaded.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'exit codes: 0 ok, 1 failure, 2 usage or configuration error',
  ].join('\n');
}

/** Runs one CLI invocation; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(await help());
    return name ? EXIT.OK : EXIT.USAGE;
  }
  const load = commands.find(([n]) => n === name)?.[1];
  if (!load) {
    console.error(`haul: unknown command "${name}"\n\n${await help()}`);
    return EXIT.USAGE;
  }
  const cmd = await load();
  try {
    const { values, positionals } = parseCommandArgs(cmd, rest);
    if (values.help) {
      console.log(`${cmd.usage}\n`);
      return EXIT.OK;
    }
    return await cmd.run(values, positionals);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`haul ${name}: ${e.message}\n\n${cmd.usage}`);
      return EXIT.USAGE;
    }
    if (e instanceof ConfigError) {
      console.error(`haul ${name}: ${e.message}`);
      return EXIT.USAGE;
    }
    console.error(`haul ${name}: ${e instanceof Error ? e.message : String(e)}`);
    return EXIT.FAILURE;
  }
}
