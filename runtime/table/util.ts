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

/**
 * murmur3's finalizer (fmix32): spreads a 32-bit value over all bits, so every input bit
 * reaches the low bits (hash slots, rendezvous scores, the simulators' seeded draws).
 */
export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
