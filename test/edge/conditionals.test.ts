import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type ConditionalHeaders,
  evaluatePreconditions,
  type PreconditionOutcome,
  parseEntityTags,
  parseHttpDate,
} from '../../src/edge/conditionals.ts';

describe('parseEntityTags', () => {
  it.each([
    ['*', { kind: 'any' }],
    [' * ', { kind: 'any' }],
    ['"abc"', { kind: 'tags', tags: [{ weak: false, opaque: 'abc' }] }],
    ['W/"abc"', { kind: 'tags', tags: [{ weak: true, opaque: 'abc' }] }],
    [
      '"a", W/"b" ,"c"',
      {
        kind: 'tags',
        tags: [
          { weak: false, opaque: 'a' },
          { weak: true, opaque: 'b' },
          { weak: false, opaque: 'c' },
        ],
      },
    ],
    ['"a,b"', { kind: 'tags', tags: [{ weak: false, opaque: 'a,b' }] }],
    [
      '"", ,"x",',
      {
        kind: 'tags',
        tags: [
          { weak: false, opaque: '' },
          { weak: false, opaque: 'x' },
        ],
      },
    ],
    ['', { kind: 'invalid' }],
    ['abc', { kind: 'invalid' }],
    ['"abc', { kind: 'invalid' }],
    ['"a" "b"', { kind: 'invalid' }],
    ['w/"a"', { kind: 'invalid' }],
    ['W/ "a"', { kind: 'invalid' }],
    ['"a b"', { kind: 'invalid' }],
    ['*, "a"', { kind: 'invalid' }],
    ['"a"x', { kind: 'invalid' }],
  ])('%j', (value, expected) => {
    expect(parseEntityTags(value)).toEqual(expected);
  });

  it('round-trips formatted lists and never throws', () => {
    const etagc = fc.string({ unit: fc.constantFrom(...'abcDEF019!#$%&()-_~,/'.split('')), maxLength: 12 });
    const tag = fc.record({ weak: fc.boolean(), opaque: etagc });
    fc.assert(
      fc.property(fc.array(tag, { minLength: 1, maxLength: 5 }), fc.constantFrom(',', ', ', ' ,\t'), (tags, sep) => {
        const value = tags.map((t) => `${t.weak ? 'W/' : ''}"${t.opaque}"`).join(sep);
        expect(parseEntityTags(value)).toEqual({ kind: 'tags', tags });
      }),
    );
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (s) => void parseEntityTags(s)));
  });
});

describe('parseHttpDate', () => {
  const t = Date.UTC(1994, 10, 6, 8, 49, 37);
  it.each([
    ['Sun, 06 Nov 1994 08:49:37 GMT', t],
    ['Sunday, 06-Nov-94 08:49:37 GMT', t],
    ['Sun Nov  6 08:49:37 1994', t],
    ['Sun Nov 16 08:49:37 1994', Date.UTC(1994, 10, 16, 8, 49, 37)],
    ['Thu, 01 Jan 1970 00:00:00 GMT', 0],
    ['Sat, 31 Dec 2016 23:59:60 GMT', Date.UTC(2016, 11, 31, 23, 59, 59)],
    ['Mon, 29 Feb 2016 00:00:00 GMT', Date.UTC(2016, 1, 29)],
  ])('%s', (value, expected) => {
    expect(parseHttpDate(value, new Date(Date.UTC(2026, 0, 1)))).toBe(expected);
  });

  it.each([
    'Sun, 06 Nov 1994 08:49:37 UTC',
    'sun, 06 Nov 1994 08:49:37 GMT',
    'Sun, 6 Nov 1994 08:49:37 GMT',
    'Sun, 06 nov 1994 08:49:37 GMT',
    'Sun, 06 Nov 1994 8:49:37 GMT',
    'Sun, 06 Nov 1994 24:00:00 GMT',
    'Sun, 06 Nov 1994 08:60:00 GMT',
    'Tue, 30 Feb 2016 00:00:00 GMT',
    'Sun, 00 Nov 1994 08:49:37 GMT',
    '1994-11-06T08:49:37Z',
    '784111777',
    'yesterday',
    '',
  ])('%j is not an HTTP-date', (value) => {
    expect(parseHttpDate(value)).toBeUndefined();
  });

  it('an RFC 850 two-digit year is never more than 50 years ahead (RFC 9110 §5.6.7)', () => {
    const now = new Date(Date.UTC(2026, 5, 1));
    expect(new Date(parseHttpDate('Friday, 01-Jan-76 00:00:00 GMT', now)!).getUTCFullYear()).toBe(2076);
    expect(new Date(parseHttpDate('Friday, 01-Jan-77 00:00:00 GMT', now)!).getUTCFullYear()).toBe(1977);
    expect(new Date(parseHttpDate('Friday, 01-Jan-26 00:00:00 GMT', now)!).getUTCFullYear()).toBe(2026);
  });

  it('round-trips every IMF-fixdate that Date writes, and never throws', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 253_402_300_799 }), (secs) => {
        expect(parseHttpDate(new Date(secs * 1000).toUTCString())).toBe(secs * 1000);
      }),
    );
    fc.assert(fc.property(fc.string(), (s) => void parseHttpDate(s)));
  });
});

