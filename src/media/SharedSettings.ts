// One settings object for every detector configured alike (nearly all use the defaults): a frame
// reads its detector's settings, and one object shared by 1,000 calls stays in the caches where
// 1,000 copies would not (and their fractional numbers, each an object of its own in V8, with it).

/** Settings objects by a key that names their options; at most `limit` kept (options come from configuration, not from calls). */
export class SharedSettings<T> {
  private readonly known = new Map<string, T>();

  constructor(private readonly limit = 64) {}

  /** The object kept for `key`, else `make()`'s (kept while there is room). */
  get(key: string, make: () => T): T {
    const known = this.known.get(key);
    if (known !== undefined) return known;
    const made = make();
    if (this.known.size < this.limit) this.known.set(key, made);
    return made;
  }
}
