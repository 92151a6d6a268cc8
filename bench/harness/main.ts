/**
 * `vmc bench SCENARIO [--out DIR] [--format text|json|markdown|github] [--duration S]
 * [--rate RPS] [--seed N]` (SPEC §11): read and check the scenario, run it, report, and
 * answer with the exit code — 0 every threshold held, 1 a threshold failed, 2 trouble (an
 * invalid scenario, a process that did not start, a load generator that could not reach the
 * asked rate).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { lineColumn } from '../../compiler/diagnostics.js';
import { BenchDiagnosticLog, formatBenchDiagnostics } from './diagnostics.js';
import { LiveProgress } from './progress.js';
import { readScenario } from './read-scenario.js';
import { renderHtml } from './report-html.js';
import { renderGithub, renderMarkdown, renderText } from './report-text.js';
import { buildResults } from './results.js';
import { runPlan, RunError } from './run.js';
import { prepareScenario, type Overrides } from './scenario.js';

export type BenchFormat = 'text' | 'json' | 'markdown' | 'github';

export interface BenchArgs {
  scenario: string;
  out: string | null;
  format: BenchFormat;
  overrides: Overrides;
  /** Live progress on stderr (default: when stderr is a TTY). */
  progress?: boolean;
}

export async function benchMain(args: BenchArgs): Promise<number> {
  const log = new BenchDiagnosticLog();
  const sources = new Map<string, string>();
  const path = resolve(args.scenario);
  const src = await readScenario(path, log);
  const plan = await prepareScenario(src, args.overrides, log, sources);
  const diagFormat = args.format === 'markdown' ? 'text' : args.format;
  if (log.items.length > 0 && (plan === null || args.format === 'text')) {
    const text = formatBenchDiagnostics(log.sorted(), diagFormat, sources);
    (diagFormat === 'text' ? process.stderr : process.stdout).write(text);
  }
  if (plan === null) {
    if (diagFormat === 'text') {
      const errors = log.items.filter((d) => d.severity === 'error').length;
      process.stderr.write(`vmc bench: invalid scenario (${errors} error${errors === 1 ? '' : 's'}) → exit 2\n`);
    }
    return 2;
  }

  const progress = (args.progress ?? process.stderr.isTTY === true) ? new LiveProgress() : null;
  let run;
  try {
    run = await runPlan(plan, { progress });
  } catch (err) {
    if (err instanceof RunError) {
      process.stderr.write(`vmc bench: ${err.message}\n→ exit 2\n`);
      return 2;
    }
    throw err;
  }
  const results = buildResults(run);
  if (args.out !== null) {
    const dir = resolve(args.out);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'results.json'), JSON.stringify(results, null, 2) + '\n');
    await writeFile(join(dir, 'report.md'), renderMarkdown(results));
    await writeFile(join(dir, 'report.html'), await renderHtml(results));
    if (args.format !== 'json' && args.format !== 'github')
      process.stderr.write(`vmc bench: wrote ${relative(process.cwd(), dir) || '.'}/results.json, report.md, report.html\n`);
  }
  switch (args.format) {
    case 'json':
      process.stdout.write(JSON.stringify(results, null, 2) + '\n');
      break;
    case 'markdown':
      process.stdout.write(renderMarkdown(results));
      break;
    case 'github': {
      const positions = new Map<string, { file: string; line: number; column: number }>();
      for (const t of plan.thresholds) {
        if (t.span === undefined) continue;
        const { line, column } = lineColumn(sources.get(t.span.file) ?? '', t.span.start);
        positions.set(t.expr, { file: relative(process.cwd(), t.span.file), line, column });
      }
      process.stdout.write(renderGithub(results, positions));
      break;
    }
    default:
      process.stdout.write(renderText(results));
  }
  return results.exit_code;
}
