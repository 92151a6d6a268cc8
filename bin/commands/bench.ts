/** `vmc bench` (SPEC §11): the load-test harness; the work is in bench/harness/. */
import { parseArgs } from 'node:util';
import { benchMain, type BenchFormat } from '../../bench/harness/main.js';
import { UsageError } from '../args.js';

export const BENCH_USAGE = `usage: vmc bench SCENARIO [--out DIR] [--format text|json|markdown|github] [--duration SECONDS] [--rate RPS] [--seed N] [--warmup SECONDS]

Runs a declarative load test of a routing config (YAML or TypeScript scenario; schema in
schemas/scenario.schema.json): simulated providers with declared faults, the gateway,
load phases, the routing contract from the compiled table, and thresholds.

  --out DIR        write results.json, report.md and report.html
  --format F       text (default), json (the content of results.json), markdown, github (annotations)
  --duration S     replace every phase's duration
  --rate RPS       replace every rate phase's rate
  --seed N         fix the workload mix, fault sampling and latency sampling
  --warmup S       replace warmup_s (unmeasured closed-loop load before each gateway's phases)

exit codes: 0 every threshold held, 1 a threshold failed, 2 trouble (invalid scenario, a
process that did not start, the load generator unable to reach the asked rate).
See docs/bench.md.
`;

const FORMATS: BenchFormat[] = ['text', 'json', 'markdown', 'github'];

function positive(v: string | undefined, name: string, integer = false): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n)) || (!integer && n === 0)) {
    throw new UsageError(`${name} must be a ${integer ? 'non-negative integer' : 'positive number'} (got ${v})`);
  }
  return n;
}

export async function runBench(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      out: { type: 'string', short: 'o' },
      format: { type: 'string', short: 'f' },
      duration: { type: 'string' },
      rate: { type: 'string' },
      seed: { type: 'string' },
      warmup: { type: 'string' },
    },
  });
  if (positionals.length !== 1) throw new UsageError('name one scenario file');
  const format = (values.format ?? 'text') as BenchFormat;
  if (!FORMATS.includes(format)) throw new UsageError(`--format must be text, json, markdown or github (got ${values.format})`);
  return benchMain({
    scenario: positionals[0],
    out: values.out ?? null,
    format,
    overrides: {
      durationS: positive(values.duration, '--duration'),
      rate: positive(values.rate, '--rate'),
      seed: positive(values.seed, '--seed', true),
      warmupS: values.warmup === '0' ? 0 : positive(values.warmup, '--warmup'),
    },
  });
}
