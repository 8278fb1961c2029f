/**
 * HTTP byte ranges (RFC 9110 §14): pure parsing and resolution, no I/O.
 *
 * Two steps, so the edge can evaluate preconditions (`If-Range`) between them:
 *
 * 1. `parseRange(header)` reads the `Range` header syntactically. Anything this server does not
 *    understand — absent header, another range unit, bad syntax, `last-pos < first-pos`, numbers
 *    too large — is `{ kind: 'none' }`: RFC 9110 §14.2 lets a server ignore such a header, and
 *    the response is then a plain 200 with the whole representation.
 * 2. `resolveRanges(spec, size)` applies the parsed ranges to a representation of `size` bytes.
 *
 * ## Decisions
 *
 * - Only the `bytes` unit (case-insensitive) exists. Surrounding SP/HTAB around list elements and
 *   empty list elements (`bytes=0-1,,2-3`) are tolerated, as RFC 9110 §5.6.1 asks of recipients.
 * - Offsets are JavaScript numbers, exact up to 2^53 − 1 (8 PiB): a position written with more
 *   than 16 digits, or not a safe integer, makes the whole header unparsable. Leading zeros count
 *   towards those 16 digits. Ignoring such a header (200, whole file) is always a correct answer.
 * - A range whose first-pos is at or past the end, and a suffix range of length 0, are
 *   unsatisfiable and dropped; if none is left the answer is 416. A last-pos past the end is
 *   clipped to the last byte; a suffix longer than the file selects the whole file (206).
 * - A 0-byte representation: the Range header is ignored (200, empty body). RFC 9110 §14.2 lets a
 *   server ignore Range "when the selected representation has no content", and a suffix range
 *   is satisfiable there (§14.1.2) yet no Content-Range can describe the nothing it selects.
 * - Several ranges (RFC 9110 §14.6, §14.2 "MAY ignore or reject"): ranges that overlap or touch
 *   are coalesced into one; the parts keep the order in which their first range-spec appeared.
 *   A set of more than `maxItems` range-specs (default 100), or one that still has more than
 *   `maxParts` parts (default 16) after coalescing, is ignored: the answer is the whole file as
 *   200, which costs the server no more than a plain GET. Coalescing already makes overlapping
 *   sets harmless (no byte is sent twice), so they need no rule of their own. If coalescing
 *   leaves a single range, it is a plain 206.
 */

/** One `range-spec` as written: `start-[end]` (int-range) or `-suffix` (suffix-range). */
export type RangeItem = { start: number; end?: number } | { suffix: number };

/** The parsed `Range` header. `none` means "ignore the header and send the whole representation". */
export type RangeSpec = { kind: 'none' } | { kind: 'ranges'; ranges: RangeItem[] };

/** An inclusive, satisfiable byte range: `0 <= start <= end < size`. */
export interface SatisfiableRange {
  start: number;
  end: number;
}

/** What to send. */
export type ResolvedRange =
  | { kind: 'full' }
  | { kind: 'partial'; start: number; end: number }
  | { kind: 'multi'; ranges: SatisfiableRange[] }
  | { kind: 'unsatisfiable' };

export interface RangeLimits {
  /** More range-specs than this in one header: the header is ignored (200). Default 100. */
  maxItems?: number;
  /** More parts than this after coalescing: the header is ignored (200). Default 16. */
  maxParts?: number;
}

export const DEFAULT_MAX_RANGE_ITEMS = 100;
export const DEFAULT_MAX_RANGE_PARTS = 16;

/** Longest decimal position accepted (2^53 − 1 has 16 digits). */
export const MAX_POSITION_DIGITS = 16;

const NONE: RangeSpec = { kind: 'none' };
const DIGITS = new RegExp(`^[0-9]{1,${MAX_POSITION_DIGITS}}$`);
const OWS_EDGES = /^[ \t]+|[ \t]+$/g;

