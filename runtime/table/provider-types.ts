/**
 * Provider types as the table stores them (PROVIDERS record, `PF_TYPE`): the one list of type
 * names and their codes. A code is the index in {@link PROVIDER_TYPE_CODES}; codes are written
 * into tables, so the list is append-only (a new type gets the next code).
 *
 * What a type means at run time (wire format, URL rule, credential placement, default
 * headers, translation) lives in its module under runtime/providers/, registered by this
 * name in runtime/providers/index.ts (a test checks both lists match). Adding a type:
 * docs/runtime.md, "Adding a provider type".
 */
export const PROVIDER_TYPE_CODES = ['openai', 'anthropic'] as const;

/** A provider type name (the `type` of a provider in a config). */
export type ProviderType = (typeof PROVIDER_TYPE_CODES)[number];

/** Table code of a provider type. */
export function providerTypeCode(type: ProviderType): number {
  const code = PROVIDER_TYPE_CODES.indexOf(type);
  if (code < 0) throw new Error(`unknown provider type ${type}`);
  return code;
}
