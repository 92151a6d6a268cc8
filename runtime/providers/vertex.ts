/**
 * Provider type `vertex`: Gemini models on Vertex AI. SPEC §13.
 *
 * URL rule (`base_url` default `https://{location}-aiplatform.googleapis.com`, or
 * `https://aiplatform.googleapis.com` for `location: global`):
 *
 *   /v1/chat/completions, /v1/messages (translated) →
 *     {base}/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:generateContent
 *     streams: …:streamGenerateContent?alt=sse
 *   /v1/completions, /v1/embeddings, /v1/responses → not served
 *
 * A model written as a resource path is kept: `projects/…` replaces the whole resource,
 * `publishers/…` the part after the location. A base already ending in `/v1` or `/v1beta1`
 * keeps its version. The base's query and the provider's `query` settings follow.
 *
 * Credentials: `authorization: Bearer TOKEN`, an OAuth access token obtained with the
 * service-account JSON named by `credentials_file_env` (default
 * GOOGLE_APPLICATION_CREDENTIALS) from the JSON's own `token_uri`, cached and refreshed before
 * it expires (./google-oauth.ts).
 */
import { generateContentRoute, versioned } from './gemini.js';
import { googlePath, type ProviderModule, type UpstreamRoute, type UpstreamTarget } from './provider.js';

/** Scope of the OAuth token Vertex AI takes. */
export const VERTEX_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';

function vertexRoute(ep: number, target: UpstreamTarget): UpstreamRoute | null {
  const project = target.options?.project ?? '';
  const location = target.options?.location ?? '';
  const m = target.model;
  const resource = m.startsWith('projects/')
    ? m
    : m.startsWith('publishers/')
      ? `projects/${project}/locations/${location}/${m}`
      : `projects/${project}/locations/${location}/publishers/google/models/${m}`;
  return generateContentRoute(ep, `${versioned(target.prefix, 'v1')}/${googlePath(resource)}`, target.query);
}

export const VERTEX: ProviderModule = {
  type: 'vertex',
  wire: 'gemini',
  route: vertexRoute,
  auth: { kind: 'oauth', scope: VERTEX_SCOPE },
  defaultHeaders: [],
};
