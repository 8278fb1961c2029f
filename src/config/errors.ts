/**
 * What every command may need before it knows which it is, kept apart from the configuration
 * model (index.ts) so that client commands start without loading zod (~40 ms).
 */

/** Configuration problems, all of them at once; the CLI exits with 2. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** The process environment; the only read of it in haul. */
export const processEnv = (): Record<string, string | undefined> => process.env;
