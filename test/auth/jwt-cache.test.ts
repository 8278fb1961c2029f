import { SignJWT } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createAuthenticator, mintToken } from '../../src/auth/jwt.ts';

const SECRET = 'a-test-secret-of-enough-length-0123456789';
const auth = createAuthenticator({ jwtSecret: SECRET, jwksUrl: undefined, issuer: undefined, audience: undefined });

afterEach(() => {
  vi.useRealTimers();
});

describe('verified-token cache', () => {
  it('a token verified once stays valid only until its exp, and a forged variant is still refused', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('alice')
      .setExpirationTime(now + 2)
      .sign(new TextEncoder().encode(SECRET));
    expect(await auth.verify(token)).toEqual({ sub: 'alice', role: 'user' });
    // Cached: the same answer again, and a one-character change to the signature is not a hit.
    expect(await auth.verify(token)).toEqual({ sub: 'alice', role: 'user' });
    const forged = `${token.slice(0, -2)}${token.endsWith('AA') ? 'BB' : 'AA'}`;
    await expect(auth.verify(forged)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    // Past exp and past the 30 s clock tolerance: refused, cached or not.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 40_000);
    await expect(auth.verify(token)).rejects.toMatchObject({ code: 'UNAUTHENTICATED', message: 'token expired' });
  });

  it('an admin token keeps its role through the cache', async () => {
    const token = await mintToken(SECRET, { sub: 'root', role: 'admin', ttlMs: 60_000 });
    expect(await auth.verify(token)).toEqual({ sub: 'root', role: 'admin' });
    expect(await auth.verify(token)).toEqual({ sub: 'root', role: 'admin' });
  });
});