describe('evaluatePreconditions against a reference model of RFC 9110 §13.2.2', () => {
  const V = 'a'.repeat(64);
  const W = 'b'.repeat(64);
  const NOW = new Date(Date.UTC(2026, 0, 1, 12, 0, 0));

  /** Entity-tag field values, each with its meaning (so the model never parses). */
  interface TagToken {
    raw: string;
    any?: boolean;
    invalid?: boolean;
    strong?: string[];
    weak?: string[];
  }
  const TAGS: TagToken[] = [
    { raw: '*', any: true },
    { raw: `"${V}"`, strong: [V], weak: [V] },
    { raw: `W/"${V}"`, strong: [], weak: [V] },
    { raw: `"${W}"`, strong: [W], weak: [W] },
    { raw: `"x", "${V}"`, strong: [V], weak: [V] },
    { raw: '"x"', strong: [], weak: [] },
    { raw: 'garbage', invalid: true },
    { raw: `"${V}" junk`, invalid: true },
  ];
  /** Dates relative to the last modification time: -1 before, 0 equal, 1 after; null invalid. */
  const DATES = [-1, 0, 1, null] as const;

  const dateOf = (rel: number | null, lm: number) => (rel === null ? 'not a date' : new Date(lm + rel * 5000).toUTCString());

  interface Case {
    ifMatch?: TagToken | undefined;
    ifNoneMatch?: TagToken | undefined;
    ims?: (typeof DATES)[number] | undefined;
    ius?: (typeof DATES)[number] | undefined;
    ifRange?: TagToken | (typeof DATES)[number] | undefined;
    hasRange: boolean;
    version: string | null;
    /** Seconds between the modification time and now. */
    age: number;
  }

  function model(c: Case): PreconditionOutcome {
    const lm = NOW.getTime() - c.age * 1000;
    if (c.ifMatch) {
      const holds =
        c.ifMatch.any === true || (!c.ifMatch.invalid && c.version !== null && (c.ifMatch.strong ?? []).includes(c.version));
      if (!holds) return { kind: 'precondition-failed' };
    } else if (c.ius !== undefined && c.ius !== null && c.ius < 0) return { kind: 'precondition-failed' };
    if (c.version !== V) return { kind: 'gone' };
    if (c.ifNoneMatch) {
      if (c.ifNoneMatch.any || (!c.ifNoneMatch.invalid && (c.ifNoneMatch.weak ?? []).includes(V)))
        return { kind: 'not-modified' };
    } else if (c.ims !== undefined && c.ims !== null && c.ims >= 0) return { kind: 'not-modified' };
    if (!c.hasRange) return { kind: 'serve', useRange: false };
    if (c.ifRange === undefined) return { kind: 'serve', useRange: true };
    if (typeof c.ifRange === 'object' && c.ifRange !== null) {
      const t = c.ifRange;
      // Exactly one strong tag equal to the version (a list or `*` is not an If-Range value).
      return { kind: 'serve', useRange: t.raw === `"${V}"` };
    }
    return { kind: 'serve', useRange: c.ifRange === 0 && NOW.getTime() - lm >= 60_000 };
  }

  const token = fc.constantFrom(...TAGS);
  const date = fc.constantFrom(...DATES);
  const arbCase: fc.Arbitrary<Case> = fc.record({
    ifMatch: fc.option(token, { nil: undefined }),
    ifNoneMatch: fc.option(token, { nil: undefined }),
    ims: fc.option(date, { nil: undefined }),
    ius: fc.option(date, { nil: undefined }),
    ifRange: fc.option(fc.oneof(token, date), { nil: undefined }),
    hasRange: fc.boolean(),
    version: fc.constantFrom(V, W, null),
    age: fc.constantFrom(10, 7200),
  });

  it('agrees with the model on every combination of headers', () => {
    fc.assert(
      fc.property(arbCase, (c) => {
        const lm = NOW.getTime() - c.age * 1000;
        const h: ConditionalHeaders = {
          ifMatch: c.ifMatch?.raw,
          ifNoneMatch: c.ifNoneMatch?.raw,
          ifModifiedSince: c.ims === undefined ? undefined : dateOf(c.ims, lm),
          ifUnmodifiedSince: c.ius === undefined ? undefined : dateOf(c.ius, lm),
          ifRange:
            c.ifRange === undefined
              ? undefined
              : typeof c.ifRange === 'object' && c.ifRange !== null
                ? c.ifRange.raw
                : dateOf(c.ifRange, lm),
        };
        const got = evaluatePreconditions(h, { version: c.version, lastModified: new Date(lm) }, V, c.hasRange, NOW);
        expect(got).toEqual(model(c));
      }),
      { numRuns: 5000 },
    );
  });

  it('compares dates at whole seconds and clamps a future modification time to now', () => {
    const lm = new Date(NOW.getTime() - 60_000 + 999);
    const state = { version: V, lastModified: lm };
    const sameSecond = new Date(Math.floor(lm.getTime() / 1000) * 1000).toUTCString();
    expect(evaluatePreconditions({ ifModifiedSince: sameSecond }, state, V, false, NOW).kind).toBe('not-modified');
    expect(evaluatePreconditions({ ifUnmodifiedSince: sameSecond }, state, V, false, NOW).kind).toBe('serve');
    const future = { version: V, lastModified: new Date(NOW.getTime() + 3_600_000) };
    expect(evaluatePreconditions({ ifModifiedSince: NOW.toUTCString() }, future, V, false, NOW).kind).toBe('not-modified');
  });
});
