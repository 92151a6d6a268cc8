/**
 * Helpers for tests: compile a config given as YAML text, through the real compiler (in
 * memory, like the admin API). Lives in compiler/ because it runs the compiler; tests of the
 * runtime may import it.
 */
import { compileDocuments } from './frontend.js';
import { emitArtifacts } from './index.js';
import { formatDiagnostics } from './diagnostics.js';

/** Compile YAML config text; throws with the formatted diagnostics on errors. */
export async function buildTableFromYaml(yamlText: string): Promise<Uint8Array> {
  const doc = { path: 'config.yaml', text: yamlText };
  const front = await compileDocuments([doc]);
  if (front.config === null) {
    throw new Error('config did not compile:\n' + formatDiagnostics(front.diagnostics, 'text', new Map([[doc.path, yamlText]])));
  }
  return emitArtifacts(front.config, front.sources).table;
}
