import { type ParseArgsConfig, parseArgs } from 'node:util';

/** Exit codes shared by every subcommand. */
export const EXIT = { OK: 0, FAILURE: 1, USAGE: 2 } as const;

/** A usage error: a clear message and exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export type Options = NonNullable<ParseArgsConfig['options']>;

export interface Command {
  name: string;
  summary: string;
  usage: string;
  options: Options;
  /** Positional arguments allowed (default none). */
  positionals?: number;
  run(values: Record<string, string | boolean | undefined>, positionals: string[]): Promise<number>;
}

export function parseCommandArgs(cmd: Command, argv: string[]) {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { ...cmd.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
    if (!values.help && positionals.length > (cmd.positionals ?? 0))
      throw new UsageError(`unexpected argument: ${positionals[cmd.positionals ?? 0]}`);
    return { values: values as Record<string, string | boolean | undefined>, positionals };
  } catch (e) {
    if (e instanceof UsageError) throw e;
    // node:util's messages name the flag ("Unknown option '--x'"); keep them, drop the code.
    throw new UsageError((e as Error).message.split('. To specify')[0] ?? 'invalid arguments');
  }
}

export function parsePort(value: string | boolean | undefined, flag = '--port'): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (typeof value !== 'string' || !/^\d+$/.test(value) || n > 65535)
    throw new UsageError(`${flag} must be a port number (0-65535)`);
  return n;
}
