/**
 * Test helpers for the compiler front end: write configs into a temp directory, compile them,
 * and describe diagnostics as `file:line:col CODE` strings (position and code, never wording).
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { lineColumn, type Diagnostic } from '../../compiler/diagnostics.js';
import { compileConfig, type FrontendResult } from '../../compiler/frontend.js';

export const PROVIDERS_YAML = `providers:
  openai:
    type: openai
    base_url: https://api.openai.com/v1
    api_key_env: OPENAI_API_KEY
    models: [gpt-4o, gpt-4o-mini]
  anthropic:
    type: anthropic
    base_url: https://api.anthropic.com
    api_key_env: ANTHROPIC_API_KEY
    models: [claude-sonnet-4-6, claude-opus-4-6]
`;

/** Writes `files` (relative path → text) into a fresh temp directory; returns its path. */
export async function writeTree(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vmc-front-'));
  for (const [name, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, name)), { recursive: true });
    await writeFile(join(dir, name), text);
  }
  return dir;
}

/** Runs `fn` on a temp directory holding `files` (removed afterwards). */
export async function withTree<T>(files: Record<string, string>, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await writeTree(files);
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Compiles `files` from a temp directory (removed afterwards). */
export async function compileFiles(files: Record<string, string>, inputs?: string[]): Promise<FrontendResult & { dir: string }> {
  const dir = await writeTree(files);
  try {
    const result = await compileConfig((inputs ?? Object.keys(files)).map((f) => join(dir, f)));
    return { ...result, dir };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Compiles one YAML text with the standard providers prepended. */
export function compileYaml(virtualModels: string, extra = ''): Promise<FrontendResult & { dir: string }> {
  return compileFiles({ 'vmc.yaml': `${PROVIDERS_YAML}${extra}virtual_models:\n${virtualModels}` });
}

/** `b.yaml:2:10 VMC1008` for each diagnostic, files relative to `base`; sorted, unique. */
export function positions(result: Pick<FrontendResult, 'diagnostics' | 'sources'>, base: string): string[] {
  const texts = new Map(result.sources.map((s) => [s.path, s.text]));
  const out = result.diagnostics.map((d: Diagnostic) => {
    const text = texts.get(d.file);
    const { line, column } = text === undefined ? { line: 1, column: 1 } : lineColumn(text, d.start);
    const file = relative(base, d.file) || '.';
    return `${file}:${line}:${column} ${d.code}`;
  });
  return [...new Set(out)].sort();
}

/** Codes only, sorted, unique. */
export function codes(result: Pick<FrontendResult, 'diagnostics'>): string[] {
  return [...new Set(result.diagnostics.map((d) => d.code))].sort();
}
