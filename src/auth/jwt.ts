import { createRemoteJWKSet, errors, type JWTPayload, jwtVerify, SignJWT } from 'jose';
import { BoundedMap } from '../bounded-map.ts';
import type { AuthConfig } from '../config/index.ts';
import { HaulError } from '../errors.ts';

/** The authenticated caller. `sub` owns sessions; admins may see and act on every session. */
export interface Viewer {
  sub: string;
  role: 'admin' | 'user';
}

export interface Authenticator {
  /** Verifies a bearer token; throws HaulError UNAUTHENTICATED with a reason otherwise. */
  verify(token: string): Promise<Viewer>;
}

const MAX_TOKEN_LENGTH = 8192;
/** Verified tokens remembered per process (oldest dropped first), each for at most this long. */
const VERIFIED_MAX = 10_000;
const VERIFIED_TTL_MS = 5 * 60_000;

/**
 * HS256 with a shared secret, or RS256/ES256/EdDSA from a JWKS URL. The algorithm list is
 * fixed per mode, so `alg: none` and algorithm-confusion tokens are refused by jose itself.
 */
export function createAuthenticator(cfg: AuthConfig): Authenticator {
  const common = {
    issuer: cfg.issuer,
    audience: cfg.audience,
    requiredClaims: ['sub', 'exp'],
    clockTolerance: 30,
  };
  const verifyWith = cfg.jwksUrl
    ? (() => {
        const jwks = createRemoteJWKSet(new URL(cfg.jwksUrl));
        return (t: string) => jwtVerify(t, jwks, { ...common, algorithms: ['RS256', 'ES256', 'EdDSA', 'PS256'] });
      })()
    : (() => {
        const key = new TextEncoder().encode(cfg.jwtSecret ?? '');
        return (t: string) => jwtVerify(t, key, { ...common, algorithms: ['HS256'] });
      })();

  // A client sends the same token with every report: once its signature and claims checked out,
  // the exact same string is valid until its `exp`. Re-verifying (a WebCrypto key import and an
  // HMAC per request) was a visible share of the progress hot path's CPU.
  const verified = new BoundedMap<string, { viewer: Viewer; until: number }>(VERIFIED_MAX);

  return {
    async verify(token) {
      if (!token || token.length > MAX_TOKEN_LENGTH) throw new HaulError('UNAUTHENTICATED', 'missing or oversized bearer token');
      const hit = verified.get(token);
      if (hit) {
        if (hit.until > Date.now()) return hit.viewer;
        verified.delete(token);
      }
      return verifyUncached(token);
    },
  };

  async function verifyUncached(token: string): Promise<Viewer> {
    let payload: JWTPayload;
    try {
      ({ payload } = await verifyWith(token));
    } catch (e) {
      const reason = e instanceof errors.JWTExpired ? 'token expired' : 'invalid token';
      throw new HaulError('UNAUTHENTICATED', reason);
    }
    if (typeof payload.sub !== 'string' || payload.sub.length === 0 || payload.sub.length > 256)
      throw new HaulError('UNAUTHENTICATED', 'token has no subject');
    const viewer: Viewer = { sub: payload.sub, role: payload.role === 'admin' ? 'admin' : 'user' };
    // Until its expiry (no clock tolerance), and at most VERIFIED_TTL_MS: a JWKS key that is
    // withdrawn stops being honoured within that bound.
    const until = Math.min((payload.exp ?? 0) * 1000, Date.now() + VERIFIED_TTL_MS);
    if (until > Date.now()) verified.set(token, { viewer, until });
    return viewer;
  }
}

/** Extracts the token of an `Authorization: Bearer …` header value. */
export function bearerToken(header: string | null | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  return m?.[1];
}

/** Mints an HS256 development token (`haul token`), signed with the configured secret. */
export async function mintToken(
  secret: string,
  claims: { sub: string; role?: 'admin' | 'user'; ttlMs: number; issuer?: string | undefined; audience?: string | undefined },
) {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT(claims.role === 'admin' ? { role: 'admin' } : {})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(claims.sub)
    .setIssuedAt(now)
    .setExpirationTime(now + Math.ceil(claims.ttlMs / 1000));
  if (claims.issuer) jwt.setIssuer(claims.issuer);
  if (claims.audience) jwt.setAudience(claims.audience);
  return jwt.sign(new TextEncoder().encode(secret));
}
