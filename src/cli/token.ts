import { mintToken } from '../auth/jwt.ts';
import { parseDuration } from '../config/duration.ts';
import { type Command, EXIT, UsageError } from './args.ts';
import { configure } from './setup.ts';

export const tokenCommand: Command = {
  name: 'token',
  summary: 'print a development JWT signed with the local secret (alone on the last line)',
  usage: [
    'usage: haul token --sub <user> [--role admin] [--ttl 1h] [--data-dir .haul]',
    '',
    'Mints an HS256 token with the same secret `haul serve`/`haul api` verify with:',
    'HAUL_JWT_SECRET when set, else the secret generated in the data dir.',
    '',
    '  --sub U         the user (JWT subject) who will own the sessions (required)',
    '  --role R        user (default) or admin',
    '  --ttl D         lifetime, e.g. 15m, 1h, 7d (default 1h)',
    '  --data-dir D    the data dir of `haul serve` (default .haul)',
  ].join('\n'),
  options: {
    sub: { type: 'string' },
    role: { type: 'string' },
    ttl: { type: 'string' },
    'data-dir': { type: 'string' },
  },
  async run(values) {
    const sub = values.sub;
    if (typeof sub !== 'string' || sub.length === 0 || sub.length > 256)
      throw new UsageError('--sub <user> is required (1-256 characters)');
    const role = values.role ?? 'user';
    if (role !== 'admin' && role !== 'user') throw new UsageError('--role must be admin or user');
    const ttlMs = parseDuration(typeof values.ttl === 'string' ? values.ttl : '1h');
    if (ttlMs === undefined) throw new UsageError('--ttl must be a duration such as 15m, 1h or 7d');
    const config = configure(
      { dataDir: typeof values['data-dir'] === 'string' ? values['data-dir'] : undefined },
      { createSecrets: true },
    );
    if (!config.auth.jwtSecret)
      throw new UsageError('no HS256 secret: this deployment verifies tokens from HAUL_JWKS_URL; mint them there');
    console.error(
      `token for ${sub}${role === 'admin' ? ' (admin)' : ''}, valid ${typeof values.ttl === 'string' ? values.ttl : '1h'}:`,
    );
    console.log(
      await mintToken(config.auth.jwtSecret, { sub, role, ttlMs, issuer: config.auth.issuer, audience: config.auth.audience }),
    );
    return EXIT.OK;
  },
};
