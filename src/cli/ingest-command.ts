import { stat } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { mintToken } from '../auth/jwt.ts';
import type { Config } from '../config/index.ts';
import { isHaulError } from '../errors.ts';
import { DEFAULT_CHUNK_SIZE, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE } from '../files/chunking.ts';
import { assertUserStorageKey } from '../storage/versions.ts';
import { type Command, UsageError } from './args.ts';
import { configure } from './setup.ts';

const summary = 'put a local file into the store, ingest it on the running service, wait until READY, print its id';

const TYPES: Record<string, string> = {
  '.bin': 'application/octet-stream',
  '.iso': 'application/x-iso9660-image',
  '.zip': 'application/zip',
  '.gz': 'application/gzip',
  '.tgz': 'application/gzip',
  '.tar': 'application/x-tar',
  '.zst': 'application/zstd',
  '.xz': 'application/x-xz',
  '.pdf': 'application/pdf',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.csv': 'text/csv',
  '.html': 'text/html; charset=utf-8',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.mp4': 'video/mp4',
  '.mkv': 'video/x-matroska',
  '.mp3': 'audio/mpeg',
};

const UNITS: Record<string, number> = { '': 1, k: 1024, kib: 1024, m: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gib: 1024 ** 3 };

/** "10MiB", "4m", "1048576" → bytes. */
export function parseByteSize(text: string): number | undefined {
  const m = /^(\d+)\s*([a-z]*)$/i.exec(text.trim());
  const unit = m ? UNITS[(m[2] ?? '').toLowerCase()] : undefined;
  if (!m || unit === undefined) return undefined;
  const n = Number(m[1]) * unit;
  return Number.isSafeInteger(n) ? n : undefined;
}

const str = (v: string | boolean | undefined) => (typeof v === 'string' ? v : undefined);

/** --token, HAUL_TOKEN, or a short-lived admin token minted with the secret `haul serve` uses. */
async function adminToken(config: Config, given: string | undefined): Promise<string> {
  const token = given ?? config.client.token;
  if (token) return token;
  if (config.auth.jwtSecret)
    return mintToken(config.auth.jwtSecret, {
      sub: 'haul-ingest',
      role: 'admin',
      ttlMs: 15 * 60_000,
      issuer: config.auth.issuer,
      audience: config.auth.audience,
    });
  throw new UsageError(
    'no admin token: pass --token or set HAUL_TOKEN (e.g. $(haul token --sub you --role admin | tail -1)); ' +
      'without one, haul ingest mints its own only from HAUL_JWT_SECRET or the data dir secret',
  );
}

export const ingestCommand: Command = {
  name: 'ingest',
  summary,
  positionals: 1,
  usage: [
    'usage: haul ingest <path> [--name N] [--content-type T] [--chunk-size 10MiB] [--key K] [--checksum HEX]',
    '                          [--json] [--api URL] [--token T] [--data-dir D]',
    '',
    `${summary}.`,
    '',
    '  --name N          the file name clients see (default: the path’s base name)',
    '  --content-type T  media type (default: from the extension, else application/octet-stream)',
    '  --chunk-size S    manifest chunk size, 1KiB-1GiB, e.g. 4MiB (default 10MiB)',
    '  --key K           storage key (default uploads/<name>); an existing object there is replaced',
    '  --checksum HEX    the SHA-256 the file must have; other bytes end FAILED',
    '  --json            print one JSON object on the last line (id, size, checksum, merkleRoot, …)',
    '  --api URL         the running service (default HAUL_API_URL, else http://127.0.0.1:<PORT or 8080>)',
    '  --token T         an admin JWT (default HAUL_TOKEN; else one is minted from HAUL_JWT_SECRET',
    '                    or the data dir secret, when readable)',
    '  --data-dir D      the data dir of `haul serve` (default .haul): its objects folder is the store',
    '',
    'The store is the configured one (the data dir’s folder, or S3 from HAUL_STORAGE / S3_*), the same',
    'the service reads. Only `haul serve` opens the embedded database; this command talks to its API.',
    'Exit codes: 0 READY, 1 FAILED or unreachable, 2 usage.',
  ].join('\n'),
  options: {
    name: { type: 'string' },
    'content-type': { type: 'string' },
    'chunk-size': { type: 'string' },
    key: { type: 'string' },
    checksum: { type: 'string' },
    json: { type: 'boolean' },
    api: { type: 'string' },
    token: { type: 'string' },
    'data-dir': { type: 'string' },
  },
  async run(values, positionals) {
    const path = positionals[0];
    if (!path) throw new UsageError('the path of the file to ingest is required');
    const st = await stat(path).catch(() => null);
    if (!st?.isFile()) throw new UsageError(`${path}: not a readable file`);
    const name = str(values.name) ?? basename(path);
    const contentType = str(values['content-type']) ?? TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
    const chunkText = str(values['chunk-size']);
    const chunkSize = chunkText === undefined ? DEFAULT_CHUNK_SIZE : parseByteSize(chunkText);
    if (chunkSize === undefined || chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE)
      throw new UsageError('--chunk-size must be a size from 1KiB to 1GiB, such as 4MiB, 512KiB or 1048576');
    const checksum = str(values.checksum);
    // Checked before the upload: a refusal after copying gigabytes would be a poor answer.
    if (checksum !== undefined && !/^[0-9a-fA-F]{64}$/.test(checksum))
      throw new UsageError('--checksum must be 64 hex characters (SHA-256)');
    const key = str(values.key) ?? `uploads/${name}`;
    try {
      assertUserStorageKey(key);
    } catch (e) {
      throw new UsageError(`${isHaulError(e) ? e.message : String(e)}${values.key ? '' : ' (choose one with --key)'}`);
    }
    const json = values.json === true;

    const config = configure(
      { dataDir: str(values['data-dir']), requireAuth: false, requireSigning: false },
      { createSecrets: false },
    );
    const api = str(values.api) ?? config.client.apiUrl ?? `http://127.0.0.1:${config.port}`;
    const token = await adminToken(config, str(values.token));
    const { runIngest } = await import('./ingest-run.ts');
    return runIngest({
      path,
      size: st.size,
      name,
      contentType,
      chunkSize,
      key,
      checksum,
      json,
      api,
      token,
      config,
    });
  },
};
