/**
 * Helpers for tests: compile a config given as YAML text, through the real compiler.
 * (Lives in compiler/ because it runs the compiler; tests of the runtime may import it.)
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compile } from './index.js';
import { formatDiagnostics } from './diagnostics.js';

/** Compile YAML config text; throws with the formatted diagnostics on errors. */
export async function buildTableFromYaml(yamlText: string): Promise<Uint8Array> {
  const dir = await mkdtemp(join(tmpdir(), 'vmc-test-'));
  try {
    const file = join(dir, 'config.yaml');
    await writeFile(file, yamlText);
    const result = await compile([file]);
    if (!result.artifacts) {
      throw new Error('config did not compile:\n' + formatDiagnostics(result.diagnostics, 'text', new Map([[file, yamlText]])));
    }
    return result.artifacts.table;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
