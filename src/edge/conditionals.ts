/**
 * Conditional requests (RFC 9110 §13) for the edge, as pure functions over header strings.
 *
 * ## The resource, its current representation, and the URL's version
 *
 * A signed URL names a storage key and one version of it (the SHA-256 of its bytes). The
 * preconditions a client sends are evaluated against what the key holds *now*: its current
 * version (the strong entity-tag `"<sha256>"`, or none when the bytes were never ingested or
 * changed since) and its modification time. The URL's own version binding is then checked like
 * one more precondition, after the client's own `If-Match`/`If-Unmodified-Since`:
 *
 * 1. `If-Match` (§13.1.1, strong comparison; `*` holds when the object exists) fails → 412.
 * 2. Without `If-Match`: `If-Unmodified-Since` (§13.1.4) fails → 412.
 * 3. The URL's version is not the current version → 410 Gone (`VERSION_GONE`): the bytes the
 *    URL was signed for no longer exist, and the edge never serves another version under it.
 *    So a resuming client that sends `If-Match: "<old sha256>"` learns 412, a plain request 410.
 * 4. `If-None-Match` (§13.1.2, weak comparison; `*` holds) matches → 304 for GET and HEAD.
 * 5. Without `If-None-Match`: `If-Modified-Since` (§13.1.3) not modified → 304.
 * 6. GET with `Range` and `If-Range` (§13.1.5): the Range is applied only when `If-Range` holds,
 *    otherwise the whole representation is sent (200).
 *
 * ## Decisions
 *
 * - Dates compare at whole seconds (HTTP-dates have no more). A modification time in the future
 *   is clamped to now (§8.8.2.1: Last-Modified is never later than the response's Date).
 * - An invalid HTTP-date (or a repeated date field, which the caller passes as absent) is
 *   ignored, as §13.1.3/§13.1.4 require. All three HTTP-date forms are accepted (§5.6.7).
 * - An entity-tag list that does not parse: `If-Match` fails (never serve on a precondition we
 *   cannot read), `If-None-Match` is ignored (sending the content is always safe).
 * - `If-Range` with a date holds only when the date equals Last-Modified exactly *and* that time
 *   is at least 60 s in the past: §13.1.5 requires a strong validator, and a modification time is
 *   strong only if the object cannot have changed twice within that second (§8.8.2.2); a
 *   minute's margin covers clock skew between the store and the edge.
 */

/** One member of an entity-tag list. `opaque` is without the quotes. */
export interface EntityTag {
  weak: boolean;
  opaque: string;
}

export type EntityTagList = { kind: 'any' } | { kind: 'tags'; tags: EntityTag[] } | { kind: 'invalid' };

const ETAGC = /^[\x21\x23-\x7e\x80-\xff]*$/;
const OWS = new Set([' ', '\t']);

/** Parses an `If-Match`/`If-None-Match` value: `*` or a comma-separated list of entity-tags. Never throws. */
export function parseEntityTags(value: string): EntityTagList {
  if (value.trim() === '*') return { kind: 'any' };
  const tags: EntityTag[] = [];
  let i = 0;
  const n = value.length;
  const skipOws = () => {
    while (i < n && OWS.has(value[i] ?? '')) i++;
  };
  for (;;) {
    // Empty list elements (`a, , b`) are tolerated (RFC 9110 §5.6.1).
    skipOws();
    while (i < n && value[i] === ',') {
      i++;
      skipOws();
    }
    if (i >= n) break;
    let weak = false;
    if (value.startsWith('W/', i)) {
      weak = true;
      i += 2;
    }
    if (value[i] !== '"') return { kind: 'invalid' };
    const close = value.indexOf('"', i + 1);
    if (close < 0) return { kind: 'invalid' };
    const opaque = value.slice(i + 1, close);
    if (!ETAGC.test(opaque)) return { kind: 'invalid' };
    tags.push({ weak, opaque });
    i = close + 1;
    skipOws();
    if (i < n && value[i] !== ',') return { kind: 'invalid' };
  }
  return tags.length === 0 ? { kind: 'invalid' } : { kind: 'tags', tags };
}

const DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
const LONG_DAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const TIME = '([0-9]{2}):([0-9]{2}):([0-9]{2})';
const MON = `(${MONTHS.join('|')})`;
const IMF_FIXDATE = new RegExp(`^(?:${DAYS.join('|')}), ([0-9]{2}) ${MON} ([0-9]{4}) ${TIME} GMT$`);
const RFC850_DATE = new RegExp(`^(?:${LONG_DAYS.join('|')}), ([0-9]{2})-${MON}-([0-9]{2}) ${TIME} GMT$`);
const ASCTIME_DATE = new RegExp(`^(?:${DAYS.join('|')}) ${MON} ([0-9 ][0-9]) ${TIME} ([0-9]{4})$`);

