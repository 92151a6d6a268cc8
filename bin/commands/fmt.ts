/** `vmc fmt` (SPEC §5): the config in native form, stable order, comments kept where they can be. */
import { parseArgs } from 'node:util';
import { printDiagnostics, requireInputs } from '../args.js';

export const FMT_USAGE = `usage: vmc fmt <files|dirs...>

Prints the merged config in native form (dialects rewritten), in a stable order. Comments of
YAML files are kept where their place survives: the lines at the top (the
\`# yaml-language-server: $schema=…\` line included), lines above a key or list item, and
comments at the end of a value's line; those inside a rewritten dialect body are dropped.
exit codes: 0 ok, 1 the config has errors, 2 usage.
`;

export async function runFmt(args: string[]): Promise<number> {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  const { compileConfig } = await import('../../compiler/frontend.js');
  const { collectComments, formatNative } = await import('../../compiler/tools/format-native.js');
  const result = await compileConfig(requireInputs(positionals, 'fmt'));
  if (result.diagnostics.some((d) => d.severity === 'error')) {
    await printDiagnostics(result, 'text');
    return 1;
  }
  process.stdout.write(formatNative(result.native, collectComments(result.sources)));
  return 0;
}
