/**
 * Source locations of config values: a map from a JSON path (`['virtual_models', 'a', 'targets',
 * 0, 'target']`) to the ranges of the key and the value that produced it. The YAML and the
 * TypeScript loaders fill it; every later phase asks it where to point a diagnostic.
 *
 * Ranges are UTF-16 offsets into the file text (see diagnostics.ts).
 */

export type JsonPath = readonly (string | number)[];

export interface Range {
  start: number;
  end: number;
}

interface Entry {
  key?: Range;
  value: Range;
}

/** Which part of a `key: value` pair a diagnostic should underline. */
export type Part = 'key' | 'value';

export class LocationMap {
  readonly #entries = new Map<string, Entry>();

  /**
   * A path as a map key: every segment stringified and prefixed with NUL (an array index and
   * an object key never share a parent, and `[]` ≠ `['']`). `childKey` extends a key by one
   * segment, so a loader walking a tree builds keys in O(1) per node.
   */
  static keyOf(path: JsonPath): string {
    let k = '';
    for (const seg of path) k = LocationMap.childKey(k, seg);
    return k;
  }

  static childKey(parent: string, segment: string | number): string {
    return `${parent}\u0000${segment}`;
  }

  set(path: JsonPath, value: Range, key?: Range): void {
    this.setByKey(LocationMap.keyOf(path), value, key);
  }

  /** `set` with a key from `keyOf`/`childKey`. */
  setByKey(pathKey: string, value: Range, key?: Range): void {
    this.#entries.set(pathKey, key ? { key, value } : { value });
  }

  has(path: JsonPath): boolean {
    return this.#entries.has(LocationMap.keyOf(path));
  }

  /**
   * Range of the node at `path` — its key when `part` is 'key' and it has one (array items and
   * the root do not) — else the nearest located ancestor's key. Values built by code (TS
   * spreads, YAML aliases) have no own location, so they point at what produced them.
   */
  find(path: JsonPath, part: Part = 'value'): Range {
    const own = this.#entries.get(LocationMap.keyOf(path));
    if (own) return part === 'key' && own.key ? own.key : own.value;
    for (let n = path.length - 1; n >= 0; n--) {
      const e = this.#entries.get(LocationMap.keyOf(path.slice(0, n)));
      if (e) return e.key ?? e.value;
    }
    return { start: 0, end: 0 };
  }
}
