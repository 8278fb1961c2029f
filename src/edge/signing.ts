/**
 * Signed download URLs: signed by the API, verified by the edge on its own (DESIGN §6).
 *
 * ## URL format
 *
 *   <base>/d/<objectPath>?v=<version>&exp=<expiry>&kid=<keyId>[&fn=<filename>][&ct=<contentType>]&sig=<signature>
 *
 * | part         | meaning                                                                        |
 * |--------------|--------------------------------------------------------------------------------|
 * | `objectPath` | the storage key; each `/`-separated segment percent-encoded (encodeURIComponent) |
 * | `v`          | the file's SHA-256, 64 lowercase hex digits: binds exactly one object version  |
 * | `exp`        | expiry, Unix time in whole seconds (decimal, no leading zeros); valid while now < exp |
 * | `kid`        | key id in the keyring (`[A-Za-z0-9_-]{1,32}`)                                  |
 * | `fn`         | optional Content-Disposition filename override (any Unicode, no control chars) |
 * | `ct`         | optional Content-Type override (a media type, printable ASCII)                 |
 * | `sig`        | HMAC-SHA256 of the canonical string with the `kid` key, base64url, no padding  |
 *
 * Query values are percent-decoded as application/x-www-form-urlencoded (`+` is a space); the
 * signer always writes `%20`. The objectPath is everything after the first `d` segment of the
 * path, so the edge may be mounted under a prefix (the base URL's own path must not contain a
 * `d` segment). Scheme, host and base path are not signed: the same URL works through a CDN,
 * a shield edge or a reverse proxy that strips a prefix.
 *
 * ## Canonical string (what is signed)
 *
 *   "haul-url-v1" LF <decoded objectPath> LF <name>=<decoded value> LF ... (every parameter
 *   except `sig`, sorted by name, values exactly as decoded)
 *
 * It is unambiguous: no value (the path included) may contain a control character (C0, DEL,
 * C1), so none contains LF; names are a fixed set without `=`; each name occurs at most once;
 * the path is always line 2. Decoded path segments may not be empty, `.`, `..`, or contain `/`.
 *
 * ## Strictness (decided, not accidental)
 *
 * - An unknown parameter is REJECTED (`URL_MALFORMED`), never ignored: a later format that adds
 *   a restriction (say, an IP binding) must not be silently accepted by an older edge.
 * - A repeated parameter, an empty `a&&b` pair, a pair without `=`, or bad percent-encoding
 *   (including invalid UTF-8) is `URL_MALFORMED`.
 * - The signature is compared as its base64url text, so non-canonical encodings are refused.
 * - Checks run in this order: structure → `sig` present → fields well-formed → key known /
 *   not retired → signature → expiry. A tampered `exp` therefore answers `URL_BAD_SIGNATURE`,
 *   and `URL_EXPIRED` is only ever said of an authentic URL.
 *
 * The edge cache key (`downloadCacheKey`) is the path and the version only: sig, exp, kid and
 * the header overrides do not change the bytes, so every URL for one version shares the cache.
 */
import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from 'node:crypto';
import type { SigningConfig } from '../config/index.ts';

export const URL_FORMAT_VERSION = 'haul-url-v1';
/** The path segment that introduces the object path. */
export const DOWNLOAD_PATH_SEGMENT = 'd';

const KNOWN_PARAMS = new Set(['v', 'exp', 'kid', 'fn', 'ct', 'sig']);
const KID_RE = /^[A-Za-z0-9_-]{1,32}$/;
const VERSION_RE = /^[0-9a-f]{64}$/;
const EXP_RE = /^(?:0|[1-9][0-9]{0,11})$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f]/;
const LONE_SURROGATE_RE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const CONTENT_TYPE_RE = new RegExp(`^${TOKEN}/${TOKEN}(?:[ ]*;[\\x20-\\x7e]*)?$`);
const MAX_PATH_BYTES = 1024;
const MAX_FILENAME_CHARS = 1024;
const MAX_CONTENT_TYPE_CHARS = 255;

export type UrlRefusalCode =
  | 'URL_MISSING_SIGNATURE'
  | 'URL_BAD_SIGNATURE'
  | 'URL_EXPIRED'
  | 'URL_UNKNOWN_KEY'
  | 'URL_RETIRED_KEY'
  | 'URL_MALFORMED';

export interface VerifiedDownloadUrl {
  ok: true;
  objectPath: string;
  version: string;
  expiresAt: Date;
  filename?: string;
  contentType?: string;
  kid: string;
}

export type VerifyResult = VerifiedDownloadUrl | { ok: false; code: UrlRefusalCode };

export interface SignDownloadUrlInput {
  /** Absolute URL of the edge (or CDN) origin, optionally with a path prefix; no query. */
  baseUrl: string;
  /** The storage key, `/`-separated. */
  objectPath: string;
  /** SHA-256 hex of the file (the version the URL binds). */
  version: string;
  /** Expiry; rounded down to whole seconds. */
  expiresAt: Date;
  filename?: string | undefined;
  contentType?: string | undefined;
}

