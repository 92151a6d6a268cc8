/** LocationMap: JSON path → source ranges, with the nearest located ancestor as fallback. */
import { describe, expect, it } from 'vitest';
import { LocationMap } from '../../compiler/load-locations.js';

describe('LocationMap', () => {
  const map = new LocationMap();
  map.set([], { start: 0, end: 100 });
  map.set(['virtual_models'], { start: 20, end: 100 }, { start: 5, end: 19 });
  map.set(['virtual_models', 'a'], { start: 40, end: 60 }, { start: 37, end: 38 });
  map.set(['virtual_models', 'a', 'targets', 0], { start: 50, end: 55 });

  it('finds the value, or the key when asked and there is one', () => {
    expect(map.find(['virtual_models', 'a'])).toEqual({ start: 40, end: 60 });
    expect(map.find(['virtual_models', 'a'], 'key')).toEqual({ start: 37, end: 38 });
    // an array item has no key: its value stands for it
    expect(map.find(['virtual_models', 'a', 'targets', 0], 'key')).toEqual({ start: 50, end: 55 });
  });

  it('falls back to the nearest located ancestor’s key for nodes without a location', () => {
    expect(map.has(['virtual_models', 'a', 'targets', 0, 'weight'])).toBe(false);
    expect(map.find(['virtual_models', 'a', 'targets', 0, 'weight'])).toEqual({ start: 50, end: 55 });
    expect(map.find(['virtual_models', 'b', 'target'])).toEqual({ start: 5, end: 19 });
    expect(new LocationMap().find(['x'])).toEqual({ start: 0, end: 0 });
  });

  it('tells the root, the empty key and nested paths apart; childKey extends keyOf', () => {
    const keys = [[], [''], ['', ''], [0], ['a'], ['a', 'b'], ['ab']].map((p) => LocationMap.keyOf(p));
    expect(new Set(keys).size).toBe(keys.length);
    expect(LocationMap.childKey(LocationMap.keyOf(['a']), 'b')).toBe(LocationMap.keyOf(['a', 'b']));
  });
});