function position(s: string): number | undefined {
  if (!DIGITS.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}

function parseItem(s: string): RangeItem | undefined {
  const dash = s.indexOf('-');
  if (dash < 0) return undefined;
  const first = s.slice(0, dash);
  const last = s.slice(dash + 1);
  if (first === '') {
    const suffix = position(last);
    return suffix === undefined ? undefined : { suffix };
  }
  const start = position(first);
  if (start === undefined) return undefined;
  if (last === '') return { start };
  const end = position(last);
  if (end === undefined || end < start) return undefined;
  return { start, end };
}

/** The common shape, `bytes=a-b` or `bytes=a-` alone: parsed without splitting (same result as the general path). */
const SINGLE = new RegExp(`^bytes=([0-9]{1,${MAX_POSITION_DIGITS}})-([0-9]{0,${MAX_POSITION_DIGITS}})$`);

/** Parses a `Range` header value. Never throws. */
export function parseRange(header: string | undefined): RangeSpec {
  if (typeof header !== 'string') return NONE;
  const single = SINGLE.exec(header);
  if (single) {
    const start = Number(single[1]);
    if (!Number.isSafeInteger(start)) return NONE;
    if (single[2] === '') return { kind: 'ranges', ranges: [{ start }] };
    const end = Number(single[2]);
    if (!Number.isSafeInteger(end) || end < start) return NONE;
    return { kind: 'ranges', ranges: [{ start, end }] };
  }
  const eq = header.indexOf('=');
  if (eq < 0 || header.slice(0, eq).toLowerCase() !== 'bytes') return NONE;
  const ranges: RangeItem[] = [];
  for (const element of header.slice(eq + 1).split(',')) {
    const s = element.replace(OWS_EDGES, '');
    if (s === '') continue;
    const item = parseItem(s);
    if (item === undefined) return NONE;
    ranges.push(item);
  }
  return ranges.length === 0 ? NONE : { kind: 'ranges', ranges };
}

/** The bytes one range-spec selects in a representation of `size` (> 0) bytes, or undefined if none. */
export function satisfiable(item: RangeItem, size: number): SatisfiableRange | undefined {
  if (size === 0) return undefined;
  if ('suffix' in item) {
    if (item.suffix === 0) return undefined;
    return { start: Math.max(0, size - item.suffix), end: size - 1 };
  }
  if (item.start >= size) return undefined;
  return { start: item.start, end: Math.min(item.end ?? size - 1, size - 1) };
}

/**
 * Merges ranges that overlap or touch. The result is disjoint with gaps of at least one byte;
 * each merged range takes the position of the earliest range-spec it absorbed (RFC 9110 §14.6:
 * parts in request order, "excluding those ranges that were … coalesced into other ranges").
 */
export function coalesce(ranges: readonly SatisfiableRange[]): SatisfiableRange[] {
  const [only] = ranges;
  if (ranges.length === 1 && only) return [{ start: only.start, end: only.end }];
  const byStart = ranges.map((r, order) => ({ ...r, order })).sort((a, b) => a.start - b.start || a.order - b.order);
  const merged: Array<SatisfiableRange & { order: number }> = [];
  for (const r of byStart) {
    const last = merged[merged.length - 1];
    // `last.end + 1 >= r.start`: overlapping or adjacent. Safe: end < size <= 2^53 - 1.
    if (last && last.end + 1 >= r.start) {
      last.end = Math.max(last.end, r.end);
      last.order = Math.min(last.order, r.order);
    } else merged.push({ ...r });
  }
  return merged.sort((a, b) => a.order - b.order).map(({ start, end }) => ({ start, end }));
}

/** Applies a parsed `Range` header to a representation of `size` bytes. */
export function resolveRanges(spec: RangeSpec, size: number, limits: RangeLimits = {}): ResolvedRange {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`resolveRanges: invalid size ${size}`);
  if (spec.kind === 'none' || size === 0) return { kind: 'full' };
  if (spec.ranges.length > (limits.maxItems ?? DEFAULT_MAX_RANGE_ITEMS)) return { kind: 'full' };
  const wanted: SatisfiableRange[] = [];
  for (const item of spec.ranges) {
    const r = satisfiable(item, size);
    if (r) wanted.push(r);
  }
  if (wanted.length === 0) return { kind: 'unsatisfiable' };
  const parts = coalesce(wanted);
  const [only] = parts;
  if (parts.length === 1 && only) return { kind: 'partial', start: only.start, end: only.end };
  if (parts.length > (limits.maxParts ?? DEFAULT_MAX_RANGE_PARTS)) return { kind: 'full' };
  return { kind: 'multi', ranges: parts };
}

/** `Content-Range` of a 206 part: `bytes a-b/size`. */
export const contentRange = (r: SatisfiableRange, size: number): string => `bytes ${r.start}-${r.end}/${size}`;

/** `Content-Range` of a 416: `bytes *\/size`. */
export const unsatisfiedContentRange = (size: number): string => `bytes */${size}`;
