import { loadClientConfig } from '../config/client.ts';
import { UsageError } from './args.ts';

const str = (v: string | boolean | undefined) => (typeof v === 'string' ? v : undefined);

/** Where the API is and which token to send, for client commands: --api/--token, HAUL_API_URL/HAUL_TOKEN, or --sub with the local secret. */
export async function clientAuth(values: Record<string, string | boolean | undefined>): Promise<{ api: string; token: string }> {
  const config = loadClientConfig({ apiUrl: str(values.api), token: str(values.token), dataDir: str(values['data-dir']) });
  let token = config.token;
  const sub = str(values.sub);
  const devSecret = !token && sub ? await config.devSecret() : undefined;
  if (sub && devSecret) {
    const { mintToken } = await import('../auth/jwt.ts');
    token = await mintToken(devSecret, { sub, ttlMs: 12 * 3_600_000, issuer: config.issuer, audience: config.audience });
  }
  if (!token) throw new UsageError('no token: pass --token, set HAUL_TOKEN, or --sub <user> next to the service’s data dir');
  return { api: config.apiUrl, token };
}

/** Options every client command takes. */
export const AUTH_OPTIONS = {
  api: { type: 'string' },
  token: { type: 'string' },
  sub: { type: 'string' },
  'data-dir': { type: 'string' },
} as const;

export const AUTH_USAGE = [
  '  --api URL       the service (default HAUL_API_URL, else http://127.0.0.1:<PORT or 8080>)',
  '  --token T       a JWT of the user (default HAUL_TOKEN)',
  '  --sub U         or mint a token for user U with the local secret (like haul token)',
  '  --data-dir D    where that secret is (default HAUL_DATA_DIR, else .haul)',
];