export type KeyLookup = { status: 'ok'; key: KeyObject } | { status: 'unknown' } | { status: 'retired' };

/** Signing keys: sign with the active key, verify with any key that is not retired. */
export class Keyring {
  readonly activeKid: string;
  readonly #keys = new Map<string, KeyObject>();
  readonly #retired: ReadonlySet<string>;

  constructor(cfg: Pick<SigningConfig, 'keys' | 'activeKid' | 'retired'>) {
    for (const [kid, secret] of Object.entries(cfg.keys)) {
      if (!KID_RE.test(kid)) throw new Error(`keyring: invalid key id ${JSON.stringify(kid)}`);
      if (secret.length < 16) throw new Error(`keyring: the secret of key ${kid} is shorter than 16 characters`);
      this.#keys.set(kid, createSecretKey(Buffer.from(secret, 'utf8')));
    }
    this.#retired = new Set(cfg.retired);
    if (!this.#keys.has(cfg.activeKid))
      throw new Error(`keyring: the active key ${JSON.stringify(cfg.activeKid)} is not in the keyring`);
    if (this.#retired.has(cfg.activeKid)) throw new Error(`keyring: the active key ${cfg.activeKid} is retired`);
    this.activeKid = cfg.activeKid;
  }

  /** A key usable for verification; retired wins over present. */
  lookup(kid: string): KeyLookup {
    if (this.#retired.has(kid)) return { status: 'retired' };
    const key = this.#keys.get(kid);
    return key ? { status: 'ok', key } : { status: 'unknown' };
  }

  /** The active key (never retired, by construction). */
  activeKey(): { kid: string; key: KeyObject } {
    // The constructor checked that the active key exists.
    return { kid: this.activeKid, key: this.#keys.get(this.activeKid)! };
  }
}

/** Percent-encodes each segment of a storage key. */
export function encodeObjectPath(objectPath: string): string {
  return objectPath.split('/').map(encodeURIComponent).join('/');
}

/**
 * The edge cache key of a verified URL: the object path (canonically encoded) and the version.
 * Signature, expiry, key id and the header overrides are not part of it.
 */
export function downloadCacheKey(v: Pick<VerifiedDownloadUrl, 'objectPath' | 'version'>): string {
  return `${encodeObjectPath(v.objectPath)}?v=${v.version}`;
}

/** The string the HMAC covers. `params` must not contain `sig`. Exported for tests and tools. */
export function canonicalString(objectPath: string, params: ReadonlyMap<string, string>): string {
  const names = [...params.keys()].sort();
  return [URL_FORMAT_VERSION, objectPath, ...names.map((n) => `${n}=${params.get(n)}`)].join('\n');
}

function hmac(key: KeyObject, canonical: string): string {
  return createHmac('sha256', key).update(canonical, 'utf8').digest('base64url');
}

const hasControlOrSurrogate = (s: string) => CONTROL_RE.test(s) || LONE_SURROGATE_RE.test(s);

function objectPathProblem(path: string): string | undefined {
  if (path.length === 0) return 'is empty';
  if (Buffer.byteLength(path, 'utf8') > MAX_PATH_BYTES) return `is longer than ${MAX_PATH_BYTES} bytes`;
  if (hasControlOrSurrogate(path)) return 'contains a control character or a lone surrogate';
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.' || seg === '..') return 'has an empty, "." or ".." segment';
  }
  return undefined;
}

function filenameProblem(fn: string): string | undefined {
  if (fn.length === 0 || fn.length > MAX_FILENAME_CHARS) return `must have 1–${MAX_FILENAME_CHARS} characters`;
  if (hasControlOrSurrogate(fn)) return 'contains a control character or a lone surrogate';
  return undefined;
}

function contentTypeProblem(ct: string): string | undefined {
  if (ct.length > MAX_CONTENT_TYPE_CHARS || !CONTENT_TYPE_RE.test(ct)) return 'is not a media type';
  return undefined;
}

/** Builds a signed download URL with the keyring's active key. Throws on invalid input. */
export function signDownloadUrl(keyring: Keyring, input: SignDownloadUrlInput): string {
  const fail = (what: string, problem: string): never => {
    throw new TypeError(`signDownloadUrl: ${what} ${problem}`);
  };
  let base: URL;
  try {
    base = new URL(input.baseUrl);
  } catch {
    return fail('baseUrl', 'is not an absolute URL');
  }
  if (base.search || base.hash) fail('baseUrl', 'must not have a query or fragment');
  if (base.pathname.split('/').includes(DOWNLOAD_PATH_SEGMENT))
    fail('baseUrl', `must not contain a "${DOWNLOAD_PATH_SEGMENT}" path segment`);
  const pathProblem = objectPathProblem(input.objectPath);
  if (pathProblem) fail('objectPath', pathProblem);
  if (!VERSION_RE.test(input.version)) fail('version', 'must be a lowercase SHA-256 hex digest');
  const ms = input.expiresAt.getTime();
  if (!Number.isFinite(ms) || ms < 0) fail('expiresAt', 'is not a valid date');
  const exp = String(Math.floor(ms / 1000));
  if (!EXP_RE.test(exp)) fail('expiresAt', 'is out of range');

  const { kid, key } = keyring.activeKey();
  const params = new Map<string, string>([
    ['v', input.version],
    ['exp', exp],
    ['kid', kid],
  ]);
  if (input.filename !== undefined) {
    const p = filenameProblem(input.filename);
    if (p) fail('filename', p);
    params.set('fn', input.filename);
  }
  if (input.contentType !== undefined) {
    const p = contentTypeProblem(input.contentType);
    if (p) fail('contentType', p);
    params.set('ct', input.contentType);
  }
  const sig = hmac(key, canonicalString(input.objectPath, params));
  const query = [...params, ['sig', sig] as const].map(([n, v]) => `${n}=${encodeURIComponent(v)}`).join('&');
  const prefix = `${base.origin}${base.pathname.replace(/\/+$/, '')}`;
  return `${prefix}/${DOWNLOAD_PATH_SEGMENT}/${encodeObjectPath(input.objectPath)}?${query}`;
}

const refuse = (code: UrlRefusalCode): VerifyResult => ({ ok: false, code });

function decodeComponent(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

/** Strict query parse: known names only, each at most once, every pair `name=value`. */
function parseQuery(search: string): Map<string, string> | undefined {
  const params = new Map<string, string>();
  const raw = search.startsWith('?') ? search.slice(1) : search;
  if (raw === '') return params;
  for (const pair of raw.split('&')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) return undefined;
    const name = pair.slice(0, eq);
    if (!KNOWN_PARAMS.has(name) || params.has(name)) return undefined;
    const value = decodeComponent(pair.slice(eq + 1).replace(/\+/g, ' '));
    if (value === undefined) return undefined;
    params.set(name, value);
  }
  return params;
}

function parseObjectPath(pathname: string): string | undefined {
  const segments = pathname.split('/');
  const at = segments.indexOf(DOWNLOAD_PATH_SEGMENT, 1);
  if (at < 0) return undefined;
  const decoded: string[] = [];
  for (const seg of segments.slice(at + 1)) {
    const d = decodeComponent(seg);
    if (d === undefined || d.includes('/')) return undefined;
    decoded.push(d);
  }
  const path = decoded.join('/');
  return objectPathProblem(path) === undefined ? path : undefined;
}

/**
 * Verifies a download URL (absolute, or the request target `/d/...?...` as the edge sees it).
 * Never throws for any input string; refusals carry a stable code.
 */
export function verifyDownloadUrl(keyring: Keyring, url: string | URL, now: Date = new Date()): VerifyResult {
  let u: URL;
  try {
    u = typeof url === 'string' ? new URL(url, 'http://haul.invalid') : url;
  } catch {
    return refuse('URL_MALFORMED');
  }
  const params = parseQuery(u.search);
  if (!params) return refuse('URL_MALFORMED');
  const sig = params.get('sig');
  if (sig === undefined || sig === '') return refuse('URL_MISSING_SIGNATURE');
  params.delete('sig');

  const objectPath = parseObjectPath(u.pathname);
  const version = params.get('v');
  const exp = params.get('exp');
  const kid = params.get('kid');
  const filename = params.get('fn');
  const contentType = params.get('ct');
  if (
    objectPath === undefined ||
    version === undefined ||
    !VERSION_RE.test(version) ||
    exp === undefined ||
    !EXP_RE.test(exp) ||
    kid === undefined ||
    !KID_RE.test(kid) ||
    (filename !== undefined && filenameProblem(filename) !== undefined) ||
    (contentType !== undefined && contentTypeProblem(contentType) !== undefined)
  )
    return refuse('URL_MALFORMED');

  const found = keyring.lookup(kid);
  if (found.status === 'unknown') return refuse('URL_UNKNOWN_KEY');
  if (found.status === 'retired') return refuse('URL_RETIRED_KEY');

  const expected = Buffer.from(hmac(found.key, canonicalString(objectPath, params)), 'utf8');
  const given = Buffer.from(sig, 'utf8');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return refuse('URL_BAD_SIGNATURE');

  const expiresAt = new Date(Number(exp) * 1000);
  if (now.getTime() >= expiresAt.getTime()) return refuse('URL_EXPIRED');

  const out: VerifiedDownloadUrl = { ok: true, objectPath, version, expiresAt, kid };
  if (filename !== undefined) out.filename = filename;
  if (contentType !== undefined) out.contentType = contentType;
  return out;
}
