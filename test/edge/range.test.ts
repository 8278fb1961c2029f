import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planMultipart } from '../../src/edge/multipart.ts';
import { coalesce, parseRange, type RangeItem, type RangeSpec, resolveRanges } from '../../src/edge/range.ts';
import { parseMultipart } from '../helpers/edge.ts';

describe('parseRange', () => {
  it.each<[string | undefined, RangeSpec]>([
    [undefined, { kind: 'none' }],
    ['', { kind: 'none' }],
    ['bytes=0-499', { kind: 'ranges', ranges: [{ start: 0, end: 499 }] }],
    ['Bytes=500-', { kind: 'ranges', ranges: [{ start: 500 }] }],
    ['bytes=-500', { kind: 'ranges', ranges: [{ suffix: 500 }] }],
    ['bytes=-0', { kind: 'ranges', ranges: [{ suffix: 0 }] }],
    ['bytes= 0-1 ,\t, 5-', { kind: 'ranges', ranges: [{ start: 0, end: 1 }, { start: 5 }] }],
    ['bytes=9007199254740991-', { kind: 'ranges', ranges: [{ start: 2 ** 53 - 1 }] }],
    ['bytes=4294967296-4294967395', { kind: 'ranges', ranges: [{ start: 2 ** 32, end: 2 ** 32 + 99 }] }],
    ['bytes=0000000000000001-', { kind: 'ranges', ranges: [{ start: 1 }] }],
    ['bytes=9007199254740992-', { kind: 'none' }],
    ['bytes=00000000000000001-', { kind: 'none' }],
    ['bytes=0-99999999999999999', { kind: 'none' }],
    ['bytes=5-4', { kind: 'none' }],
    ['bytes=-', { kind: 'none' }],
    ['bytes=,', { kind: 'none' }],
    ['bytes=1', { kind: 'none' }],
    ['bytes=+1-2', { kind: 'none' }],
    ['bytes=0x10-', { kind: 'none' }],
    ['bytes=1.5-2', { kind: 'none' }],
    ['bytes=0-1, garbage', { kind: 'none' }],
    ['bytes =0-1', { kind: 'none' }],
    ['items=0-1', { kind: 'none' }],
    ['bytes=٣-٤', { kind: 'none' }],
  ])('%j', (header, expected) => {
    expect(parseRange(header)).toEqual(expected);
  });

  it('never throws', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        expect(['none', 'ranges']).toContain(parseRange(s).kind);
        expect(['none', 'ranges']).toContain(parseRange(`bytes=${s}`).kind);
      }),
    );
  });

  it('round-trips formatted range sets', () => {
    const item: fc.Arbitrary<RangeItem> = fc.oneof(
      fc.record({ suffix: fc.maxSafeNat() }),
      fc.maxSafeNat().map((start) => ({ start })),
      fc.tuple(fc.maxSafeNat(), fc.maxSafeNat()).map(([a, b]) => ({ start: Math.min(a, b), end: Math.max(a, b) })),
    );
    const fmt = (r: RangeItem) => ('suffix' in r ? `-${r.suffix}` : `${r.start}-${r.end ?? ''}`);
    fc.assert(
      fc.property(fc.array(item, { minLength: 1, maxLength: 8 }), fc.constantFrom(',', ', ', ' ,\t'), (ranges, sep) => {
        expect(parseRange(`bytes=${ranges.map(fmt).join(sep)}`)).toEqual({ kind: 'ranges', ranges });
      }),
    );
  });
});

