/**
 * Synthetic workloads shared by the benchmarks: a normalized config (NormConfig, see
 * runtime/table/normalized.ts) with N weighted virtual models, the same config as YAML for
 * `vmc build`, and 2 KB OpenAI chat bodies naming existing virtual models.
 *
 * Deterministic: everything derives from a seeded xorshift32, so a run is reproducible and
 * two processes building "the table of size N" build byte-identical tables.
 */

import { defaultTarget, defaultVirtualModel } from '../../dist/runtime/table/normalized.js';

/** Providers × models of the catalog every target is drawn from. */
export const PROVIDERS = ['anthropic', 'azure', 'bedrock', 'google', 'groq', 'mistral', 'openai', 'together'];
export const MODELS_PER_PROVIDER = 16;

/** Seeded xorshift32 → [0, 1). */
export function rng(seed) {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}

const pad = (n, w) => String(n).padStart(w, '0');
export const modelName = (p, m) => `${PROVIDERS[p]}-model-${pad(m, 2)}`;

/** Name of virtual model i: grouped like real configs (`group/name`), 20–40 bytes. */
export function vmName(i) {
  return `team-${pad(i % 997, 3)}/chat-${pad(i, 6)}`;
}

/**
 * The pool of virtual model i: 2–4 distinct catalogued targets with weights 1..100.
 * Returned as plain { provider, model, weight } records (the YAML and NormConfig builders
 * both start from this).
 */
export function poolOf(i, seed = 7) {
  const r = rng((Math.imul(i + 1, 0x9e3779b1) ^ seed) >>> 0);
  r();
  const n = 2 + Math.floor(r() * 3);
  const seen = new Set();
  const out = [];
  while (out.length < n) {
    const p = Math.floor(r() * PROVIDERS.length);
    const m = Math.floor(r() * MODELS_PER_PROVIDER);
    const key = p * 100 + m;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ provider: PROVIDERS[p], model: modelName(p, m), weight: 1 + Math.floor(r() * 100) });
  }
  return out;
}

/** A NormTarget with SPEC §2 defaults from { provider, model, weight }. */
export function normTarget(t) {
  return { ...defaultTarget(t.provider, t.model), weight: t.weight };
}

/** A weighted NormVirtualModel with defaults, from its name and NormTargets. */
export function normVm(name, targets) {
  return { ...defaultVirtualModel(name, targets), kind: 'pool' };
}

/**
 * The proxy benchmarks' config: one virtual model `bench-chat`, 70/30 over two models of
 * the mock upstream on `mockPort` (bench/proxy.mjs and bench/profile.mjs).
 */
export function benchChatConfig(mockPort) {
  return {
    version: 1,
    settings: { passthrough: true, modelsEndpoint: 'all' },
    providers: [
      {
        name: 'mock',
        type: 'openai',
        baseUrl: `http://127.0.0.1:${mockPort}/v1`,
        apiKeyEnv: 'VMC_BENCH_KEY',
        models: ['gpt-a', 'gpt-b'],
        timeoutMs: 0,
      },
    ],
    virtualModels: [
      normVm('bench-chat', [
        normTarget({ provider: 'mock', model: 'gpt-a', weight: 70 }),
        normTarget({ provider: 'mock', model: 'gpt-b', weight: 30 }),
      ]),
    ],
  };
}

/** NormConfig with `n` weighted virtual models (invariants of runtime/table/normalized.ts hold). */
export function normConfig(n) {
  const providers = PROVIDERS.map((name, p) => ({
    name,
    type: name === 'anthropic' ? 'anthropic' : 'openai',
    baseUrl: `http://127.0.0.1:1/${name}`,
    apiKeyEnv: `${name.toUpperCase()}_API_KEY`,
    models: Array.from({ length: MODELS_PER_PROVIDER }, (_, m) => modelName(p, m)).sort(),
    timeoutMs: 0,
  }));
  const virtualModels = [];
  for (let i = 0; i < n; i++) {
    virtualModels.push(normVm(vmName(i), poolOf(i).map(normTarget)));
  }
  virtualModels.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { version: 1, settings: { passthrough: true, modelsEndpoint: 'all' }, providers, virtualModels };
}

/**
 * The same config as YAML files (SPEC §2), split into `files` files so that the multi-file
 * merge is exercised: providers.yaml, then vms-<k>.yaml. Returns [{ name, text }].
 */
export function yamlFiles(n, files = 1) {
  const out = [];
  let head = 'version: 1\nsettings:\n  passthrough: true\nproviders:\n';
  PROVIDERS.forEach((name, p) => {
    head += `  ${name}:\n    type: ${name === 'anthropic' ? 'anthropic' : 'openai'}\n`;
    head += `    base_url: http://127.0.0.1:1/${name}\n    api_key_env: ${name.toUpperCase()}_API_KEY\n`;
    head += `    models: [${Array.from({ length: MODELS_PER_PROVIDER }, (_, m) => modelName(p, m)).join(', ')}]\n`;
  });
  out.push({ name: 'providers.yaml', text: head });
  const per = Math.ceil(n / files);
  for (let f = 0; f < files; f++) {
    const parts = ['version: 1\nvirtual_models:\n'];
    for (let i = f * per; i < Math.min(n, (f + 1) * per); i++) {
      parts.push(`  ${vmName(i)}:\n    strategy: weighted\n    targets:\n`);
      for (const t of poolOf(i)) parts.push(`      - { target: ${t.provider}/${t.model}, weight: ${t.weight} }\n`);
    }
    out.push({ name: `vms-${pad(f, 3)}.yaml`, text: parts.join('') });
  }
  return out;
}

/**
 * A ~2 KB OpenAI chat-completion body (UTF-8 bytes) naming `model`. Realistic shape:
 * system + user + assistant + user messages, sampling params, a tool schema; the `model`
 * member comes first, as the official SDKs send it.
 */
export function chatBody(model, i = 0, targetBytes = 2048, stream = false) {
  const filler =
    'Summarize the following incident report for the on-call engineer, keeping every ' +
    'timestamp, service name and error code; answer in at most five bullet points. ';
  const body = {
    model,
    messages: [
      { role: 'system', content: 'You are a careful assistant. Request #' + i + '.' },
      { role: 'user', content: '' },
      { role: 'assistant', content: 'Understood — please paste the report.' },
      { role: 'user', content: 'Report follows. Keep \"quotes\" and unicode — e.g. Zürich, 東京 — intact.' },
    ],
    temperature: 0.2,
    top_p: 1,
    max_tokens: 512,
    stream,
    tools: [
      {
        type: 'function',
        function: {
          name: 'lookup_incident',
          description: 'Fetch an incident by id',
          parameters: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
        },
      },
    ],
    user: `user-${i % 100}`,
  };
  let text = JSON.stringify(body);
  let content = '';
  while (Buffer.byteLength(text) < targetBytes) {
    content += filler;
    body.messages[1].content = content.slice(0, content.length);
    text = JSON.stringify(body);
  }
  // trim the filler so the body is as close to targetBytes as whole characters allow
  const over = Buffer.byteLength(text) - targetBytes;
  if (over > 0) {
    body.messages[1].content = content.slice(0, content.length - over);
    text = JSON.stringify(body);
  }
  return Buffer.from(text, 'utf8');
}
