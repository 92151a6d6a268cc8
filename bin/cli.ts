/**
 * The vmc command line (SPEC §5). `main(argv)` returns the exit code; it never calls
 * process.exit itself except through `serve`, which owns the process lifetime.
 */
import { readFile } from 'node:fs/promises';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Diagnostic } from '../compiler/diagnostics.js';
import { RoutingTable, TableFormatError } from '../runtime/table/reader.js';
import { Progress } from './progress.js';
import { TABLE_FILE } from '../compiler/emit-manifest.js';

// Commands import what they need lazily: `explain` and `diff` read tables only and should
// not pay for loading ts-morph, ajv and the rest of the compiler front-end.

const USAGE = `vmc — virtual model compiler and gateway

usage:
  vmc build <files|dirs...> --out DIR [--format text|json|github]
  vmc check <files|dirs...> [--format text|json|github]
  vmc explain <model> --table FILE [--header k=v]... [--metadata k=v]... [--user-path P] [--draw R] [--json]
  vmc diff OLD NEW [--json]          (tables, or build directories holding ${TABLE_FILE})
  vmc fmt <files|dirs...>            (prints the config in native form)
  vmc serve --table FILE [--host 127.0.0.1] [--port 8080] [--workers N] [--max-body BYTES] [--state-dir DIR]
  vmc demo [--port 8080]             (compiles fixtures/demo, starts mock providers and the gateway)

exit codes: build/check 0 ok (warnings allowed), 1 errors; diff 0 same routing, 1 differs, 2 trouble.
`;

type Format = 'text' | 'json' | 'github';

class UsageError extends Error {}

function formatOf(v: string | undefined): Format {
  const f = (v ?? 'text') as Format;
  if (!['text', 'json', 'github'].includes(f)) throw new UsageError(`--format must be text, json or github (got ${v})`);
  return f;
}

function requireInputs(positionals: string[], cmd: string): string[] {
  if (positionals.length === 0) throw new UsageError(`vmc ${cmd}: name at least one config file or directory`);
  return positionals;
}

async function printDiagnostics(result: { diagnostics: Diagnostic[]; sources: { path: string; text: string }[] }, format: Format): Promise<void> {
  const { formatDiagnostics } = await import('../compiler/diagnostics.js');
  const sources = new Map(result.sources.map((s) => [s.path, s.text]));
  if (format === 'json') {
    process.stdout.write(formatDiagnostics(result.diagnostics, 'json', sources, process.cwd()) + '\n');
    return;
  }
  if (result.diagnostics.length === 0) return;
  const text = formatDiagnostics(result.diagnostics, format, sources, process.cwd());
  (format === 'github' ? process.stdout : process.stderr).write(text.endsWith('\n') ? text : text + '\n');
}

const summary = (diags: { severity: string }[]): string => {
  const e = diags.filter((d) => d.severity === 'error').length;
  const w = diags.length - e;
  return `${e} error${e === 1 ? '' : 's'}, ${w} warning${w === 1 ? '' : 's'}`;
};

async function cmdBuild(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { out: { type: 'string', short: 'o' }, format: { type: 'string' }, quiet: { type: 'boolean', short: 'q' } },
  });
  const format = formatOf(values.format);
  if (!values.out) throw new UsageError('vmc build: --out DIR is required');
  const inputs = requireInputs(positionals, 'build');
  const progress = new Progress(format !== 'json' && !values.quiet);
  const started = performance.now();
  const { compile, writeArtifacts } = await import('../compiler/index.js');
  try {
    const result = await compile(inputs, { onPhase: (p) => progress.phase(p) });
    if (result.artifacts) {
      progress.phase('write');
      await writeArtifacts(values.out, result.artifacts);
    }
    progress.done();
    await printDiagnostics(result, format);
    if (!result.artifacts) {
      if (format === 'text') process.stderr.write(`vmc build: failed (${summary(result.diagnostics)})\n`);
      return 1;
    }
    if (format === 'text' && !values.quiet) {
      const m = JSON.parse(result.artifacts.manifest) as { counts: { virtualModels: number; targets: number }; table: { sha256: string; bytes: number } };
      const ms = (performance.now() - started).toFixed(0);
      process.stderr.write(
        `vmc build: ${m.counts.virtualModels} virtual models, ${m.counts.targets} targets → ${values.out} ` +
          `(table ${m.table.bytes} bytes, ${m.table.sha256.slice(0, 12)}; ${summary(result.diagnostics)}; ${ms} ms)\n`,
      );
    }
    return 0;
  } finally {
    progress.done();
  }
}

