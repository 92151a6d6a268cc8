/**
 * `vmc init [DIR]` (issue 14): a starter config, a GitHub Actions workflow (docs/ci.md) and a
 * load-test scenario for its `vmc bench` gate. Refuses to overwrite: when any of the files
 * exists, nothing is written.
 *
 * The config's first line points yaml-language-server at the JSON Schema with a path relative
 * to the config file, which is how the server resolves a relative `$schema=` (against the
 * document's folder) — so completion works whatever folder the editor opened.
 */
import { existsSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError } from '../args.js';

export const INIT_USAGE = `usage: vmc init [DIR] [--no-ci]

Writes, under DIR (default: the current directory):
  config/vmc.yaml            a starter config (its first line points editors at the schema)
  .github/workflows/vmc.yml  GitHub Actions: check with annotations, build, diff as a PR comment, bench gate
  bench/vmc.bench.yaml       the load test the workflow's gate runs
--no-ci writes the config only. Existing files are never overwritten: if one exists, nothing is written.
exit codes: 0 written, 1 a file exists, 2 usage.
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

/** The workflow of docs/ci.md (test/cli/cli.test.ts checks that the two agree). */
export const WORKFLOW = `# vmc in CI: check the routing config (annotations on the pull request), build the artifacts,
# comment the routing diff on pull requests, and gate on a load test. Written by \`vmc init\`;
# see docs/ci.md in the vmc package.
name: vmc

on:
  pull_request:
    paths: ['config/**', 'bench/**', '.github/workflows/vmc.yml', 'package.json', 'package-lock.json']
  push:
    branches: [main]
    paths: ['config/**', 'bench/**', '.github/workflows/vmc.yml', 'package.json', 'package-lock.json']

permissions:
  contents: read

jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-node@v4
        with:
          node-version: 22
          cache: npm
      - run: npm ci
      - name: Check the config
        run: npx vmc check config/ --format github
      - name: Build the routing table and the typed client
        run: npx vmc build config/ --out build/ --format github
      - uses: actions/upload-artifact@v4
        with:
          name: vmc-build
          path: build/
          if-no-files-found: error

  diff:
    if: github.event_name == 'pull_request'
    needs: build
    runs-on: ubuntu-latest
    permissions:
      contents: read
      pull-requests: write
    steps:
      - uses: actions/checkout@v4
      - name: Check out the base branch's config
        uses: actions/checkout@v4
        with:
          ref: \${{ github.event.pull_request.base.sha }}
          path: base
      - uses: actions/setup-node@v4
        with:
          node-version: 22
          cache: npm
      - run: npm ci
      - name: Diff the routing against the base branch
        env:
          TITLE: 'Routing changes: \${{ github.base_ref }} → #\${{ github.event.pull_request.number }}'
        run: |
          if [ ! -d base/config ]; then echo "no config on the base branch" > vmc-diff.md; exit 0; fi
          set +e
          npx vmc diff base/config config --format markdown --title "$TITLE" > vmc-diff.md
          code=$?
          set -e
          # 0 same routing, 1 differs (both fine here), 2 trouble
          if [ "$code" -ge 2 ]; then exit "$code"; fi
          cat vmc-diff.md >> "$GITHUB_STEP_SUMMARY"
      - name: Comment on the pull request (one comment, updated on each push)
        if: github.event.pull_request.head.repo.full_name == github.repository
        uses: actions/github-script@v7
        with:
          script: |
            const body = require('node:fs').readFileSync('vmc-diff.md', 'utf8');
            const marker = '<!-- vmc-diff -->';
            const { owner, repo } = context.repo;
            const issue_number = context.issue.number;
            const comments = await github.paginate(github.rest.issues.listComments, { owner, repo, issue_number });
            const previous = comments.find((c) => c.body && c.body.startsWith(marker));
            if (previous) await github.rest.issues.updateComment({ owner, repo, comment_id: previous.id, body });
            else if (body.startsWith(marker)) await github.rest.issues.createComment({ owner, repo, issue_number, body });

  bench:
    needs: build
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-node@v4
        with:
          node-version: 22
          cache: npm
      # The gateway's fast engine (optional; vmc falls back to node:http without it).
      - run: npm ci && npm install --no-save @trufflesuite/uws-js-unofficial
      - name: Load test gate (simulated providers; thresholds in the scenario)
        run: npx vmc bench bench/vmc.bench.yaml --out bench-results/ --format github
      - uses: actions/upload-artifact@v4
        if: always()
        with:
          name: vmc-bench
          path: bench-results/
`;

/** A scenario (SPEC §11) for the workflow's gate: simulated providers, a short open-loop load. */
export const SCENARIO = `# The load test the CI gate runs: \`npx vmc bench bench/vmc.bench.yaml\` (SPEC §11 of vmc).
bench: 1
gateway:
  config: ../config
providers:
  openai: { ttft_ms: { p50: 40, p99: 200 }, itl_ms: 5, output_tokens: 16 }
  anthropic: { ttft_ms: { p50: 60, p99: 250 }, itl_ms: 5, output_tokens: 16 }
workload:
  - { model: chat, weight: 3, max_tokens: 16 }
  - { model: chat, weight: 1, stream: true, max_tokens: 16 }
  - { model: fast, weight: 1, max_tokens: 16 }
load:
  - { mode: rate, rate: 50, duration_s: 10 }
baseline: true
thresholds:
  - "errors.rate < 0.01"
  - "routing.share_error_pp < 5"
  - "overhead.p99_ms < 5"
`;

export async function runInit(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { 'no-ci': { type: 'boolean' } } });
  if (positionals.length > 1) throw new UsageError('name at most one directory');
  const dir = positionals[0] ?? '.';
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new UsageError(`${dir} is a file; name a directory`);
  const configFile = join(dir, INIT_FILES.config);
  const files: [string, string][] = [[configFile, starterConfig(schemaPathFor(configFile, dir))]];
  if (!values['no-ci']) {
    files.push([join(dir, INIT_FILES.workflow), WORKFLOW], [join(dir, INIT_FILES.scenario), SCENARIO]);
  }
  const existing = files.filter(([path]) => existsSync(path)).map(([path]) => path);
  if (existing.length > 0) {
    process.stderr.write(`vmc init: not overwriting ${existing.join(', ')} (nothing written)\n`);
    return 1;
  }
  for (const [path, text] of files) {
    await mkdir(dirname(path), { recursive: true });
    // 'wx': fail rather than replace a file created since the check.
    await writeFile(path, text, { flag: 'wx' });
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
