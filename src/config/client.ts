import { resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError, processEnv } from './index.ts';
import { loadOrCreateSecrets } from './secrets.ts';

/**
 * What client commands (`haul watch`, later `haul get`) need: where the API is and which token
 * to send. Unlike the server's model, nothing here is required up front; a local secret is
 * offered only so `--sub` can mint a development token beside `haul serve`.
 */
export interface ClientConfig {
  apiUrl: string;
  token?: string | undefined;
  /** HS256 secret usable to mint development tokens (HAUL_JWT_SECRET or the data dir's). */
  devSecret?: string | undefined;
  issuer?: string | undefined;
  audience?: string | undefined;
}

const ClientEnv = z.object({
  HAUL_API_URL: z.url().optional(),
  HAUL_TOKEN: z.string().min(1).optional(),
  PORT: z.coerce.number().int().min(1).max(65535).optional(),
  HAUL_DATA_DIR: z.string().min(1).optional(),
  HAUL_JWT_SECRET: z.string().min(32).optional(),
  HAUL_JWT_ISSUER: z.string().min(1).optional(),
  HAUL_JWT_AUDIENCE: z.string().min(1).optional(),
});

export function loadClientConfig(overrides: { apiUrl?: string; token?: string; dataDir?: string } = {}): ClientConfig {
  const env = Object.fromEntries(Object.entries(processEnv()).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = ClientEnv.safeParse(env);
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  const e = parsed.data;
  const dataDir = resolve(overrides.dataDir ?? e.HAUL_DATA_DIR ?? '.haul');
  let devSecret = e.HAUL_JWT_SECRET;
  if (!devSecret) {
    try {
      devSecret = loadOrCreateSecrets(dataDir, { create: false })?.jwtSecret;
    } catch {
      devSecret = undefined;
    }
  }
  return {
    apiUrl: (overrides.apiUrl ?? e.HAUL_API_URL ?? `http://127.0.0.1:${e.PORT ?? 8080}`).replace(/\/$/, ''),
    token: overrides.token ?? e.HAUL_TOKEN,
    devSecret,
    issuer: e.HAUL_JWT_ISSUER,
    audience: e.HAUL_JWT_AUDIENCE,
  };
}
