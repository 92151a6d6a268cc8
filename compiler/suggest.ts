/**
 * "Did you mean …?" for diagnostics: the nearest candidate by edit distance (VMC1002 unknown
 * keys, VMC2001/VMC2002 unknown targets and providers, VMC2014, VMC2017 middleware names).
 */
import { compareStrings } from '../runtime/table/util.js';

/**
 * The candidate nearest to `word` by edit distance, if it is plausibly a typo of it (distance at
 * most a third of the word's length, and at least 2 allowed). Ties go to the smaller candidate
 * in code-unit order, so hints are deterministic.
 */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  const limit = Math.max(2, Math.floor(word.length / 3));
  for (const c of [...candidates].sort(compareStrings)) {
    if (Math.abs(c.length - word.length) > limit) continue;
    const d = editDistance(word, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return bestDistance <= limit && best !== word ? best : undefined;
}

/** Levenshtein distance, two rows. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  let cur = new Array<number>(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    [prev, cur] = [cur, prev];
  }
  return prev[b.length];
}
