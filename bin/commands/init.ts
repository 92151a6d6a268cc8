/**
 * `vmc init [DIR]` (issue 14): a starter config, a GitHub Actions workflow (docs/ci.md) and a
 * load-test scenario for its `vmc bench` gate. Refuses to overwrite: when any of the files
 * exists, nothing is written.
 *
 * The config's first line points yaml-language-server at the JSON Schema with a path relative
 * to the config file, which is how the server resolves a relative `$schema=` (against the
 * document's folder) — so completion works whatever folder the editor opened.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { UsageError } from '../args.js';

export const INIT_USAGE = `usage: vmc init [DIR] [--no-ci]

Writes, under DIR (default: the current directory):
  config/vmc.yaml            a starter config (its first line points editors at the schema)
  .github/workflows/vmc.yml  GitHub Actions: check with annotations, build, diff as a PR comment, bench gate
  bench/vmc.bench.yaml       the load test the workflow's gate runs
--no-ci writes the config only. Existing files are never overwritten: if one exists, nothing is written.
exit codes: 0 written, 1 a file exists, 2 usage or a file cannot be written.
`;

/** Where the files go, relative to DIR. */
export const INIT_FILES = {
  config: 'config/vmc.yaml',
  workflow: '.github/workflows/vmc.yml',
  scenario: 'bench/vmc.bench.yaml',
} as const;

const SCHEMA_IN_PACKAGE = join('node_modules', 'vmc', 'schemas', 'vmc.schema.json');

/**
 * The schema path as the config file should name it: relative to the config's folder, to the
 * nearest `node_modules/vmc` above it that exists, else to DIR's own (vmc not installed yet).
 */
export function schemaPathFor(configFile: string, projectDir: string): string {
  const from = dirname(resolve(configFile));
  let schema = join(resolve(projectDir), SCHEMA_IN_PACKAGE);
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, SCHEMA_IN_PACKAGE))) {
      schema = join(dir, SCHEMA_IN_PACKAGE);
      break;
    }
    if (dirname(dir) === dir) break;
  }
  return relative(from, schema).split(sep).join('/');
}

export function starterConfig(schemaPath: string): string {
  return `# yaml-language-server: $schema=${schemaPath}
# The routing config: providers, then virtual models (the names apps call). Reference:
# the vmc README ("Configuration reference"); check with \`npx vmc check config/\`.
version: 1
providers:
  openai:
    type: openai
    base_url: https://api.openai.com/v1
    api_key_env: OPENAI_API_KEY       # read by the gateway; secrets never enter the artifacts
    models: [gpt-4o, gpt-4o-mini]
  anthropic:
    type: anthropic
    base_url: https://api.anthropic.com
    api_key_env: ANTHROPIC_API_KEY
    models: [claude-sonnet-4-6]
virtual_models:
  # A weighted pool with retries and fallback: 80 % OpenAI, 20 % Anthropic.
  chat:
    strategy: weighted
    targets:
      - { target: openai/gpt-4o, weight: 80 }
      - { target: anthropic/claude-sonnet-4-6, weight: 20 }
  # An alias: apps call "fast", the config decides what it is.
  fast: { target: openai/gpt-4o-mini }
`;
}

/** The workflow and the scenario are real files in the package, shown by docs/ci.md. */
const EXAMPLES = join('docs', 'examples');

/** The package's root: from the sources (bin/commands/) or the build (dist/bin/commands/). */
function packageRoot(): string {
  for (const up of ['../..', '../../..']) {
    const dir = fileURLToPath(new URL(`${up}/`, import.meta.url));
    if (existsSync(join(dir, EXAMPLES, 'vmc-workflow.yml'))) return dir;
  }
  throw new Error('vmc: cannot find docs/examples in the vmc package');
}

/** The GitHub Actions workflow of docs/ci.md (docs/examples/vmc-workflow.yml). */
export function workflowText(): string {
  return readFileSync(join(packageRoot(), EXAMPLES, 'vmc-workflow.yml'), 'utf8');
}

/** The load test the workflow's gate runs (docs/examples/vmc.bench.yaml, SPEC §11). */
export function scenarioText(): string {
  return readFileSync(join(packageRoot(), EXAMPLES, 'vmc.bench.yaml'), 'utf8');
}

export async function runInit(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { 'no-ci': { type: 'boolean' } } });
  if (positionals.length > 1) throw new UsageError('name at most one directory');
  const dir = positionals[0] ?? '.';
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new UsageError(`${dir} is a file; name a directory`);
  const configFile = join(dir, INIT_FILES.config);
  const files: [string, string][] = [[configFile, starterConfig(schemaPathFor(configFile, dir))]];
  if (!values['no-ci']) {
    files.push([join(dir, INIT_FILES.workflow), workflowText()], [join(dir, INIT_FILES.scenario), scenarioText()]);
  }
  const existing = files.filter(([path]) => existsSync(path)).map(([path]) => path);
  if (existing.length > 0) {
    process.stderr.write(`vmc init: not overwriting ${existing.join(', ')} (nothing written)\n`);
    return 1;
  }
  for (const [path, text] of files) {
    try {
      await mkdir(dirname(path), { recursive: true });
      // 'wx': fail rather than replace a file created since the check.
      await writeFile(path, text, { flag: 'wx' });
    } catch (err) {
      process.stderr.write(`vmc init: cannot write ${path}: ${(err as Error).message}\n`);
      return 2;
    }
    process.stdout.write(`wrote ${path}\n`);
  }
  const cfgDir = join(dir, 'config');
  process.stdout.write(`
next:
  npm install --save-dev vmc        (if it is not a dependency yet: the workflow runs npx vmc)
  npx vmc check ${cfgDir}
  npx vmc build ${cfgDir} --out build/   → build/table.vmct, build/client.ts, build/manifest.json
`);
  return 0;
}
