/** `vmc build` and `vmc check` (SPEC §5). */
import { parseArgs } from 'node:util';
import { Progress } from '../progress.js';
import { UsageError, formatOf, printDiagnostics, requireInputs, summary } from '../args.js';

export const BUILD_USAGE = `usage: vmc build <files|dirs...> --out DIR [--format text|json|github] [-q]

Validates the config and writes table.vmct, client.ts and manifest.json to DIR.
exit codes: 0 ok (warnings allowed), 1 errors, 2 usage.
`;

export const CHECK_USAGE = `usage: vmc check <files|dirs...> [--format text|json|github]

Validates the config only.
exit codes: 0 ok (warnings allowed), 1 errors, 2 usage.
`;

export async function runBuild(args: string[]): Promise<number> {
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
  const { compile, writeArtifacts } = await import('../../compiler/index.js');
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

export async function runCheck(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { format: { type: 'string' } } });
  const format = formatOf(values.format);
  const { compileConfig } = await import('../../compiler/frontend.js');
  const result = await compileConfig(requireInputs(positionals, 'check'));
  await printDiagnostics(result, format);
  const failed = result.diagnostics.some((d) => d.severity === 'error');
  if (format === 'text') process.stderr.write(`vmc check: ${failed ? 'failed' : 'ok'} (${summary(result.diagnostics)})\n`);
  return failed ? 1 : 0;
}