function utc(year: number, month: string, day: number, hh: number, mm: number, ss: number): number | undefined {
  const m = MONTHS.indexOf(month);
  // A leap second (60) is allowed by the grammar; it names the same instant as :59 for our purposes.
  if (m < 0 || hh > 23 || mm > 59 || ss > 60 || day < 1) return undefined;
  const t = Date.UTC(year, m, day, hh, mm, Math.min(ss, 59));
  // Reject days that do not exist in that month (Date.UTC would roll 31 Feb into March).
  return new Date(t).getUTCDate() === day ? t : undefined;
}

/**
 * Parses an HTTP-date (RFC 9110 §5.6.7: IMF-fixdate, or the obsolete RFC 850 and asctime forms),
 * strictly. Returns epoch milliseconds (a whole second), or undefined.
 */
export function parseHttpDate(value: string, now: Date = new Date()): number | undefined {
  const s = value.trim();
  let m = IMF_FIXDATE.exec(s);
  if (m) return utc(Number(m[3]), m[2] ?? '', Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  m = RFC850_DATE.exec(s);
  if (m) {
    // Two-digit years: the most recent such year that is not more than 50 years ahead (§5.6.7).
    const yy = Number(m[3]);
    const thisYear = now.getUTCFullYear();
    let year = thisYear - (thisYear % 100) + yy;
    if (year > thisYear + 50) year -= 100;
    return utc(year, m[2] ?? '', Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  }
  m = ASCTIME_DATE.exec(s);
  if (m) return utc(Number(m[6]), m[1] ?? '', Number((m[2] ?? '').trim()), Number(m[3]), Number(m[4]), Number(m[5]));
  return undefined;
}

/** What the edge knows about the object before answering. */
export interface ObjectState {
  /** The current version (SHA-256 hex), or null when the object has none. */
  version: string | null;
  lastModified: Date;
}

/** The conditional headers of a request (a repeated date field is passed as undefined). */
export interface ConditionalHeaders {
  ifMatch?: string | undefined;
  ifNoneMatch?: string | undefined;
  ifModifiedSince?: string | undefined;
  ifUnmodifiedSince?: string | undefined;
  ifRange?: string | undefined;
}

export type PreconditionOutcome =
  | { kind: 'precondition-failed' }
  | { kind: 'gone' }
  | { kind: 'not-modified' }
  /** Serve; `useRange`: a Range header on this GET is to be applied (If-Range held, or was absent). */
  | { kind: 'serve'; useRange: boolean };

/** A modification time older than this is a strong validator for If-Range (see the file comment). */
export const STRONG_DATE_AGE_MS = 60_000;

/** Last-Modified as sent: whole seconds, never after `now`. */
export function effectiveLastModified(lastModified: Date, now: Date): number {
  return Math.floor(Math.min(lastModified.getTime(), now.getTime()) / 1000) * 1000;
}

/** If-Range (RFC 9110 §13.1.5): true when the Range may be applied. */
export function ifRangeHolds(value: string, version: string, lastModified: Date, now: Date): boolean {
  const v = value.trim();
  if (v.startsWith('"') || v.startsWith('W/')) {
    const list = parseEntityTags(v);
    if (list.kind !== 'tags' || list.tags.length !== 1) return false;
    const [tag] = list.tags;
    return tag !== undefined && !tag.weak && tag.opaque === version;
  }
  const date = parseHttpDate(v, now);
  const lm = effectiveLastModified(lastModified, now);
  return date !== undefined && date === lm && now.getTime() - lm >= STRONG_DATE_AGE_MS;
}

/**
 * Evaluates the preconditions of a GET or HEAD in RFC 9110 §13.2.2 order, with the URL's version
 * binding as step 3 (see the file comment). `hasRange`: the request is a GET with a Range header.
 */
export function evaluatePreconditions(
  h: ConditionalHeaders,
  object: ObjectState,
  urlVersion: string,
  hasRange: boolean,
  now: Date,
): PreconditionOutcome {
  const lm = effectiveLastModified(object.lastModified, now);
  if (h.ifMatch !== undefined) {
    const list = parseEntityTags(h.ifMatch);
    const holds = list.kind === 'any' || (list.kind === 'tags' && list.tags.some((t) => !t.weak && t.opaque === object.version));
    if (!holds) return { kind: 'precondition-failed' };
  } else if (h.ifUnmodifiedSince !== undefined) {
    const date = parseHttpDate(h.ifUnmodifiedSince, now);
    if (date !== undefined && lm > date) return { kind: 'precondition-failed' };
  }
  if (object.version !== urlVersion) return { kind: 'gone' };
  const version = urlVersion;
  if (h.ifNoneMatch !== undefined) {
    const list = parseEntityTags(h.ifNoneMatch);
    if (list.kind === 'any' || (list.kind === 'tags' && list.tags.some((t) => t.opaque === version)))
      return { kind: 'not-modified' };
  } else if (h.ifModifiedSince !== undefined) {
    const date = parseHttpDate(h.ifModifiedSince, now);
    if (date !== undefined && lm <= date) return { kind: 'not-modified' };
  }
  if (!hasRange) return { kind: 'serve', useRange: false };
  return { kind: 'serve', useRange: h.ifRange === undefined || ifRangeHolds(h.ifRange, version, object.lastModified, now) };
}
