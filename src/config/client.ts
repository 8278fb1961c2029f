import { resolve } from 'node:path';
import { ConfigError, processEnv } from './errors.ts';

/**
 * What client commands (`haul get`, `haul watch`, `haul status`) need: where the API is and which
 * token to send. Unlike the server's model, nothing here is required up front; a local secret is
 * offered only so `--sub` can mint a development token beside `haul serve`.
 *
 * Checked by hand rather than with zod like the server's model: these are seven variables, and
 * loading zod was ~40 ms of every `haul get`'s start-up.
 */
export interface ClientConfig {
  apiUrl: string;
  token?: string | undefined;
  /** HS256 secret usable to mint development tokens (HAUL_JWT_SECRET or the data dir's), read when asked for. */
  devSecret(): Promise<string | undefined>;
  issuer?: string | undefined;
  audience?: string | undefined;
}

/** Each variable the client reads, and what is wrong with a value (undefined: nothing). */
const RULES: Record<string, (v: string) => string | undefined> = {
  HAUL_API_URL: (v) => (URL.canParse(v) ? undefined : 'must be a URL'),
  HAUL_TOKEN: () => undefined,
  PORT: (v) => (/^\d{1,5}$/.test(v) && Number(v) >= 1 && Number(v) <= 65535 ? undefined : 'must be a port number (1-65535)'),
  HAUL_DATA_DIR: () => undefined,
  HAUL_JWT_SECRET: (v) => (v.length >= 32 ? undefined : 'must be at least 32 characters'),
  HAUL_JWT_ISSUER: () => undefined,
  HAUL_JWT_AUDIENCE: () => undefined,
};

export function loadClientConfig(overrides: { apiUrl?: string; token?: string; dataDir?: string } = {}): ClientConfig {
  const env = processEnv();
  const e: Record<string, string | undefined> = {};
  const problems: string[] = [];
  for (const [name, check] of Object.entries(RULES)) {
    const v = env[name];
    if (v === undefined || v === '') continue;
    const wrong = check(v);
    // The value is not echoed: it may be a secret.
    if (wrong) problems.push(`${name} ${wrong}`);
    else e[name] = v;
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const dataDir = resolve(overrides.dataDir ?? e.HAUL_DATA_DIR ?? '.haul');
  return {
    apiUrl: (overrides.apiUrl ?? e.HAUL_API_URL ?? `http://127.0.0.1:${e.PORT ?? 8080}`).replace(/\/$/, ''),
    token: overrides.token ?? e.HAUL_TOKEN,
    async devSecret() {
      if (e.HAUL_JWT_SECRET) return e.HAUL_JWT_SECRET;
      try {
        const { loadOrCreateSecrets } = await import('./secrets.ts');
        return loadOrCreateSecrets(dataDir, { create: false })?.jwtSecret;
      } catch {
        return undefined;
      }
    },
    issuer: e.HAUL_JWT_ISSUER,
    audience: e.HAUL_JWT_AUDIENCE,
  };
}
