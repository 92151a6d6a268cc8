/**
 * Small helpers every layer uses (the contract imports nothing else of ours, so they live here).
 */

/** Code-unit order of two strings: the one comparator for every sorted list in vmc (determinism). */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A plain JSON object (not null, not an array). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
