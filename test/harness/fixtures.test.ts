/**
 * Every example scenario in fixtures/bench/ (one per feature: docs/bench.md lists them) runs
 * from a clean checkout with a short `--duration` and `--warmup`: it must not be "trouble" (exit 2) and must
 * write a results.json with one entry per threshold. Whether its thresholds hold on a busy
 * test machine is not the point here (latency budgets are machine-dependent); the routing
 * checks of these scenarios are asserted in e2e.test.ts and the unit tests.
 *
 * `url.yaml` targets a gateway that is already running on fixed ports; the test starts one on
 * free ports and runs a copy of the scenario rewritten to them.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../bench/harness/proc.js';

const run = promisify(execFile);
const CLI = resolve('bin/vmc.js');
const DIR = resolve('fixtures/bench');
const tmp = mkdtempSync(join(tmpdir(), 'vmc-bench-fixtures-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const SCENARIOS = readdirSync(DIR).filter((f) => /\.(ya?ml|ts)$/.test(f) && f !== 'vmc.yaml');

async function bench(path: string, out: string): Promise<{ code: number; output: string }> {
  try {
    const r = await run(process.execPath, [CLI, 'bench', path, '--duration', '0.5', '--warmup', '0.2', '--out', out], {
      timeout: 90_000,
      maxBuffer: 32 << 20,
    });
    return { code: 0, output: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, output: `${e.stdout}${e.stderr}` };
  }
}

/** A copy of url.yaml on free ports, and a vmc serve there pointed at the simulated providers. */
async function urlScenario(): Promise<{ path: string; stop: () => void }> {
  const [gw, openai, anthropic] = [await freePort(), await freePort(), await freePort()];
  const text = readFileSync(join(DIR, 'url.yaml'), 'utf8')
    .replace('18080', String(gw))
    .replace('18091', String(openai))
    .replace('18092', String(anthropic))
    .replace('./vmc.yaml', join(DIR, 'vmc.yaml'));
  const path = join(tmp, 'url.yaml');
  writeFileSync(path, text);
  await run(process.execPath, [CLI, 'build', join(DIR, 'vmc.yaml'), '--out', join(tmp, 'build')]);
  const child = spawn(
    process.execPath,
    [
      CLI,
      'serve',
      '--table',
      join(tmp, 'build', 'table.vmct'),
      '--port',
      String(gw),
      '--no-watch',
      '--state-dir',
      join(tmp, 'state'),
      '--provider-url',
      `openai=http://127.0.0.1:${openai}/v1`,
      '--provider-url',
      `anthropic=http://127.0.0.1:${anthropic}`,
    ],
    { stdio: 'ignore', env: { ...process.env, VMC_LOG: 'warn' } },
  );
  for (let i = 0; i < 100; i++) {
    const up = await fetch(`http://127.0.0.1:${gw}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return { path, stop: () => child.kill('SIGTERM') };
}

describe('example scenarios (fixtures/bench)', () => {
  it('there is one per feature', () => {
    expect(SCENARIOS.sort()).toEqual(
      [
        'access.yaml',
        'basic.yaml',
        'cooldown.yaml',
        'clouds.yaml',
        'failover.yaml',
        'fault-kinds.yaml',
        'load-shapes.yaml',
        'scenario.ts',
        'side-by-side.yaml',
        'sticky.yaml',
        'streams.yaml',
        'sweep.yaml',
        'trace.yaml',
        'url.yaml',
      ].sort(),
    );
  });

  it('each runs with a short --duration and writes results.json', async () => {
    const url = await urlScenario();
    const queue = SCENARIOS.map((f) => (f === 'url.yaml' ? url.path : join(DIR, f)));
    const failures: string[] = [];
    const worker = async () => {
      for (let p = queue.shift(); p !== undefined; p = queue.shift()) {
        const name = p.replace(/^.*\//, '');
        const out = join(tmp, `out-${name}`);
        const r = await bench(p, out);
        if (r.code !== 0 && r.code !== 1) {
          failures.push(`${name}: exit ${r.code}\n${r.output}`);
          continue;
        }
        const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
        const scenarioText = readFileSync(p, 'utf8');
        const ran =
          results.metrics.requests > 0 ||
          (results.sweep?.length ?? 0) > 0 ||
          Object.values(results.gateways as Record<string, { metrics: { requests?: number } }>).some((g) => (g.metrics.requests ?? 0) > 0);
        if (results.version !== 1 || results.exit_code !== r.code || !ran)
          failures.push(`${name}: results.json ${JSON.stringify(results).slice(0, 300)}`);
        const declared = (scenarioText.match(/^\s*- "[^"]+"|'[^']+',?\s*(\]|$)/gm) ?? []).length;
        if (!name.endsWith('.ts') && results.thresholds.length !== declared)
          failures.push(`${name}: ${results.thresholds.length} thresholds, scenario has ${declared}`);
      }
    };
    try {
      await Promise.all([worker(), worker()]);
    } finally {
      url.stop();
    }
    expect(failures).toEqual([]);
  }, 240_000);
});
