import { pino } from 'pino';
import { type Config, type ConfigOverrides, loadConfig, processEnv } from '../config/index.ts';
import { loadOrCreateSecrets } from '../config/secrets.ts';
import { EXIT } from './args.ts';

/**
 * Loads configuration for a command. In embedded mode (no DATABASE_URL) secrets the
 * environment does not give are generated into the data dir, so `serve` and `token` agree.
 */
export function configure(overrides: Omit<ConfigOverrides, 'generated'>, opts: { createSecrets: boolean }): Config {
  const env = processEnv();
  const probe = loadConfigLenient(env, overrides);
  const needSecrets = !env.HAUL_SIGNING_KEYS || (!env.HAUL_JWT_SECRET && !env.HAUL_JWKS_URL);
  const generated =
    needSecrets && (probe?.mode ?? (env.DATABASE_URL ? 'production' : 'embedded')) === 'embedded'
      ? loadOrCreateSecrets(probe?.dataDir ?? resolveDataDir(env, overrides), { create: opts.createSecrets })
      : undefined;
  return loadConfig(env, { ...overrides, ...(generated ? { generated } : {}) });
}

function loadConfigLenient(env: Record<string, string | undefined>, overrides: ConfigOverrides): Config | undefined {
  try {
    return loadConfig(env, {
      ...overrides,
      generated: { jwtSecret: 'x'.repeat(32), signingKid: 'probe', signingSecret: 'x'.repeat(16) },
    });
  } catch {
    return undefined;
  }
}

const resolveDataDir = (env: Record<string, string | undefined>, o: ConfigOverrides) => o.dataDir ?? env.HAUL_DATA_DIR ?? '.haul';

export function createLogger(level: string) {
  return pino({
    level,
    base: { service: 'haul' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['*.authorization', '*.headers.authorization', '*.token', '*.secret', '*.password'], censor: '[redacted]' },
  });
}

/**
 * Runs until SIGTERM or SIGINT, then `stop()`s gracefully (in-flight work finishes first):
 * exit code 0, or 1 if stopping failed. A second signal while stopping is ignored.
 */
export function runUntilSignal(
  stop: () => Promise<void>,
  log: ReturnType<typeof createLogger>,
  message = 'shutting down',
): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, message);
      stop().then(
        () => resolve(EXIT.OK),
        (err: unknown) => {
          log.error({ err }, 'error while shutting down');
          resolve(EXIT.FAILURE);
        },
      );
    };
    process.once('SIGTERM', () => onSignal('SIGTERM'));
    process.once('SIGINT', () => onSignal('SIGINT'));
  });
}
