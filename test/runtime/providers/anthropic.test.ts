/**
 * Provider type `anthropic` (runtime/providers/anthropic.ts): URL rule per client endpoint
 * (the `/v1` rule), translation mode, credential placement, `anthropic-version` default.
 */
import { describe, expect, it } from 'vitest';
import { ANTHROPIC, DEFAULT_ANTHROPIC_VERSION } from '../../../runtime/providers/anthropic.js';
import { credentialHeaders } from '../../../runtime/providers/provider.js';
import { EP_CHAT, EP_COMPLETIONS, EP_EMBEDDINGS, EP_MESSAGES, EP_RESPONSES } from '../../../runtime/table/endpoints.js';
import { XLATE_CHAT_TO_MESSAGES, XLATE_NONE } from '../../../runtime/wire/translate.js';

const at = (prefix: string, query = '') => ({ prefix, query, model: 'claude' });

describe('anthropic provider type', () => {
  it('speaks the Anthropic wire format', () => {
    expect(ANTHROPIC.type).toBe('anthropic');
    expect(ANTHROPIC.wire).toBe('anthropic');
  });

  it('messages as is; chat translated to messages', () => {
    expect(ANTHROPIC.route(EP_MESSAGES, at(''))).toEqual({ path: '/v1/messages', xlate: XLATE_NONE });
    expect(ANTHROPIC.route(EP_CHAT, at(''))).toEqual({ path: '/v1/messages', xlate: XLATE_CHAT_TO_MESSAGES });
  });

  it.each([EP_COMPLETIONS, EP_EMBEDDINGS, EP_RESPONSES, 99])('endpoint %i has no Anthropic equivalent: not served', (ep) => {
    expect(ANTHROPIC.route(ep, at(''))).toBeNull();
  });

  it.each([
    ['base is the API root', '', '', '/v1/messages'],
    ['base already ends in /v1', '/v1', '', '/v1/messages'],
    ['a proxy prefix', '/anthropic', '', '/anthropic/v1/messages'],
    ['a proxy prefix ending in /v1', '/anthropic/v1', '', '/anthropic/v1/messages'],
    ['a last segment merely ending in v1 is not /v1', '/apiv1', '', '/apiv1/v1/messages'],
    ['a query string stays after the path', '', '?beta=true', '/v1/messages?beta=true'],
  ])('%s', (_name, prefix, query, path) => {
    expect(ANTHROPIC.route(EP_MESSAGES, at(prefix, query))?.path).toBe(path);
  });

  it('credentials: x-api-key: KEY; anthropic-version by default', () => {
    expect(credentialHeaders(ANTHROPIC.auth, 'sk-ant')).toEqual(['x-api-key', 'sk-ant']);
    expect(ANTHROPIC.defaultHeaders).toEqual([['anthropic-version', DEFAULT_ANTHROPIC_VERSION]]);
    expect(DEFAULT_ANTHROPIC_VERSION).toBe('2023-06-01');
  });
});
