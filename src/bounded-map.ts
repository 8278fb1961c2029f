/**
 * A Map that holds at most `max` entries: adding a key beyond that drops the oldest one first
 * (Map order is insertion order). Setting a key that is present keeps its place; delete it first
 * to move it to the newest end (least-recently-used order).
 */
export class BoundedMap<K, V> extends Map<K, V> {
  constructor(readonly max: number) {
    super();
  }

  override set(key: K, value: V): this {
    if (!this.has(key)) while (this.size > 0 && this.size >= this.max) this.delete(this.keys().next().value as K);
    return super.set(key, value);
  }
}
