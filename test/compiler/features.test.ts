/**
 * fixtures/features (one file per feature over a shared providers.yaml) and fixtures/demo: each
 * compiles cleanly and means what its comment says.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { compileConfig } from '../../compiler/frontend.js';
import type { NormConfig, NormVirtualModel } from '../../runtime/table/normalized.js';

const FEATURES = resolve('fixtures/features');
const featureFiles = readdirSync(FEATURES)
  .filter((f) => f.endsWith('.yaml') && f !== 'providers.yaml')
  .sort();

function vm(config: NormConfig | null, name: string): NormVirtualModel {
  const found = config?.virtualModels.find((v) => v.name === name);
  if (!found) throw new Error(`no virtual model ${name}`);
  return found;
}

describe('fixtures/features', () => {
  it.each(featureFiles)('%s compiles with providers.yaml alone', async (file) => {
    const r = await compileConfig([join(FEATURES, 'providers.yaml'), join(FEATURES, file)]);
    expect(r.diagnostics).toEqual([]);
    expect(r.config).not.toBeNull();
  });

  it('the whole directory compiles as one config', async () => {
    const r = await compileConfig([FEATURES]);
    expect(r.diagnostics).toEqual([]);
    const c = r.config!;
    expect(vm(c, 'everyday').targets).toEqual(vm(c, 'regular').targets);
    expect(vm(c, 'openai/gpt-4o-mini').targets[0].model).toBe('claude-haiku-4-5');
    expect(vm(c, 'anthropic/claude-opus-4-6')).toMatchObject({ kind: 'policy', userPaths: ['/admins', '/team/a'] });
    expect(vm(c, 'legacy').enabled).toBe(false);
    expect(vm(c, 'canary/chat').targets.map((t) => t.weight)).toEqual([90, 10]);
    expect(vm(c, 'ha/chat').targets.map((t) => t.priority)).toEqual([0, 1, 2]);
    expect(vm(c, 'fast/chat').strategy).toBe('latency');
    expect(vm(c, 'sticky/chat').sticky!.keys).toEqual([
      { source: 'header', key: 'x-user-id' },
      { source: 'metadata', key: 'conversation_id' },
    ]);
    const resilient = vm(c, 'resilient/chat').targets;
    expect(resilient.map((t) => [t.retry.attempts, t.retry.delayMs, t.retry.onStatus, t.fallbackOn, t.fallbackCandidate])).toEqual([
      [1, 250, [429, 500, 502, 503], [429, 500, 502, 503, 504], true],
      [3, 250, [429], [500], true],
      [3, 250, [429, 500, 502, 503], [429, 500, 502, 503, 504], false],
    ]);
    expect(vm(c, 'tiered/chat').targets[0].metadataMatch).toEqual([['tier', 'enterprise']]);
    expect(vm(c, 'sla/chat').targets[0]).toMatchObject({ maxTtftMs: 800, maxTimePerOutputTokenMs: 50 });
    expect(vm(c, 'booking-app/gpt-prod').slug).toBe('gpt-prod');
    expect(vm(c, 'my-group/sub/deep').modelTypes).toEqual(['messages']);
    expect(vm(c, 'tuned/chat').targets[0].overrideParams).toBe(
      '{"max_tokens":512,"response_format":{"type":"json_object"},"temperature":0.2}',
    );
    expect(vm(c, 'headers/chat').targets[0].headersSet).toEqual([
      ['api-version', '2024-06-01'],
      ['x-deployment-id', 'gpt4o-eastus'],
    ]);
    expect(vm(c, 'piped/chat').middleware.request.map((m) => m.name)).toEqual(['set-params', 'strip-params', 'set-headers']);
    expect(c.settings.modelsEndpoint).toBe('virtual_only');
    expect(c.providers.find((p) => p.name === 'azure')).toMatchObject({
      baseUrl: 'https://example.openai.azure.com/openai/v1',
      timeoutMs: 60000,
    });
  });
});

describe('fixtures/features/providers-*.yaml (SPEC §13)', () => {
  it('fills in default base URLs and credential variables, keeps ${ENV} templates, lower-cases header names', async () => {
    const r = await compileConfig([FEATURES]);
    const p = (name: string) => r.config!.providers.find((x) => x.name === name)!;
    expect(p('bedrock')).toMatchObject({
      type: 'bedrock',
      baseUrl: 'https://bedrock-runtime.us-east-1.amazonaws.com',
      apiKeyEnv: null,
      options: {
        region: 'us-east-1',
        credentialsEnv: { accessKeyId: 'AWS_ACCESS_KEY_ID', secretAccessKey: 'AWS_SECRET_ACCESS_KEY', sessionToken: 'AWS_SESSION_TOKEN' },
      },
    });
    expect(p('bedrock-eu').options!.credentialsEnv).toEqual({
      accessKeyId: 'EU_AWS_ACCESS_KEY_ID',
      secretAccessKey: 'EU_AWS_SECRET_ACCESS_KEY',
      sessionToken: null,
    });
    expect(p('gemini')).toMatchObject({
      type: 'gemini',
      baseUrl: 'https://generativelanguage.googleapis.com',
      apiKeyEnv: 'GEMINI_API_KEY',
    });
    expect(p('gemini').options).toBeUndefined();
    expect(p('vertex')).toMatchObject({
      baseUrl: 'https://us-central1-aiplatform.googleapis.com',
      options: { project: 'acme-ml', location: 'us-central1', credentialsFileEnv: 'GOOGLE_APPLICATION_CREDENTIALS' },
    });
    expect(p('vertex-global')).toMatchObject({
      baseUrl: 'https://aiplatform.googleapis.com',
      options: { location: 'global', credentialsFileEnv: 'VERTEX_SA_FILE' },
    });
    expect(p('azure-eastus').options).toEqual({
      apiVersion: '2024-10-21',
      deployments: [
        ['gpt-4o', 'gpt4o-prod'],
        ['text-embedding-3-small', 'embed-small'],
      ],
    });
    expect(p('azure-v1').options).toBeUndefined();
    expect(p('openrouter').options!.headers).toEqual([
      ['http-referer', 'https://acme.example'],
      ['x-title', 'acme-gateway'],
    ]);
    expect(p('corp-proxy').options).toEqual({
      auth: { kind: 'header', name: 'x-corp-key' },
      headers: [['x-tenant', '${CORP_TENANT}']],
      query: [['region', 'eu']],
    });
    expect(p('ollama').options).toEqual({ auth: { kind: 'none' } });
  });
});

describe('fixtures/demo', () => {
  it('compiles cleanly against the mock providers on 127.0.0.1:9101/9102', async () => {
    const r = await compileConfig([resolve('fixtures/demo')]);
    expect(r.diagnostics).toEqual([]);
    const c = r.config!;
    expect(c.providers.map((p) => [p.name, p.type, p.baseUrl])).toEqual([
      ['anthropic-mock', 'anthropic', 'http://127.0.0.1:9102'],
      ['openai-mock', 'openai', 'http://127.0.0.1:9101/v1'],
    ]);
    expect(c.providers.every((p) => p.apiKeyEnv !== null)).toBe(true);
    const kinds = new Set(c.virtualModels.map((v) => v.kind));
    expect([...kinds].sort()).toEqual(['policy', 'pool', 'redirect']);
    const strategies = new Set(c.virtualModels.map((v) => v.strategy));
    expect([...strategies].sort()).toEqual(['latency', 'priority', 'weighted']);
    expect(c.virtualModels.some((v) => v.sticky !== null)).toBe(true);
    expect(c.virtualModels.some((v) => !v.enabled)).toBe(true);
    expect(c.virtualModels.some((v) => v.middleware.postResponse.length > 0)).toBe(true);
    expect(c.virtualModels.some((v) => v.targets.some((t) => t.backendFormat !== null))).toBe(true);
  });
});