describe('resolveRanges', () => {
  const r = (header: string, size: number, limits = {}) => resolveRanges(parseRange(header), size, limits);

  it.each([
    ['bytes=0-99', 1000, { kind: 'partial', start: 0, end: 99 }],
    ['bytes=900-', 1000, { kind: 'partial', start: 900, end: 999 }],
    ['bytes=900-5000', 1000, { kind: 'partial', start: 900, end: 999 }],
    ['bytes=-100', 1000, { kind: 'partial', start: 900, end: 999 }],
    ['bytes=-5000', 1000, { kind: 'partial', start: 0, end: 999 }],
    ['bytes=-0', 1000, { kind: 'unsatisfiable' }],
    ['bytes=1000-', 1000, { kind: 'unsatisfiable' }],
    ['bytes=999-999', 1000, { kind: 'partial', start: 999, end: 999 }],
    ['bytes=0-', 0, { kind: 'full' }],
    ['bytes=-1', 0, { kind: 'full' }],
    ['bytes=0-1,5000-', 1000, { kind: 'partial', start: 0, end: 1 }],
    ['bytes=5000-,-0', 1000, { kind: 'unsatisfiable' }],
    ['garbage', 0, { kind: 'full' }],
    ['bytes=0-1,2-3', 1000, { kind: 'partial', start: 0, end: 3 }],
    ['bytes=0-5,3-9', 1000, { kind: 'partial', start: 0, end: 9 }],
    [
      'bytes=0-1,3-4',
      1000,
      {
        kind: 'multi',
        ranges: [
          { start: 0, end: 1 },
          { start: 3, end: 4 },
        ],
      },
    ],
    [
      'bytes=8-9,0-1',
      10,
      {
        kind: 'multi',
        ranges: [
          { start: 8, end: 9 },
          { start: 0, end: 1 },
        ],
      },
    ],
    [
      'bytes=0-1,-2',
      10,
      {
        kind: 'multi',
        ranges: [
          { start: 0, end: 1 },
          { start: 8, end: 9 },
        ],
      },
    ],
    [
      'bytes=50-59,0-9,5-14,15-19,55-60',
      100,
      {
        kind: 'multi',
        ranges: [
          { start: 50, end: 60 },
          { start: 0, end: 19 },
        ],
      },
    ],
    ['bytes=4294967296-4294967395', 2 ** 33, { kind: 'partial', start: 2 ** 32, end: 2 ** 32 + 99 }],
    ['bytes=-1', 2 ** 53 - 1, { kind: 'partial', start: 2 ** 53 - 2, end: 2 ** 53 - 2 }],
  ] as const)('%s of %i bytes', (header, size, expected) => {
    expect(r(header, size)).toEqual(expected);
  });

  it('caps: more items than maxItems, or more parts than maxParts after coalescing, are ignored (full)', () => {
    const items = (n: number, step: number) =>
      `bytes=${Array.from({ length: n }, (_, i) => `${i * step}-${i * step}`).join(',')}`;
    expect(r(items(16, 2), 1000).kind).toBe('multi');
    expect(r(items(17, 2), 1000)).toEqual({ kind: 'full' });
    expect(r(items(100, 1), 1000)).toEqual({ kind: 'partial', start: 0, end: 99 });
    expect(r(items(101, 1), 1000)).toEqual({ kind: 'full' });
    expect(r(items(5, 2), 1000, { maxParts: 4 })).toEqual({ kind: 'full' });
    expect(r(items(5, 2), 1000, { maxItems: 4 })).toEqual({ kind: 'full' });
    // Thousands of overlapping copies of one range coalesce into a single part, under maxItems.
    expect(r(`bytes=${Array(100).fill('0-999').join(',')}`, 1000)).toEqual({ kind: 'partial', start: 0, end: 999 });
  });

  it('rejects an invalid size', () => {
    expect(() => resolveRanges({ kind: 'none' }, -1)).toThrow(RangeError);
    expect(() => resolveRanges({ kind: 'none' }, 1.5)).toThrow(RangeError);
  });

  /**
   * Reference model, by enumeration of byte indexes: the union of what every range-spec selects,
   * cut into maximal runs; each run placed by the first range-spec that touches it.
   */
  function model(items: RangeItem[], size: number, maxItems: number, maxParts: number) {
    if (size === 0 || items.length > maxItems) return { kind: 'full' };
    const picks = items.map((it) => {
      const set = new Set<number>();
      for (let i = 0; i < size; i++) {
        const inside = 'suffix' in it ? i >= size - it.suffix : i >= it.start && i <= (it.end ?? Number.POSITIVE_INFINITY);
        if (inside) set.add(i);
      }
      return set;
    });
    const union = new Set(picks.flatMap((s) => [...s]));
    if (union.size === 0) return { kind: 'unsatisfiable' };
    const runs: Array<{ start: number; end: number; order: number }> = [];
    for (let i = 0; i < size; i++) {
      if (!union.has(i)) continue;
      const last = runs[runs.length - 1];
      if (last && last.end === i - 1) last.end = i;
      else runs.push({ start: i, end: i, order: 0 });
    }
    for (const run of runs) run.order = picks.findIndex((s) => [...s].some((i) => i >= run.start && i <= run.end));
    runs.sort((a, b) => a.order - b.order);
    const out = runs.map(({ start, end }) => ({ start, end }));
    if (out.length === 1) return { kind: 'partial', ...out[0] };
    if (out.length > maxParts) return { kind: 'full' };
    return { kind: 'multi', ranges: out };
  }

  it('agrees with the reference model', () => {
    const pos = fc.nat({ max: 70 });
    const item: fc.Arbitrary<RangeItem> = fc.oneof(
      pos.map((suffix) => ({ suffix })),
      pos.map((start) => ({ start })),
      fc.tuple(pos, pos).map(([a, b]) => ({ start: Math.min(a, b), end: Math.max(a, b) })),
    );
    fc.assert(
      fc.property(
        fc.array(item, { minLength: 1, maxLength: 8 }),
        fc.nat({ max: 64 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 5 }),
        (items, size, maxItems, maxParts) => {
          const got = resolveRanges({ kind: 'ranges', ranges: items }, size, { maxItems, maxParts });
          expect(got).toEqual(model(items, size, maxItems, maxParts));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('coalesce: disjoint, non-adjacent parts covering exactly the input, at any offset', () => {
    const range = fc
      .tuple(fc.maxSafeNat(), fc.nat({ max: 1000 }))
      .filter(([s, l]) => s + l < Number.MAX_SAFE_INTEGER)
      .map(([start, len]) => ({ start, end: start + len }));
    fc.assert(
      fc.property(fc.array(range, { minLength: 1, maxLength: 10 }), (ranges) => {
        const out = coalesce(ranges);
        const sorted = [...out].sort((a, b) => a.start - b.start);
        for (let i = 1; i < sorted.length; i++) expect(sorted[i]!.start).toBeGreaterThan(sorted[i - 1]!.end + 1);
        for (const r of ranges) expect(out.some((o) => o.start <= r.start && r.end <= o.end)).toBe(true);
        for (const o of out) {
          expect(ranges.some((r) => r.start === o.start)).toBe(true);
          expect(ranges.some((r) => r.end === o.end)).toBe(true);
        }
      }),
    );
  });
});

describe('planMultipart', () => {
  it('frames parts exactly as RFC 9110 §14.6 shows', () => {
    const plan = planMultipart(
      [
        { start: 0, end: 1 },
        { start: 8, end: 9 },
      ],
      10,
      'text/plain',
      'BOUNDARY',
    );
    const data = Buffer.from('0123456789');
    const body = Buffer.concat([
      ...plan.parts.flatMap((p) => [p.head, data.subarray(p.range.start, p.range.end + 1)]),
      plan.tail,
    ]);
    expect(body.toString()).toBe(
      '--BOUNDARY\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/10\r\n\r\n01' +
        '\r\n--BOUNDARY\r\nContent-Type: text/plain\r\nContent-Range: bytes 8-9/10\r\n\r\n89' +
        '\r\n--BOUNDARY--\r\n',
    );
    expect(plan.contentLength).toBe(body.length);
    expect(plan.contentType).toBe('multipart/byteranges; boundary=BOUNDARY');
  });

  it('Content-Length is exact and the body parses back, for any ranges and sizes (offsets above 4 GiB included)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat({ max: 2 ** 40 }), fc.nat({ max: 50 })), { minLength: 2, maxLength: 16 }), (raw) => {
        const ranges = raw.map(([s, l]) => ({ start: s, end: s + l }));
        const size = Math.max(...ranges.map((r) => r.end)) + 1;
        const plan = planMultipart(ranges, size, 'application/octet-stream');
        const body = Buffer.concat([
          ...plan.parts.flatMap((p) => [p.head, Buffer.alloc(p.range.end - p.range.start + 1, 0x2d)]),
          plan.tail,
        ]);
        expect(plan.contentLength).toBe(body.length);
        const parts = parseMultipart(plan.contentType, body);
        expect(parts.map((p) => p.headers['content-range'])).toEqual(ranges.map((r) => `bytes ${r.start}-${r.end}/${size}`));
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a boundary or content type that would break the framing', () => {
    expect(() => planMultipart([], 1, 'text/plain', 'has space')).toThrow(RangeError);
    expect(() => planMultipart([], 1, 'text/plain\r\nX-Evil: 1', 'ok')).toThrow(RangeError);
  });
});
