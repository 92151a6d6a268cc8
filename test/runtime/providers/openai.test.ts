/**
 * Provider type `openai` (runtime/providers/openai.ts): URL rule per client endpoint,
 * translation mode, credential placement, default headers.
 */
import { describe, expect, it } from 'vitest';
import { OPENAI } from '../../../runtime/providers/openai.js';
import { credentialHeaders } from '../../../runtime/providers/provider.js';
import { EP_CHAT, EP_COMPLETIONS, EP_EMBEDDINGS, EP_MESSAGES, EP_RESPONSES } from '../../../runtime/table/endpoints.js';
import { XLATE_MESSAGES_TO_CHAT, XLATE_NONE } from '../../../runtime/wire/translate.js';

describe('openai provider type', () => {
  it('speaks the OpenAI wire format', () => {
    expect(OPENAI.type).toBe('openai');
    expect(OPENAI.wire).toBe('openai');
  });

  it.each([
    ['chat', EP_CHAT, '/v1/chat/completions', XLATE_NONE],
    ['completions', EP_COMPLETIONS, '/v1/completions', XLATE_NONE],
    ['embeddings', EP_EMBEDDINGS, '/v1/embeddings', XLATE_NONE],
    ['responses', EP_RESPONSES, '/v1/responses', XLATE_NONE],
    ['messages (translated to chat)', EP_MESSAGES, '/v1/chat/completions', XLATE_MESSAGES_TO_CHAT],
  ])('%s: base path + the endpoint suffix', (_name, ep, path, xlate) => {
    expect(OPENAI.route(ep, { prefix: '/v1', query: '', model: 'gpt-4o' })).toEqual({ path, xlate });
  });

  it.each([
    ['no path in base_url', '', '', '/chat/completions'],
    ['a deeper prefix', '/openai/v1', '', '/openai/v1/chat/completions'],
    [
      'a query string stays after the suffix',
      '/openai/deployments/d',
      '?api-version=2024-06-01',
      '/openai/deployments/d/chat/completions?api-version=2024-06-01',
    ],
  ])('%s', (_name, prefix, query, path) => {
    expect(OPENAI.route(EP_CHAT, { prefix, query, model: 'm' })?.path).toBe(path);
  });

  it('an endpoint id it does not know is not served', () => {
    expect(OPENAI.route(99, { prefix: '/v1', query: '', model: 'm' })).toBeNull();
  });

  it('credentials: authorization: Bearer KEY; no default headers', () => {
    expect(credentialHeaders(OPENAI.auth, 'sk-1')).toEqual(['authorization', 'Bearer sk-1']);
    expect(OPENAI.defaultHeaders).toEqual([]);
  });
});
