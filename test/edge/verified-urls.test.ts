import { describe, expect, it } from 'vitest';
import { signDownloadUrl } from '../../src/edge/signing.ts';
import { VerifiedUrlCache } from '../../src/edge/verified-urls.ts';
import { testKeyring } from '../helpers/edge.ts';

describe('VerifiedUrlCache', () => {
  const exp = new Date(Date.UTC(2030, 0, 1));
  const url = signDownloadUrl(testKeyring, { baseUrl: 'http://e', objectPath: 'a/b', version: 'a'.repeat(64), expiresAt: exp });
  const target = url.slice('http://e'.length);

  it('returns the same verification for a remembered target, and re-checks the expiry on every hit', () => {
    const cache = new VerifiedUrlCache(testKeyring);
    const before = new Date(exp.getTime() - 1000);
    const first = cache.verify(target, before);
    expect(first.ok).toBe(true);
    expect(cache.verify(target, before)).toBe(first);
    expect(cache.verify(target, exp)).toEqual({ ok: false, code: 'URL_EXPIRED' });
  });

  it('never remembers a refusal: a forged target is refused every time', () => {
    const cache = new VerifiedUrlCache(testKeyring);
    const forged = target.replace(/sig=./, (m) => (m.endsWith('A') ? 'sig=B' : 'sig=A'));
    for (let i = 0; i < 3; i++) expect(cache.verify(forged, new Date(0))).toEqual({ ok: false, code: 'URL_BAD_SIGNATURE' });
  });

  it('is bounded: the oldest target is forgotten first', () => {
    const cache = new VerifiedUrlCache(testKeyring, 2);
    const t = (p: string) =>
      signDownloadUrl(testKeyring, { baseUrl: 'http://e', objectPath: p, version: 'a'.repeat(64), expiresAt: exp }).slice(8);
    const [a, b, c] = [t('x/1'), t('x/2'), t('x/3')];
    const now = new Date(0);
    const ra = cache.verify(a, now);
    cache.verify(b, now);
    cache.verify(c, now);
    expect(cache.verify(a, now)).not.toBe(ra);
    expect(cache.verify(a, now)).toEqual(ra);
  });
});