async function cmdCheck(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { format: { type: 'string' } } });
  const format = formatOf(values.format);
  const { compileConfig } = await import('../compiler/frontend.js');
  const result = await compileConfig(requireInputs(positionals, 'check'));
  await printDiagnostics(result, format);
  const failed = result.diagnostics.some((d) => d.severity === 'error');
  if (format === 'text') process.stderr.write(`vmc check: ${failed ? 'failed' : 'ok'} (${summary(result.diagnostics)})\n`);
  return failed ? 1 : 0;
}

async function loadTable(path: string): Promise<RoutingTable> {
  const file = existsSync(path) && statSync(path).isDirectory() ? join(path, TABLE_FILE) : path;
  return RoutingTable.decode(new Uint8Array(await readFile(file)));
}

function pairs(list: string[] | undefined, flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list ?? []) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new UsageError(`${flag} takes key=value (got ${JSON.stringify(item)})`);
    out[item.slice(0, eq).trim()] = item.slice(eq + 1);
  }
  return out;
}

async function cmdExplain(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      table: { type: 'string', short: 't' },
      header: { type: 'string', multiple: true, short: 'H' },
      metadata: { type: 'string', multiple: true, short: 'm' },
      'user-path': { type: 'string' },
      draw: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  if (positionals.length !== 1) throw new UsageError('vmc explain: name exactly one model');
  if (!values.table) throw new UsageError('vmc explain: --table FILE is required');
  const table = await loadTable(values.table);
  const { explainRoute, renderExplain } = await import('../compiler/explain.js');
  const headers = Object.fromEntries(Object.entries(pairs(values.header, '--header')).map(([k, v]) => [k.toLowerCase(), v]));
  const metaPairs = pairs(values.metadata, '--metadata');
  const draw = values.draw === undefined ? Math.random() : Number(values.draw);
  if (!(draw >= 0 && draw < 1)) throw new UsageError('--draw must be a number in [0, 1)');
  const result = explainRoute(table, positionals[0], {
    headers,
    metadata: Object.keys(metaPairs).length ? metaPairs : null,
    userPath: values['user-path'] ?? headers['x-vmc-user-path'] ?? '/',
    draw,
  });
  process.stdout.write(values.json ? JSON.stringify(result, null, 2) + '\n' : renderExplain(result));
  return result.status === 'ok' ? 0 : 1;
}

async function cmdDiff(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean' } } });
  if (positionals.length !== 2) throw new UsageError('vmc diff: name OLD and NEW');
  let a: RoutingTable;
  let b: RoutingTable;
  try {
    [a, b] = await Promise.all(positionals.map(loadTable));
  } catch (err) {
    process.stderr.write(`vmc diff: ${(err as Error).message}\n`);
    return 2;
  }
  const { diffConfigs, renderDiff } = await import('../compiler/diff.js');
  const d = diffConfigs(a.toNormalized(), b.toNormalized());
  process.stdout.write(values.json ? JSON.stringify(d, null, 2) + '\n' : renderDiff(d));
  return d.identicalRouting ? 0 : 1;
}

async function cmdFmt(args: string[]): Promise<number> {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  const { compileConfig } = await import('../compiler/frontend.js');
  const { formatNative } = await import('../compiler/format-native.js');
  const result = await compileConfig(requireInputs(positionals, 'fmt'));
  if (result.diagnostics.some((d) => d.severity === 'error')) {
    await printDiagnostics(result, 'text');
    return 1;
  }
  process.stdout.write(formatNative(result.native));
  return 0;
}

const COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  build: cmdBuild,
  check: cmdCheck,
  explain: cmdExplain,
  diff: cmdDiff,
  fmt: cmdFmt,
  serve: async (args) => (await import('./serve.js')).cmdServe(args),
  demo: async (args) => (await import('./serve.js')).cmdDemo(args),
};

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '-h' || cmd === '--help' || cmd === 'help') {
    process.stdout.write(USAGE);
    return cmd ? 0 : 2;
  }
  if (cmd === '--version' || cmd === '-v') {
    const { COMPILER_VERSION } = await import('../compiler/emit-manifest.js');
    process.stdout.write(COMPILER_VERSION + '\n');
    return 0;
  }
  const run = COMMANDS[cmd];
  if (!run) {
    process.stderr.write(`vmc: unknown command ${JSON.stringify(cmd)}\n\n${USAGE}`);
    return 2;
  }
  try {
    return await run(rest);
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`vmc ${cmd}: ${(err as Error).message}\n`);
      return 2;
    }
    if (err instanceof TableFormatError) {
      process.stderr.write(`vmc ${cmd}: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}

