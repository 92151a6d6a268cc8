/**
 * The rewrite phase: valid merged virtual models → native bodies that still point at their
 * source, so a diagnostic about a rewritten node lands on the text that was pasted.
 */
import { describe, expect, it } from 'vitest';
import { DiagnosticLog } from '../../compiler/diagnostics.js';
import { loadDocuments } from '../../compiler/load.js';
import { mergeFiles } from '../../compiler/merge.js';
import { rewriteEntries } from '../../compiler/rewrite.js';
import { validateFile } from '../../compiler/validate.js';
import { compileYaml, positions, PROVIDERS_YAML } from './support.js';

async function rewrite(text: string) {
  const log = new DiagnosticLog();
  const files = await loadDocuments([{ path: 'a.yaml', text }], log);
  return {
    models: rewriteEntries(
      mergeFiles(
        files.map((f) => validateFile(f, log)),
        log,
      ),
    ),
    text,
  };
}

/** The source text a span covers. */
const cut = (text: string, s: { start: number; end: number }) => text.slice(s.start, s.end);

describe('rewriteEntries', () => {
  it('rewrites every valid body into native form, sorted by name, and skips invalid ones', async () => {
    const { models } = await rewrite(`${PROVIDERS_YAML}virtual_models:
  z: { source: z, target_model: openai/gpt-4o }
  a: { target: openai/gpt-4o }
  broken: { target: openai/gpt-4o, nope: 1 }
  mixed: { target: openai/gpt-4o, target_model: openai/gpt-4o }
`);
    expect(models.map((m) => [m.name, m.dialect, m.body])).toEqual([
      ['a', 'native', { target: 'openai/gpt-4o' }],
      ['z', 'gomodel', { target: 'openai/gpt-4o' }],
    ]);
  });

  it('at() maps native paths of a rewritten body to the source nodes they came from', async () => {
    const { models, text } = await rewrite(`${PROVIDERS_YAML}virtual_models:
  tf:
    routing_config:
      type: priority-based-routing
      load_balance_targets:
        - target: openai/gpt-4o
          retry_config: { attempts: 2, on_status_codes: [429] }
`);
    const tf = models[0];
    expect(cut(text, tf.at([], 'key'))).toBe('tf');
    expect(cut(text, tf.at(['strategy']))).toBe('priority-based-routing');
    expect(cut(text, tf.at(['targets', 0, 'target']))).toBe('openai/gpt-4o');
    expect(cut(text, tf.at(['targets', 0, 'retry', 'on_status'], 'key'))).toBe('on_status_codes');
    expect(cut(text, tf.at(['targets', 0, 'retry', 'attempts']))).toBe('2');
  });
});

describe('diagnostics about rewritten nodes point into the pasted source', () => {
  it('an unknown TrueFoundry target points at load_balance_targets[i].target', async () => {
    const r = await compileYaml(`  g/x:
    routing_config:
      type: weight-based-routing
      load_balance_targets:
        - target: openai/gpt-4o
        - target: openai/gpt-5
`);
    expect(positions(r, r.dir)).toEqual(['vmc.yaml:18:19 VMC2001']);
  });

  it('a TrueFoundry string status code out of range points at the string', async () => {
    const r = await compileYaml(`  g/x:
    routing_config:
      type: weight-based-routing
      load_balance_targets:
        - target: openai/gpt-4o
          retry_config: { on_status_codes: ["429", "999"] }
`);
    expect(positions(r, r.dir)).toEqual(['vmc.yaml:18:52 VMC2010']);
  });

  it('an unknown NeMo middleware points at its name', async () => {
    const r = await compileYaml(`  w/x:
    default_model_entity: openai/gpt-4o
    post_response_middleware:
      - { name: analytics-tracker, config_type: a }
`);
    expect(positions(r, r.dir)).toEqual(['vmc.yaml:16:17 VMC2017']);
  });

  it('an unknown GoModel target points at target_model', async () => {
    const r = await compileYaml(`  x: { source: x, target_model: openai/gpt-40 }\n`);
    expect(positions(r, r.dir)).toEqual(['vmc.yaml:13:33 VMC2001']);
  });
});
