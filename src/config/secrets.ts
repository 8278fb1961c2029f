import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

const Secrets = z.object({
  jwtSecret: z.string().min(32),
  signingKid: z.string().min(1),
  signingSecret: z.string().min(16),
});
export type GeneratedSecrets = z.infer<typeof Secrets>;

/**
 * Embedded mode's secrets: generated once into `<dataDir>/secrets.json` (mode 0600) so that
 * `haul serve` and `haul token` agree without any setup. Production sets HAUL_JWT_SECRET and
 * HAUL_SIGNING_KEYS instead, and these are never read.
 */
export function loadOrCreateSecrets(dataDir: string, opts: { create: boolean }): GeneratedSecrets | undefined {
  const file = join(dataDir, 'secrets.json');
  try {
    return Secrets.parse(JSON.parse(readFileSync(file, 'utf8')));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new Error(`${file} is unreadable or malformed; remove it to regenerate`);
  }
  if (!opts.create) return undefined;
  const secrets: GeneratedSecrets = {
    jwtSecret: randomBytes(32).toString('base64url'),
    signingKid: `k${randomBytes(3).toString('hex')}`,
    signingSecret: randomBytes(32).toString('base64url'),
  };
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  // 'wx': two processes starting at once must not overwrite each other's secrets.
  try {
    writeFileSync(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return Secrets.parse(JSON.parse(readFileSync(file, 'utf8')));
    throw e;
  }
  return secrets;
}
