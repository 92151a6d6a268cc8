/**
 * Scenario diagnostics (SPEC §11 "invalid scenario with positioned diagnostics"): a catalog of
 * stable codes, like the compiler's (compiler/diagnostics.ts), printed with the compiler's
 * printers (text, json, github) so a scenario error reads like a config error.
 *
 * Codes: VMB1xxx = reading and schema (the text is not a well-formed scenario),
 *        VMB2xxx = semantics (well-formed, but it cannot run as written).
 * Codes never change meaning; new codes are appended. Tests assert codes and positions.
 */
import {
  formatDiagnostics as formatCompilerDiagnostics,
  renderTemplate,
  type Diagnostic,
  type Severity,
} from '../../compiler/diagnostics.js';

interface CatalogEntry {
  severity: Severity;
  title: string;
  message: string;
  hint: string;
}

/** The catalog. Order = documentation order (docs/bench.md mirrors it). */
export const BENCH_DIAGNOSTICS = {
  VMB1001: {
    severity: 'error',
    title: 'syntax error',
    message: 'syntax error: {detail}',
    hint: 'fix the YAML syntax at this position (indentation, quoting, unique keys)',
  },
  VMB1002: {
    severity: 'error',
    title: 'unknown key',
    message: 'unknown key "{key}" in {context}',
    hint: '[did you mean "{suggestion}"? ]allowed keys: {allowed}',
  },
  VMB1003: {
    severity: 'error',
    title: 'wrong type',
    message: '{context} must be {expected} (got {actual})',
    hint: 'write {expected} here',
  },
  VMB1004: {
    severity: 'error',
    title: 'value not allowed',
    message: '{context} must be one of {allowed} (got {actual})',
    hint: '[did you mean "{suggestion}"? ]use one of {allowed}',
  },
  VMB1005: { severity: 'error', title: 'missing key', message: '{context} needs "{key}"', hint: 'add "{key}"[: {example}]' },
  VMB1006: { severity: 'error', title: 'out of range', message: '{context} {detail} (got {actual})', hint: 'use a value that {detail}' },
  VMB1007: {
    severity: 'error',
    title: 'TypeScript error',
    message: 'TypeScript scenario: {detail}',
    hint: 'fix the type error; the scenario is typed by defineScenario()',
  },
  VMB1008: {
    severity: 'error',
    title: 'TypeScript scenario not evaluated',
    message: 'TypeScript scenario could not be evaluated: {detail}',
    hint: 'export the scenario as `export default defineScenario({...})` of plain data',
  },
  VMB1009: {
    severity: 'error',
    title: 'unreadable file',
    message: 'cannot read {what} {path}: {detail}',
    hint: 'check the path (relative to the scenario file)',
  },
  VMB2001: {
    severity: 'error',
    title: 'unknown model',
    message: 'workload model "{model}" is not a virtual model, slug or catalogued model of the config',
    hint: '[did you mean "{suggestion}"? ]name a model the config defines',
  },
  VMB2002: {
    severity: 'error',
    title: 'unknown provider',
    message: 'simulated provider "{name}" is not a provider of the config',
    hint: '[did you mean "{suggestion}"? ]providers: {known}',
  },
  VMB2003: {
    severity: 'error',
    title: 'refuse needs a window',
    message: 'a refuse fault refuses every connection to the provider: {detail}',
    hint: 'give it from_s/for_s (or flap_s) and no rate, at the provider level',
  },
  VMB2004: {
    severity: 'error',
    title: 'bad threshold',
    message: 'threshold "{expr}" is not `metric <op> number`',
    hint: 'write e.g. "latency.p99_ms < 50" (ops: < <= > >= ==)',
  },
  VMB2005: {
    severity: 'error',
    title: 'unknown metric',
    message: 'threshold names unknown metric "{metric}"',
    hint: '[did you mean "{suggestion}"? ]see docs/bench.md for the metric names',
  },
  VMB2006: {
    severity: 'error',
    title: 'file not found',
    message: '{what} {path} does not exist',
    hint: 'paths are relative to the scenario file',
  },
  VMB2007: {
    severity: 'error',
    title: 'bad template',
    message: 'template "{text}": {detail}',
    hint: 'a template is {example}: an integer expression over n with + - * / % and parentheses',
  },
  VMB2008: {
    severity: 'error',
    title: 'bad trace line',
    message: 'trace {path} line {line}: {detail}',
    hint: 'one JSON object per line with t_ms (number) and model (string)',
  },
  VMB2009: {
    severity: 'error',
    title: 'gateway',
    message: '{detail}',
    hint: 'give `gateway:` with exactly one of config, table or url (or `gateways:` with names)',
  },
  VMB2010: {
    severity: 'error',
    title: 'duplicate gateway name',
    message: 'gateway name "{name}" is used twice',
    hint: 'give every gateway its own name',
  },
  VMB2011: {
    severity: 'error',
    title: 'fault kind',
    message: 'a fault needs exactly one of status or kind[{detail}]',
    hint: 'write e.g. { status: 503, rate: 0.1 } or { kind: reset, from_s: 2, for_s: 1 }',
  },
  VMB2012: {
    severity: 'error',
    title: 'sweep without thresholds',
    message: 'a sweep finds the highest rate at which the thresholds hold, and the scenario has none',
    hint: 'add thresholds, e.g. "latency.p99_ms < 100"',
  },
  VMB2013: {
    severity: 'error',
    title: 'no workload',
    message: 'the scenario has no workload entries (and not every phase replays a trace)',
    hint: 'add `workload:` with at least one { model: ... }',
  },
  VMB2014: {
    severity: 'error',
    title: 'provider not simulated',
    message: 'provider "{name}" has type {type}, which has no simulated provider',
    hint: 'vmc bench simulates openai, anthropic, azure, gemini, vertex and bedrock providers; measure such a gateway with `url:`',
  },
  VMB2015: {
    severity: 'error',
    title: 'config does not compile',
    message: 'the gateway config does not compile ({summary})',
    hint: 'fix the config diagnostics printed above (vmc check)',
  },
  VMB2016: {
    severity: 'error',
    title: 'unknown gateway prefix',
    message: 'threshold prefix "{name}" is not a gateway of the scenario',
    hint: 'gateways: {known}',
  },
  VMB2017: {
    severity: 'warning',
    title: 'unknown upstream model',
    message: 'provider "{provider}" has no model "{model}"',
    hint: '[did you mean "{suggestion}"? ]models: {known}',
  },
  VMB2018: { severity: 'error', title: 'bad table', message: 'routing table {path}: {detail}', hint: 'build it with vmc build --out DIR' },
  VMB2019: {
    severity: 'error',
    title: 'all weights zero',
    message: 'every workload weight is 0',
    hint: 'give at least one entry a weight > 0',
  },
  VMB2020: {
    severity: 'warning',
    title: 'baseline unavailable',
    message: 'baseline: {detail}',
    hint: 'the baseline calls the simulated providers directly; it needs a config or table',
  },
  VMB2021: { severity: 'error', title: 'phase keys', message: '{mode} phase needs "{key}"', hint: 'add "{key}" to the phase' },
  VMB2022: {
    severity: 'error',
    title: 'bad distribution',
    message: '{context}: {detail}',
    hint: 'a number, { p50, p99 } with p99 ≥ p50, or { min, max } with max ≥ min',
  },
} as const satisfies Record<string, CatalogEntry>;

