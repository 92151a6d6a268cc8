/**
 * docs/config.md, "Providers": every YAML example compiles cleanly (no diagnostic at all), so
 * the provider reference stays true as the schema and the rules change.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileDocuments } from '../../compiler/frontend.js';

const doc = readFileSync('docs/config.md', 'utf8');
const section = doc.slice(doc.indexOf('\n## Providers\n'), doc.indexOf('\n## Resolution\n'));
const blocks = [...section.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]);

describe('docs/config.md provider examples', () => {
  it('has one example per provider type and the compatible services', () => {
    expect(section.length).toBeGreaterThan(1000);
    for (const t of ['openai', 'anthropic', 'azure', 'bedrock', 'gemini', 'vertex'])
      expect(blocks.some((b) => b.includes(`type: ${t}\n`))).toBe(true);
    for (const host of [
      'groq.com',
      'openrouter.ai',
      'deepseek.com',
      'mistral.ai',
      'together.xyz',
      'fireworks.ai',
      'x.ai',
      ':11434',
      ':8000',
      '/openai/v1',
      '/v1beta/openai',
    ]) {
      expect(blocks.some((b) => b.includes(host))).toBe(true);
    }
  });

  it.each(blocks.map((b, i) => [i, b] as const))('example %i compiles without diagnostics', async (_i, text) => {
    const r = await compileDocuments([{ path: 'example.yaml', text: `version: 1\n${text}` }]);
    expect(r.diagnostics).toEqual([]);
    expect(r.config!.providers.length).toBeGreaterThan(0);
  });
});
