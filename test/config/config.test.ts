import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../src/config/duration.ts';
import { ConfigError, loadConfig } from '../../src/config/index.ts';

const base = { HAUL_JWT_SECRET: 's'.repeat(32), HAUL_SIGNING_KEYS: 'k1:0123456789abcdef' };

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
}

describe('configuration', () => {
  it('chooses embedded backends when nothing is configured', () => {
    const c = loadConfig(base, { dataDir: '/tmp/haul-x' });
    expect(c.mode).toBe('embedded');
    expect(c.database).toEqual({ kind: 'pglite', dir: '/tmp/haul-x/pglite' });
    expect(c.storage).toEqual({ kind: 'fs', root: '/tmp/haul-x/objects' });
    expect(c.signing).toMatchObject({ activeKid: 'k1', retired: [], urlTtlMs: 12 * 3_600_000 });
    expect(c.sessionTtlMs).toBe(72 * 3_600_000);
    expect(c.port).toBe(8080);
  });

  it('chooses production backends by configuration alone', () => {
    const c = loadConfig({
      ...base,
      DATABASE_URL: 'postgresql://u@db/haul',
      REDIS_URL: 'redis://cache:6379',
      S3_BUCKET: 'b',
      S3_ENDPOINT: 'http://minio:9000',
      HAUL_DOWNLOAD_URLS: 's3-presigned',
    });
    expect(c.mode).toBe('production');
    expect(c.database).toEqual({ kind: 'postgres', url: 'postgresql://u@db/haul' });
    expect(c.storage).toMatchObject({ kind: 's3', bucket: 'b', forcePathStyle: true, region: 'us-east-1' });
    expect(c.downloadUrls).toBe('s3-presigned');
  });

  it('reports every problem at once and never a secret value', () => {
    const p = problems({
      HAUL_JWT_SECRET: 'tiny-secret',
      HAUL_SIGNING_KEYS: 'k1:short',
      PORT: '99999',
      HAUL_URL_TTL: 'later',
      DATABASE_URL: 'mysql://x',
    });
    expect(p.length).toBe(5);
    expect(p.join('\n')).not.toMatch(/tiny-secret|short/);
  });

  it('checks relations between settings', () => {
    expect(problems({ ...base, HAUL_DOWNLOAD_URLS: 's3-presigned' })).toEqual([
      'HAUL_DOWNLOAD_URLS=s3-presigned needs S3 storage (HAUL_STORAGE=s3)',
    ]);
    expect(problems({ ...base, HAUL_STORAGE: 's3' })).toEqual(['S3_BUCKET is required when HAUL_STORAGE=s3']);
    expect(problems({ ...base, S3_BUCKET: 'b', AWS_ACCESS_KEY_ID: 'a' })).toEqual([
      'AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together',
    ]);
    expect(problems({ HAUL_SIGNING_KEYS: base.HAUL_SIGNING_KEYS })).toEqual([
      'set HAUL_JWT_SECRET (32+ characters) or HAUL_JWKS_URL',
    ]);
    expect(
      problems({ ...base, HAUL_SIGNING_KEYS: 'k1:0123456789abcdef,k2:0123456789abcdef', HAUL_SIGNING_ACTIVE_KID: 'k3' }),
    ).toEqual(['HAUL_SIGNING_ACTIVE_KID must name one of the keys in HAUL_SIGNING_KEYS']);
    expect(problems({ ...base, HAUL_SIGNING_RETIRED_KIDS: 'k1' })).toEqual(['the active signing key cannot also be retired']);
  });

  it('parses durations', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('15m')).toBe(900_000);
    expect(parseDuration('12h')).toBe(43_200_000);
    expect(parseDuration('3d')).toBe(259_200_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('60')).toBe(60_000);
    for (const bad of ['', '0', '-1h', '1w', 'h', '1.5.h']) expect(parseDuration(bad), bad).toBeUndefined();
  });
});
