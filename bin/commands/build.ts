/** `vmc build` and `vmc check` (SPEC §5). */
import { existsSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DIAGNOSTIC_CATALOG, isDiagnosticCode, type DiagnosticCode } from '../../compiler/diagnostics.js';
import { Progress, type PhaseCounts } from '../progress.js';
import { UsageError, formatOf, printDiagnostics, requireInputs, summary } from '../args.js';

/** The codes `--ignore-warning` accepts: the catalog's warnings. */
const WARNING_CODES = (Object.keys(DIAGNOSTIC_CATALOG) as DiagnosticCode[]).filter((c) => DIAGNOSTIC_CATALOG[c].severity === 'warning');

const IGNORE_WARNING_HELP = `--ignore-warning CODE leaves warning CODE out (repeatable; warnings: ${WARNING_CODES.join(', ')}).
Errors cannot be silenced.`;

export const BUILD_USAGE = `usage: vmc build <files|dirs...> --out DIR [--format text|json|github] [--ignore-warning CODE]... [-q]

Validates the config and writes table.vmct, client.ts and manifest.json to DIR.
${IGNORE_WARNING_HELP}
exit codes: 0 ok (warnings allowed), 1 errors, 2 usage or the artifacts cannot be written.
Progress shows on stderr for builds over a second (-q hides it).
`;

export const CHECK_USAGE = `usage: vmc check <files|dirs...> [--format text|json|github] [--ignore-warning CODE]...

Validates the config only.
${IGNORE_WARNING_HELP}
exit codes: 0 ok (warnings allowed), 1 errors, 2 usage.
`;

const IGNORE_WARNING_OPTION = { 'ignore-warning': { type: 'string', multiple: true } } as const;

/**
 * `--ignore-warning` values → codes. A code outside the catalog, or the code of an error, is a
 * usage error (STYLE.md: errors cannot be silenced; warnings can).
 */
export function ignoredWarnings(values: readonly string[] | undefined): DiagnosticCode[] {
  return (values ?? []).map((code) => {
    if (!isDiagnosticCode(code)) {
      throw new UsageError(`--ignore-warning: unknown diagnostic code ${JSON.stringify(code)} (warnings: ${WARNING_CODES.join(', ')})`);
    }
    if (DIAGNOSTIC_CATALOG[code].severity === 'error') {
      throw new UsageError(`--ignore-warning ${code}: errors cannot be silenced (${code} is an error)`);
    }
    return code;
  });
}

/** `--out DIR` must be a directory or not exist yet (it is created); a file there is a usage error. */
function checkOutDir(out: string): void {
  if (!existsSync(out)) return;
  if (!statSync(out).isDirectory()) throw new UsageError(`--out ${out} is a file; name a directory (it is created if missing)`);
}

export async function runBuild(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      out: { type: 'string', short: 'o' },
      format: { type: 'string' },
      quiet: { type: 'boolean', short: 'q' },
      ...IGNORE_WARNING_OPTION,
    },
  });
  const format = formatOf(values.format);
  if (!values.out) throw new UsageError('vmc build: --out DIR is required');
  const out = values.out;
  checkOutDir(out);
  const ignoreWarnings = ignoredWarnings(values['ignore-warning']);
  const inputs = requireInputs(positionals, 'build');
  const progress = new Progress({ enabled: format !== 'json' && !values.quiet });
  const started = performance.now();
  const { compile, writeArtifacts } = await import('../../compiler/index.js');
  try {
    // The hook passes counts when the compiler reports them (see bin/progress.ts).
    const result = await compile(inputs, {
      onPhase: (phase: string, counts?: PhaseCounts) => progress.phase(phase, counts),
      ignoreWarnings,
    });
    if (result.artifacts) {
      progress.phase('write');
      try {
        await writeArtifacts(out, result.artifacts);
      } catch (err) {
        progress.done();
        process.stderr.write(`vmc build: cannot write the artifacts to ${out}: ${(err as Error).message}\n`);
        return 2;
      }
    }
    progress.done();
    await printDiagnostics(result, format);
    if (!result.artifacts) {
      if (format === 'text') process.stderr.write(`vmc build: failed (${summary(result.diagnostics)})\n`);
      return 1;
    }
    if (format === 'text' && !values.quiet) {
      const m = JSON.parse(result.artifacts.manifest) as {
        counts: { virtualModels: number; targets: number };
        table: { sha256: string; bytes: number };
      };
      const ms = (performance.now() - started).toFixed(0);
      process.stderr.write(
        `vmc build: ${m.counts.virtualModels} virtual models, ${m.counts.targets} targets → ${out} ` +
          `(table ${m.table.bytes} bytes, ${m.table.sha256.slice(0, 12)}; ${summary(result.diagnostics)}; ${ms} ms)\n`,
      );
    }
    return 0;
  } finally {
    progress.done();
  }
}

export async function runCheck(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { format: { type: 'string' }, ...IGNORE_WARNING_OPTION },
  });
  const format = formatOf(values.format);
  const ignoreWarnings = ignoredWarnings(values['ignore-warning']);
  const inputs = requireInputs(positionals, 'check');
  const { compileConfig } = await import('../../compiler/frontend.js');
  const result = await compileConfig(inputs, { ignoreWarnings });
  await printDiagnostics(result, format);
  const failed = result.diagnostics.some((d) => d.severity === 'error');
  if (format === 'text') process.stderr.write(`vmc check: ${failed ? 'failed' : 'ok'} (${summary(result.diagnostics)})\n`);
  return failed ? 1 : 0;
}
