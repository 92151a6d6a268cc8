/** "Did you mean": the nearest candidate within a typo's distance, deterministically. */
import { describe, expect, it } from 'vitest';
import { closest, editDistance } from '../../compiler/suggest.js';

describe('editDistance', () => {
  it.each([
    ['', '', 0],
    ['abc', '', 3],
    ['kitten', 'sitting', 3],
    ['gpt-4o', 'gpt-4o-mini', 5],
    ['tagret', 'target', 2],
  ])('%s ↔ %s = %i', (a, b, d) => {
    expect(editDistance(a, b)).toBe(d);
    expect(editDistance(b, a)).toBe(d);
  });
});

describe('closest', () => {
  it.each([
    ['a typo', 'virtual_model', ['virtual_models', 'providers', 'settings'], 'virtual_models'],
    ['too far away', 'banana', ['virtual_models', 'providers'], undefined],
    ['the word itself is no suggestion', 'target', ['target'], undefined],
    ['a short word still allows two edits', 'ab', ['xy', 'abcd'], 'abcd'],
    ['ties go to the first in code-unit order', 'ab', ['aX', 'aB', 'Ab'], 'Ab'],
    ['no candidates', 'x', [], undefined],
  ])('%s', (_, word, candidates, want) => {
    expect(closest(word, candidates)).toBe(want);
    expect(closest(word, [...candidates].reverse())).toBe(want);
  });
});
