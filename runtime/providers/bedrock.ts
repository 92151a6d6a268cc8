/**
 * Provider type `bedrock`: Amazon Bedrock's Converse API. SPEC §13.
 *
 * URL rule (`base_url` default `https://bedrock-runtime.{region}.amazonaws.com`):
 *
 *   /v1/chat/completions  → {base}/model/{modelId}/converse          (translated; streams: /converse-stream)
 *   /v1/messages          → {base}/model/{modelId}/converse          (translated; streams: /converse-stream)
 *   /v1/completions, /v1/embeddings, /v1/responses → not served (400 when no other target can)
 *
 * `{modelId}` is encoded as the AWS SDK encodes it (`:` → `%3A`, an ARN's `/` → `%2F`),
 * followed by the base's query and the provider's `query` settings. Streams answer in AWS
 * event-stream framing (wire/eventstream.ts).
 *
 * Credentials: every request is signed with SigV4 for service `bedrock` (./aws-sigv4.ts),
 * with the credentials of `credentials_env` (default AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 * AWS_SESSION_TOKEN); the provider's `headers` and `query` are part of the signed request.
 */
import { EP_CHAT, EP_MESSAGES } from '../table/endpoints.js';
import { XLATE_CHAT_TO_BEDROCK, XLATE_MESSAGES_TO_BEDROCK } from '../wire/translate.js';
import { awsPathSegment, withQuery, type ProviderModule, type UpstreamRoute, type UpstreamTarget } from './provider.js';

function bedrockRoute(ep: number, target: UpstreamTarget): UpstreamRoute | null {
  if (ep !== EP_CHAT && ep !== EP_MESSAGES) return null;
  const base = `${target.prefix}/model/${awsPathSegment(target.model)}`;
  return {
    path: withQuery(base + '/converse', target.query),
    streamPath: withQuery(base + '/converse-stream', target.query),
    xlate: ep === EP_CHAT ? XLATE_CHAT_TO_BEDROCK : XLATE_MESSAGES_TO_BEDROCK,
  };
}

export const BEDROCK: ProviderModule = {
  type: 'bedrock',
  wire: 'bedrock',
  route: bedrockRoute,
  auth: { kind: 'sigv4', service: 'bedrock' },
  defaultHeaders: [],
};
