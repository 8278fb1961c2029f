import { ConfigError } from '../config/index.ts';
import { type Command, EXIT, parseCommandArgs, UsageError } from './args.ts';
import { edgeCommand } from './edge-command.ts';
import { getCommand } from './get-command.ts';
import { ingestCommand } from './ingest-command.ts';
import { apiCommand, migrateCommand, serveCommand } from './server-commands.ts';
import { pauseCommand, statusCommand } from './status-command.ts';
import { tokenCommand } from './token.ts';
import { watchCommand } from './watch-command.ts';
import { workerCommand } from './worker-command.ts';

const commands: Command[] = [
  serveCommand,
  apiCommand,
  edgeCommand,
  workerCommand,
  ingestCommand,
  getCommand,
  statusCommand,
  pauseCommand,
  watchCommand,
  migrateCommand,
  tokenCommand,
];

function help(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'haul: a file download service (sessions, signed URLs, ranged parallel downloads, verified chunks)',
    '',
    'usage: haul <command> [options]   (haul <command> --help for its options)',
    '',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'exit codes: 0 ok, 1 failure, 2 usage or configuration error',
  ].join('\n');
}

/** Runs one CLI invocation; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(help());
    return name ? EXIT.OK : EXIT.USAGE;
  }
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) {
    console.error(`haul: unknown command "${name}"\n\n${help()}`);
    return EXIT.USAGE;
  }
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
