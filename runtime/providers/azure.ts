/**
 * Provider type `azure`: Azure OpenAI. SPEC §13.
 *
 * URL rule, classic API (`base_url: https://RESOURCE.openai.azure.com`, `api_version` set):
 * the deployment is in the path, the version in the query, then the base's own query and the
 * provider's `query` settings:
 *
 *   /v1/chat/completions  → {base}/openai/deployments/{deployment}/chat/completions?api-version=V
 *   /v1/completions       → {base}/openai/deployments/{deployment}/completions?api-version=V
 *   /v1/embeddings        → {base}/openai/deployments/{deployment}/embeddings?api-version=V
 *   /v1/messages          → {base}/openai/deployments/{deployment}/chat/completions?api-version=V  (translated)
 *   /v1/responses         → not served (Azure's Responses API is not per deployment)
 *
 * `{deployment}` is `deployments[model]`, else the model name (path-encoded). A base that
 * already ends in `/openai` is not given a second one.
 *
 * Azure's v1 API (`base_url` ending in `/openai/v1`): OpenAI's paths (./openai.ts), the
 * deployment name written into the body's `model`; `api-version` only when configured.
 *
 * Credentials: `api-key: $KEY` (Azure's own header; `auth: {header: authorization}` sends
 * `Bearer` for Entra ID tokens). No default headers.
 */
import { EP_MESSAGES, EP_RESPONSES } from '../table/endpoints.js';
import { XLATE_MESSAGES_TO_CHAT, XLATE_NONE } from '../wire/translate.js';
import { openaiRoute, openaiSuffix } from './openai.js';
import { withQuery, type ProviderModule, type UpstreamRoute, type UpstreamTarget } from './provider.js';

/** Path suffix under a deployment for a client endpoint, or null: OpenAI's, without the Responses API (classic deployments have none). */
function deploymentSuffix(ep: number): string | null {
  return ep === EP_RESPONSES ? null : openaiSuffix(ep);
}

/** The deployment serving a model: `deployments[model]`, else the model name. */
export function azureDeployment(target: UpstreamTarget): string {
  for (const [model, deployment] of target.options?.deployments ?? []) if (model === target.model) return deployment;
  return target.model;
}

function azureRoute(ep: number, target: UpstreamTarget): UpstreamRoute | null {
  const apiVersion = target.options?.apiVersion;
  const version = apiVersion === undefined ? '' : `?api-version=${encodeURIComponent(apiVersion)}`;
  const deployment = azureDeployment(target);
  if (/\/openai\/v1$/.test(target.prefix)) {
    const r = openaiRoute(ep, { ...target, query: withQuery(version, target.query) });
    return r === null ? null : { ...r, model: deployment };
  }
  const s = deploymentSuffix(ep);
  if (s === null) return null;
  // a base written with Azure's `/openai` segment (`https://R.openai.azure.com/openai`) keeps it once
  const root = target.prefix.endsWith('/openai') ? target.prefix : `${target.prefix}/openai`;
  const path = `${root}/deployments/${encodeURIComponent(deployment)}${s}`;
  return { path: withQuery(path, version, target.query), xlate: ep === EP_MESSAGES ? XLATE_MESSAGES_TO_CHAT : XLATE_NONE };
}

export const AZURE: ProviderModule = {
  type: 'azure',
  wire: 'openai',
  route: azureRoute,
  auth: { kind: 'header', name: 'api-key', valuePrefix: '' },
  defaultHeaders: [],
};
