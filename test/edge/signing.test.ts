import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canonicalString,
  downloadCacheKey,
  Keyring,
  type SignDownloadUrlInput,
  signDownloadUrl,
  type VerifyResult,
  verifyDownloadUrl,
} from '../../src/edge/signing.ts';

const K1 = 'k1-secret-0123456789abcdef';
const K2 = 'k2-secret-fedcba9876543210';
const VERSION = 'a'.repeat(64);
const NOW = new Date('2026-01-01T00:00:00Z');
const LATER = new Date(NOW.getTime() + 3_600_000);

const ring1 = new Keyring({ keys: { k1: K1 }, activeKid: 'k1', retired: [] });

const input = (over: Partial<SignDownloadUrlInput> = {}): SignDownloadUrlInput => ({
  baseUrl: 'https://edge.example.com',
  objectPath: 'files/2026/report.pdf',
  version: VERSION,
  expiresAt: LATER,
  filename: 'report.pdf',
  contentType: 'application/pdf',
  ...over,
});

// biome-ignore lint/suspicious/noControlCharactersInRegex: generated values must avoid them
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

const codeOf = (r: VerifyResult) => (r.ok ? 'OK' : r.code);

/** Replaces one query parameter's raw (encoded) value. */
function withParam(url: string, name: string, rawValue: string | undefined): string {
  const u = new URL(url);
  const pairs = u.search
    .slice(1)
    .split('&')
    .filter((p) => !p.startsWith(`${name}=`));
  if (rawValue !== undefined) pairs.splice(pairs.length - 1, 0, `${name}=${rawValue}`);
  return `${u.origin}${u.pathname}?${pairs.join('&')}`;
}

function paramOf(url: string, name: string): string {
  const v = new URL(url).searchParams.get(name);
  if (v === null) throw new Error(`no ${name}`);
  return v;
}

