/**
 * The primary-pool rule every strategy shares (SPEC §3.4), cold form: the eligible targets
 * that carry a metadata_match, if any; otherwise every eligible target. The router's hot
 * form is `Router.#metadataPools` (runtime/routing/router.ts); the table precomputes the
 * metadata-free case (VF_ORDER, VF_PRIMARY_COUNT).
 */

/** Splits eligible target indices into the primary pool and the others (others in input order). */
export function primaryPool(eligible: readonly number[], hasCondition: (i: number) => boolean): { primary: number[]; others: number[] } {
  const withCondition = eligible.filter(hasCondition);
  const primary = withCondition.length > 0 ? withCondition : [...eligible];
  return { primary, others: eligible.filter((i) => !primary.includes(i)) };
}