export type BenchDiagnosticCode = keyof typeof BENCH_DIAGNOSTICS;

/** A scenario diagnostic: the compiler's Diagnostic shape with a VMB code. */
export interface BenchDiagnostic {
  code: BenchDiagnosticCode | string;
  severity: Severity;
  file: string;
  start: number;
  end: number;
  message: string;
  hint: string;
  related?: Diagnostic['related'];
}

export interface Span {
  file: string;
  start: number;
  end: number;
}

/** The log every scenario check records into. */
export class BenchDiagnosticLog {
  readonly items: BenchDiagnostic[] = [];

  report(code: BenchDiagnosticCode, span: Span, args: Record<string, string | number> = {}): void {
    const e: CatalogEntry = BENCH_DIAGNOSTICS[code];
    this.items.push({
      code,
      severity: e.severity,
      file: span.file,
      start: span.start,
      end: span.end,
      message: renderTemplate(e.message, args),
      hint: renderTemplate(e.hint, args),
    });
  }

  /** Adds diagnostics of another source (e.g. the compiler's, for the gateway config). */
  add(d: BenchDiagnostic | Diagnostic): void {
    this.items.push(d as BenchDiagnostic);
  }

  hasErrors(): boolean {
    return this.items.some((d) => d.severity === 'error');
  }

  sorted(): BenchDiagnostic[] {
    return [...this.items].sort((a, b) =>
      a.file < b.file ? -1 : a.file > b.file ? 1 : a.start - b.start || (a.code < b.code ? -1 : a.code > b.code ? 1 : 0),
    );
  }
}

/** Prints diagnostics with the compiler's printers (same text, json and github formats). */
export function formatBenchDiagnostics(
  diags: readonly BenchDiagnostic[],
  format: 'text' | 'json' | 'github',
  sources: Map<string, string>,
  cwd = process.cwd(),
): string {
  // The compiler's printer reads `code` as a string; its type lists the VMC codes only.
  return formatCompilerDiagnostics(diags as unknown as Diagnostic[], format, sources, cwd);
}