describe('signed download URLs', () => {
  it('round-trips every field', () => {
    const url = signDownloadUrl(ring1, input());
    expect(url).toMatch(
      /^https:\/\/edge\.example\.com\/d\/files\/2026\/report\.pdf\?v=a{64}&exp=\d+&kid=k1&fn=report\.pdf&ct=application%2Fpdf&sig=[A-Za-z0-9_-]{43}$/,
    );
    const r = verifyDownloadUrl(ring1, url, NOW);
    expect(r).toEqual({
      ok: true,
      objectPath: 'files/2026/report.pdf',
      version: VERSION,
      expiresAt: LATER,
      filename: 'report.pdf',
      contentType: 'application/pdf',
      kid: 'k1',
    });
  });

  it('round-trips a non-ASCII filename and a path with spaces and unicode', () => {
    const objectPath = 'uploads/my files/Ünïcødé ✓/年度 報告 (final)+v2.tar.gz';
    const filename = 'Jahresbericht „2026“ – 年度 報告 😀.tar.gz';
    const url = signDownloadUrl(ring1, input({ objectPath, filename, contentType: 'application/gzip; charset=binary' }));
    expect(url).not.toMatch(/[ \u0080-\uffff]/);
    const r = verifyDownloadUrl(ring1, url, NOW);
    expect(r.ok && r.objectPath).toBe(objectPath);
    expect(r.ok && r.filename).toBe(filename);
    expect(r.ok && r.contentType).toBe('application/gzip; charset=binary');
    // The edge sees only the request target; a URL object works too.
    const u = new URL(url);
    expect(codeOf(verifyDownloadUrl(ring1, `${u.pathname}${u.search}`, NOW))).toBe('OK');
    expect(codeOf(verifyDownloadUrl(ring1, u, NOW))).toBe('OK');
  });

  it('works without the optional overrides and under a base path prefix', () => {
    const url = signDownloadUrl(
      ring1,
      input({ baseUrl: 'https://cdn.example.com/haul/', filename: undefined, contentType: undefined }),
    );
    expect(url.startsWith('https://cdn.example.com/haul/d/files/2026/report.pdf?v=')).toBe(true);
    const r = verifyDownloadUrl(ring1, url, NOW);
    expect(r.ok).toBe(true);
    expect(r.ok && 'filename' in r).toBe(false);
    expect(r.ok && 'contentType' in r).toBe(false);
  });

  it('refuses a tampered path', () => {
    const url = signDownloadUrl(ring1, input());
    expect(codeOf(verifyDownloadUrl(ring1, url.replace('/report.pdf?', '/report.pdg?'), NOW))).toBe('URL_BAD_SIGNATURE');
    expect(codeOf(verifyDownloadUrl(ring1, url.replace('/files/2026/', '/files/2027/'), NOW))).toBe('URL_BAD_SIGNATURE');
    expect(codeOf(verifyDownloadUrl(ring1, url.replace('/d/files/', '/d/other/files/'), NOW))).toBe('URL_BAD_SIGNATURE');
    // an encoded slash or a dot-dot segment is never a valid object path
    expect(codeOf(verifyDownloadUrl(ring1, url.replace('/2026/', '%2F2026/'), NOW))).toBe('URL_MALFORMED');
    expect(codeOf(verifyDownloadUrl(ring1, url.replace('/2026/', '/%2e%2e/x/'), NOW))).not.toBe('OK');
    expect(codeOf(verifyDownloadUrl(ring1, url.replace('/d/', '/x/'), NOW))).toBe('URL_MALFORMED');
  });

  it('refuses a tampered value of each parameter', () => {
    const url = signDownloadUrl(ring1, input());
    expect(codeOf(verifyDownloadUrl(ring1, withParam(url, 'v', 'b'.repeat(64)), NOW))).toBe('URL_BAD_SIGNATURE');
    expect(codeOf(verifyDownloadUrl(ring1, withParam(url, 'fn', 'evil.exe'), NOW))).toBe('URL_BAD_SIGNATURE');
    expect(codeOf(verifyDownloadUrl(ring1, withParam(url, 'ct', 'text%2Fhtml'), NOW))).toBe('URL_BAD_SIGNATURE');
    // dropping or adding an optional override changes the canonical string
    expect(codeOf(verifyDownloadUrl(ring1, withParam(url, 'fn', undefined), NOW))).toBe('URL_BAD_SIGNATURE');
    expect(codeOf(verifyDownloadUrl(ring1, withParam(url, 'ct', undefined), NOW))).toBe('URL_BAD_SIGNATURE');
    const bare = signDownloadUrl(ring1, input({ filename: undefined }));
    expect(codeOf(verifyDownloadUrl(ring1, withParam(bare, 'fn', 'x.bin'), NOW))).toBe('URL_BAD_SIGNATURE');
    // the key id is bound by the HMAC key itself
    const both = new Keyring({ keys: { k1: K1, k2: K2 }, activeKid: 'k1', retired: [] });
    expect(codeOf(verifyDownloadUrl(both, withParam(url, 'kid', 'k2'), NOW))).toBe('URL_BAD_SIGNATURE');
  });

  it('refuses a tampered expiry as a bad signature, even when moved into the past', () => {
    const url = signDownloadUrl(ring1, input());
    const exp = Number(paramOf(url, 'exp'));
    expect(codeOf(verifyDownloadUrl(ring1, withParam(url, 'exp', String(exp + 86_400)), NOW))).toBe('URL_BAD_SIGNATURE');
    expect(codeOf(verifyDownloadUrl(ring1, withParam(url, 'exp', String(exp - 1)), NOW))).toBe('URL_BAD_SIGNATURE');
    expect(codeOf(verifyDownloadUrl(ring1, withParam(url, 'exp', `0${exp}`), NOW))).toBe('URL_MALFORMED');
  });

  it('refuses tampered, truncated, extended and missing signatures without throwing', () => {
    const url = signDownloadUrl(ring1, input());
    const sig = paramOf(url, 'sig');
    const flipped = (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1);
    expect(codeOf(verifyDownloadUrl(ring1, withParam(url, 'sig', flipped), NOW))).toBe('URL_BAD_SIGNATURE');
    expect(codeOf(verifyDownloadUrl(ring1, withParam(url, 'sig', sig.slice(0, -1)), NOW))).toBe('URL_BAD_SIGNATURE');
    expect(codeOf(verifyDownloadUrl(ring1, withParam(url, 'sig', sig.slice(0, 10)), NOW))).toBe('URL_BAD_SIGNATURE');
    expect(codeOf(verifyDownloadUrl(ring1, withParam(url, 'sig', `${sig}A`), NOW))).toBe('URL_BAD_SIGNATURE');
    expect(codeOf(verifyDownloadUrl(ring1, withParam(url, 'sig', `${sig}%3D`), NOW))).toBe('URL_BAD_SIGNATURE');
    expect(codeOf(verifyDownloadUrl(ring1, withParam(url, 'sig', '%C3%A9'.repeat(20)), NOW))).toBe('URL_BAD_SIGNATURE');
    expect(codeOf(verifyDownloadUrl(ring1, withParam(url, 'sig', undefined), NOW))).toBe('URL_MISSING_SIGNATURE');
    expect(codeOf(verifyDownloadUrl(ring1, withParam(url, 'sig', ''), NOW))).toBe('URL_MISSING_SIGNATURE');
  });

  it('rejects unknown, repeated and badly encoded parameters', () => {
    const url = signDownloadUrl(ring1, input());
    expect(codeOf(verifyDownloadUrl(ring1, `${url}&x=1`, NOW))).toBe('URL_MALFORMED');
    expect(codeOf(verifyDownloadUrl(ring1, url.replace('?', '?utm_source=mail&'), NOW))).toBe('URL_MALFORMED');
    expect(codeOf(verifyDownloadUrl(ring1, `${url}&fn=other`, NOW))).toBe('URL_MALFORMED');
    expect(codeOf(verifyDownloadUrl(ring1, `${url}&`, NOW))).toBe('URL_MALFORMED');
    expect(codeOf(verifyDownloadUrl(ring1, withParam(url, 'fn', '%FF'), NOW))).toBe('URL_MALFORMED');
    expect(codeOf(verifyDownloadUrl(ring1, withParam(url, 'fn', 'a%0Ab'), NOW))).toBe('URL_MALFORMED');
    expect(codeOf(verifyDownloadUrl(ring1, withParam(url, 'ct', 'text%2Fhtml%0D%0ASet-Cookie:%20x'), NOW))).toBe('URL_MALFORMED');
    expect(codeOf(verifyDownloadUrl(ring1, 'not a url at all', NOW))).not.toBe('OK');
    expect(codeOf(verifyDownloadUrl(ring1, '', NOW))).not.toBe('OK');
  });

  it('keeps the canonical string unambiguous', () => {
    // "=" and LF-looking content cannot shift one field into another
    const a = canonicalString(
      'p',
      new Map([
        ['fn', 'x=1'],
        ['v', VERSION],
      ]),
    );
    const b = canonicalString(
      'p',
      new Map([
        ['fn', 'x'],
        ['v', VERSION],
      ]),
    );
    expect(a).not.toBe(b);
    expect(() => signDownloadUrl(ring1, input({ filename: 'a\nexp=1' }))).toThrow(/filename/);
    expect(() => signDownloadUrl(ring1, input({ objectPath: 'a\nb' }))).toThrow(/objectPath/);
    expect(() => signDownloadUrl(ring1, input({ objectPath: 'a/../b' }))).toThrow(/objectPath/);
    expect(() => signDownloadUrl(ring1, input({ objectPath: '/abs' }))).toThrow(/objectPath/);
    expect(() => signDownloadUrl(ring1, input({ contentType: 'text/html\r\nX: y' }))).toThrow(/contentType/);
    expect(() => signDownloadUrl(ring1, input({ version: 'A'.repeat(64) }))).toThrow(/version/);
    expect(() => signDownloadUrl(ring1, input({ baseUrl: 'https://x.example/d' }))).toThrow(/baseUrl/);
    // a filename with "=" and "&" round-trips
    const url = signDownloadUrl(ring1, input({ filename: 'a=b&c=d?#.txt' }));
    const r = verifyDownloadUrl(ring1, url, NOW);
    expect(r.ok && r.filename).toBe('a=b&c=d?#.txt');
  });

  it('refuses an expired URL (valid strictly before exp)', () => {
    const url = signDownloadUrl(ring1, input());
    expect(codeOf(verifyDownloadUrl(ring1, url, new Date(LATER.getTime() - 1)))).toBe('OK');
    expect(codeOf(verifyDownloadUrl(ring1, url, LATER))).toBe('URL_EXPIRED');
    expect(codeOf(verifyDownloadUrl(ring1, url, new Date(LATER.getTime() + 86_400_000)))).toBe('URL_EXPIRED');
  });

  it('refuses an unknown key id and a retired one', () => {
    const url = signDownloadUrl(ring1, input());
    const other = new Keyring({ keys: { k2: K2 }, activeKid: 'k2', retired: [] });
    expect(codeOf(verifyDownloadUrl(other, url, NOW))).toBe('URL_UNKNOWN_KEY');
    expect(codeOf(verifyDownloadUrl(ring1, withParam(url, 'kid', 'nope'), NOW))).toBe('URL_UNKNOWN_KEY');
    const retired = new Keyring({ keys: { k1: K1, k2: K2 }, activeKid: 'k2', retired: ['k1'] });
    expect(codeOf(verifyDownloadUrl(retired, url, NOW))).toBe('URL_RETIRED_KEY');
  });

  it('rotates keys without breaking URLs in flight', () => {
    const old = signDownloadUrl(ring1, input());
    expect(paramOf(old, 'kid')).toBe('k1');
    const rotated = new Keyring({ keys: { k1: K1, k2: K2 }, activeKid: 'k2', retired: [] });
    expect(codeOf(verifyDownloadUrl(rotated, old, NOW))).toBe('OK');
    const fresh = signDownloadUrl(rotated, input());
    expect(paramOf(fresh, 'kid')).toBe('k2');
    expect(codeOf(verifyDownloadUrl(rotated, fresh, NOW))).toBe('OK');
    const k1Retired = new Keyring({ keys: { k1: K1, k2: K2 }, activeKid: 'k2', retired: ['k1'] });
    expect(codeOf(verifyDownloadUrl(k1Retired, old, NOW))).toBe('URL_RETIRED_KEY');
    expect(codeOf(verifyDownloadUrl(k1Retired, fresh, NOW))).toBe('OK');
  });

  it('validates the keyring', () => {
    expect(() => new Keyring({ keys: { k1: K1 }, activeKid: 'k2', retired: [] })).toThrow(/active/);
    expect(() => new Keyring({ keys: { k1: K1 }, activeKid: 'k1', retired: ['k1'] })).toThrow(/retired/);
    expect(() => new Keyring({ keys: { k1: 'short' }, activeKid: 'k1', retired: [] })).toThrow(/16/);
  });

  it('gives every URL of one version the same cache key', () => {
    const rotated = new Keyring({ keys: { k1: K1, k2: K2 }, activeKid: 'k2', retired: [] });
    const a = verifyDownloadUrl(ring1, signDownloadUrl(ring1, input()), NOW);
    const b = verifyDownloadUrl(
      rotated,
      signDownloadUrl(rotated, input({ expiresAt: new Date(LATER.getTime() + 5000), filename: 'x' })),
      NOW,
    );
    const c = verifyDownloadUrl(ring1, signDownloadUrl(ring1, input({ version: 'b'.repeat(64) })), NOW);
    if (!a.ok || !b.ok || !c.ok) throw new Error('expected verified URLs');
    expect(downloadCacheKey(a)).toBe(downloadCacheKey(b));
    expect(downloadCacheKey(a)).not.toBe(downloadCacheKey(c));
    expect(downloadCacheKey(a)).toBe(`files/2026/report.pdf?v=${VERSION}`);
    expect(downloadCacheKey(a)).not.toMatch(/sig|exp|kid/);
  });

  it('property: a one-character change to the path or query never forges a different URL', () => {
    const segment = fc
      .string({ unit: 'grapheme', minLength: 1, maxLength: 8 })
      .filter((s) => s !== '.' && s !== '..' && !s.includes('/') && !CONTROL.test(s));
    const fields = fc.record({
      objectPath: fc.array(segment, { minLength: 1, maxLength: 4 }).map((a) => a.join('/')),
      version: fc.stringMatching(/^[0-9a-f]{64}$/),
      filename: fc.option(
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }).filter((s) => !CONTROL.test(s)),
        { nil: undefined },
      ),
      contentType: fc.option(fc.constantFrom('application/octet-stream', 'text/plain; charset=utf-8', 'video/mp4'), {
        nil: undefined,
      }),
    });
    // characters that matter to URL syntax, plus ordinary ones
    const replacement = fc.constantFrom(..."aAzZ09-_.~%/?#&=+;:@!$'()*, é\u00a0\t".split(''), '%00', '%2F', '%3D', '%26');

    fc.assert(
      fc.property(fields, fc.nat(), replacement, (f, pos, ch) => {
        const url = signDownloadUrl(ring1, { baseUrl: 'https://edge.example.com', expiresAt: LATER, ...f });
        const original = verifyDownloadUrl(ring1, url, NOW);
        if (!original.ok) return false;
        const start = url.indexOf('/d/');
        const i = start + (pos % (url.length - start));
        const mutated = url.slice(0, i) + ch + url.slice(i + 1);
        if (mutated === url) return true;
        let r: VerifyResult;
        try {
          r = verifyDownloadUrl(ring1, mutated, NOW);
        } catch {
          return false; // verification must never throw
        }
        if (!r.ok) return true;
        expect(r).toEqual(original);
        return true;
      }),
      { numRuns: 3000 },
    );
  });
});
