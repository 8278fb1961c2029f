import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MyDownloadsDocument } from '../../src/client/generated/graphql.ts';
import { codeOf, gql, startTestServer, type TestServer } from '../helpers/server.ts';

// An external identity provider: a JWKS endpoint serving one RS256 public key.
let idp: Server;
let srv: TestServer;
let privateKey: CryptoKey;

beforeAll(async () => {
  const pair = await generateKeyPair('RS256');
  privateKey = pair.privateKey as CryptoKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'idp-1', alg: 'RS256', use: 'sig' };
  idp = createServer((_, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((r) => idp.listen(0, '127.0.0.1', r));
  const jwksUrl = `http://127.0.0.1:${(idp.address() as AddressInfo).port}/.well-known/jwks.json`;
  srv = await startTestServer({
    db: 'pglite',
    role: 'api',
    env: { HAUL_JWKS_URL: jwksUrl, HAUL_JWT_ISSUER: 'https://idp.example', HAUL_JWT_AUDIENCE: 'haul' },
  });
});

afterAll(async () => {
  await srv?.[Symbol.asyncDispose]();
  await new Promise((r) => idp?.close(r));
});

const idpToken = (claims: { iss?: string; aud?: string; kid?: string } = {}) =>
  new SignJWT({})
    .setProtectedHeader({ alg: 'RS256', kid: claims.kid ?? 'idp-1' })
    .setSubject('carol')
    .setIssuer(claims.iss ?? 'https://idp.example')
    .setAudience(claims.aud ?? 'haul')
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(privateKey);

describe('tokens from an identity provider (JWKS URL)', () => {
  it('accepts an RS256 token whose key is in the JWKS', async () => {
    const r = await gql(srv.url, await idpToken(), MyDownloadsDocument, {});
    expect(r.status).toBe(200);
    expect(r.data?.myDownloads).toEqual([]);
  });

  it('refuses the wrong issuer, the wrong audience, an unknown key id and HS256 tokens', async () => {
    for (const token of [
      await idpToken({ iss: 'https://evil.example' }),
      await idpToken({ aud: 'other-service' }),
      await idpToken({ kid: 'unknown' }),
      await srv.token('carol'),
    ]) {
      const r = await gql(srv.url, token, MyDownloadsDocument, {});
      expect(r.status).toBe(401);
      expect(codeOf(r)).toBe('UNAUTHENTICATED');
    }
  });
});
