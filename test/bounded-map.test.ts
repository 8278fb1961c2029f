import { describe, expect, it } from 'vitest';
import { BoundedMap } from '../src/bounded-map.ts';

describe('BoundedMap', () => {
  it('holds at most max entries, dropping the oldest; re-setting keeps a place, delete + set moves it', () => {
    const m = new BoundedMap<string, number>(3);
    for (const [k, v] of [
      ['a', 1],
      ['b', 2],
      ['c', 3],
    ] as const)
      m.set(k, v);
    m.set('a', 10); // present: no eviction, keeps its place
    expect([...m]).toEqual([
      ['a', 10],
      ['b', 2],
      ['c', 3],
    ]);
    m.set('d', 4); // full: 'a', the oldest, goes
    expect([...m.keys()]).toEqual(['b', 'c', 'd']);
    m.delete('b');
    m.set('b', 2); // least-recently-used order: 'b' is now the newest
    m.set('e', 5);
    expect([...m.keys()]).toEqual(['d', 'b', 'e']);
  });
});
