/**
 * The provider-type registry: one module per type name of runtime/table/provider-types.ts
 * (a test checks both lists match). See ./provider.ts for what a module holds.
 *
 * Provider type vs wire format: a type says where requests go and how they are
 * authenticated; its module's `wire` says what the bodies look like. NeMo's target-level
 * `backend_format` overrides the wire format: such a target speaks that format to its
 * provider's base URL, i.e. it takes the URL rule, translation and default headers of the
 * module that natively speaks the format ({@link WIRE_MODULES}), and keeps its provider
 * type's credentials (see {@link wireModule}).
 */
import { ENDPOINT_PATHS } from '../table/endpoints.js';
import type { BackendFormat, ProviderType } from '../table/normalized.js';
import { ANTHROPIC } from './anthropic.js';
import { AZURE } from './azure.js';
import { BEDROCK } from './bedrock.js';
import { GEMINI } from './gemini.js';
import { OPENAI } from './openai.js';
import { credentialHeaderNames, type BackendWireFormat, type ProviderModule } from './provider.js';
import { VERTEX } from './vertex.js';

/** Every provider type's module, by type name. */
export const PROVIDER_MODULES: Readonly<Record<ProviderType, ProviderModule>> = {
  openai: OPENAI,
  anthropic: ANTHROPIC,
  azure: AZURE,
  bedrock: BEDROCK,
  gemini: GEMINI,
  vertex: VERTEX,
};

/** The module that speaks a `backend_format` as-is: used for those overrides. */
export const WIRE_MODULES: Readonly<Record<BackendWireFormat, ProviderModule>> = {
  openai: OPENAI,
  anthropic: ANTHROPIC,
};

/**
 * Header names that carry a credential under some provider type (`authorization`,
 * `x-api-key`, `api-key`, `x-goog-api-key`, the SigV4 headers): a client's are not forwarded
 * to a provider that has its own credentials (SPEC §3.6), whatever the provider's type, so a
 * client's key for one provider never leaks to another.
 */
export const CREDENTIAL_HEADER_NAMES: readonly string[] = [
  ...new Set(Object.values(PROVIDER_MODULES).flatMap((m) => credentialHeaderNames(m.auth))),
];

/** The module of a provider type (throws on a name no module serves: a table/runtime mismatch). */
export function providerModule(type: ProviderType): ProviderModule {
  const m = PROVIDER_MODULES[type];
  if (m === undefined) throw new Error(`no runtime module for provider type '${type}'`);
  return m;
}

/**
 * The module whose URL rule, translation and default headers a target uses: its provider
 * type's own, unless `backendFormat` names another wire format than the type's.
 */
export function wireModule(type: ProviderType, backendFormat: BackendFormat): ProviderModule {
  const own = providerModule(type);
  return backendFormat === null || backendFormat === own.wire ? own : WIRE_MODULES[backendFormat];
}

/**
 * Can a target of provider type `type` (with NeMo `backend_format` `backendFormat`) serve
 * client endpoint `ep`? The engine skips a target that cannot (its route is null); `vmc
 * explain` shows the same skip.
 */
export function servesEndpoint(type: ProviderType, backendFormat: BackendFormat, ep: number, model: string): boolean {
  return wireModule(type, backendFormat).route(ep, { prefix: '', query: '', model }) !== null;
}

/**
 * Why a target cannot serve client endpoint `ep`, for users (SPEC §13: "an endpoint a provider
 * type does not offer answers 400 saying so"): `provider type bedrock does not offer
 * /v1/embeddings`, or, for a NeMo `backend_format` override, `backend_format anthropic does not
 * offer …`. The engine's 400 and `vmc explain` use the same words.
 */
export function unservedReason(type: ProviderType, backendFormat: BackendFormat, ep: number): string {
  const own = providerModule(type);
  const what = backendFormat === null || backendFormat === own.wire ? `provider type ${type}` : `backend_format ${backendFormat}`;
  return `${what} does not offer ${ENDPOINT_PATHS[ep]}`;
}

/**
 * The 400 message when no target of a virtual model can serve an endpoint: the endpoint, then
 * each target with its reason (`model 'm' has no target that serves /v1/embeddings (aws/llama:
 * provider type bedrock does not offer /v1/embeddings)`). `targets` are `[label, reason]`.
 */
export function noTargetServesMessage(vmName: string, ep: number, targets: readonly (readonly [string, string])[]): string {
  const why = targets.length === 0 ? '' : ` (${targets.map(([label, reason]) => `${label}: ${reason}`).join('; ')})`;
  return `model '${vmName}' has no target that serves ${ENDPOINT_PATHS[ep]}${why}`;
}

export type { AuthPlacement, BackendWireFormat, ProviderModule, UpstreamRoute, UpstreamTarget, WireFormat } from './provider.js';
export { credentialHeaderNames, credentialHeaders, withQuery } from './provider.js';
