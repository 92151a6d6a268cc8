/**
 * `vmc bench` end to end (SPEC §11): the real CLI, a real gateway (`vmc serve`), real
 * simulated providers and the real load generator, all on 127.0.0.1 with ephemeral ports.
 *
 * The headline check: the same scenario exits 0, and exits 1 once a declared fault breaks a
 * share threshold — the fault is partial (60 % of openai's answers are 503), so the table's
 * expected shares stay 70/30 while the gateway's retries and fallbacks move traffic to
 * anthropic, and the observed shares drift far past the threshold.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const CLI = resolve('bin/vmc.js');
const CONFIG = resolve('fixtures/bench/vmc.yaml');
const tmp = mkdtempSync(join(tmpdir(), 'vmc-bench-e2e-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs `vmc bench` and resolves with its exit code and output (never rejects on exit 1/2). */
export async function bench(args: string[], timeoutMs = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [CLI, 'bench', ...args], { timeout: timeoutMs, maxBuffer: 32 << 20 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

function scenario(name: string, faults: string): string {
  const path = join(tmp, `${name}.yaml`);
  writeFileSync(
    path,
    `bench: 1
name: ${name}
gateway: { config: ${JSON.stringify(CONFIG)} }
providers:
  openai:
    ttft_ms: 1
    faults: ${faults}
  anthropic: { ttft_ms: 1 }
workload:
  - { model: chat, weight: 3 }
  - { model: chat, stream: true }
load:
  - { mode: rate, rate: 150, duration_s: 2 }
warmup_s: 0.5
baseline: true
thresholds:
  - "routing.share_error_pp < 8"
  - "errors.rate < 0.05"
  - "requests > 0"
`,
  );
  return path;
}

describe('vmc bench end to end', () => {
  it('exits 0 when the thresholds hold and 1 when a declared fault breaks a share threshold', async () => {
    const healthy = await bench([scenario('healthy', '[]'), '--out', join(tmp, 'healthy'), '--seed', '7']);
    expect(healthy.stderr).not.toMatch(/trouble/);
    expect(healthy.code, healthy.stderr + healthy.stdout).toBe(0);
    const ok = JSON.parse(readFileSync(join(tmp, 'healthy', 'results.json'), 'utf8'));
    expect(ok.version).toBe(1);
    expect(ok.exit_code).toBe(0);
    expect(ok.thresholds.map((t: { expr: string }) => t.expr)).toEqual([
      'routing.share_error_pp < 8',
      'errors.rate < 0.05',
      'requests > 0',
    ]);
    expect(ok.thresholds.every((t: { ok: boolean }) => t.ok)).toBe(true);
    expect(ok.metrics.requests).toBe(300);
    expect(ok.routing.chat['openai/gpt-4o'].expected).toBeCloseTo(0.7, 10);
    expect(ok.routing.chat['anthropic/claude-sonnet-4-6'].expected).toBeCloseTo(0.3, 10);
    for (const name of [
      'latency.p50_ms',
      'latency.p99_ms',
      'latency.p999_ms',
      'ttft.p50_ms',
      'overhead.p50_ms',
      'overhead.p99_ms',
      'attempts.mean',
      'fallback.rate',
      'routing.share_ok',
      'gateway.cpu_us_per_req',
      'gateway.rss_mb',
    ]) {
      expect(ok.metrics, name).toHaveProperty([name]);
    }
    expect(ok.metrics['attempts.mean']).toBe(1);

    const broken = await bench([scenario('broken', '[{ status: 503, rate: 0.6 }]'), '--out', join(tmp, 'broken'), '--seed', '7']);
    expect(broken.code, broken.stderr + broken.stdout).toBe(1);
    const bad = JSON.parse(readFileSync(join(tmp, 'broken', 'results.json'), 'utf8'));
    const share = bad.thresholds.find((t: { expr: string }) => t.expr === 'routing.share_error_pp < 8');
    expect(share.ok).toBe(false);
    expect(share.value).toBeGreaterThan(8);
    // Partial faults leave expected shares unchanged (SPEC §11); the observed ones moved.
    expect(bad.routing.chat['openai/gpt-4o'].expected).toBeCloseTo(0.7, 10);
    expect(bad.routing.chat['openai/gpt-4o'].observed).toBeLessThan(0.6);
    expect(bad.metrics['attempts.max']).toBeGreaterThanOrEqual(2); // retries and fallbacks happened
    expect(broken.stdout).toMatch(/FAIL {2}routing\.share_error_pp < 8/);
  });

  it('report.html renders its charts offline in a real browser (Debian chromium), with no console error', async () => {
    const html = join(tmp, 'healthy', 'report.html');
    const text = readFileSync(html, 'utf8');
    expect(text).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org|vega\.github\.io)/);
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    try {
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(m.text());
      });
      page.on('pageerror', (e) => problems.push(String(e)));
      page.on('request', (r) => {
        if (!r.url().startsWith('file:')) problems.push(`network request: ${r.url()}`);
      });
      await page.goto(pathToFileURL(html).href);
      for (const id of ['latency-percentiles', 'latency-over-time', 'throughput', 'shares']) {
        const svg = page.locator(`#${id} svg`);
        expect(await svg.count(), id).toBe(1);
        const box = await svg.boundingBox();
        expect(box!.width, id).toBeGreaterThan(200);
        expect(box!.height, id).toBeGreaterThan(100);
        // marks were drawn: lines or bars, not just axes
        expect(
          await page.locator(`#${id} svg .mark-line path, #${id} svg .mark-rect path, #${id} svg .mark-symbol path`).count(),
          id,
        ).toBeGreaterThan(0);
      }
      expect(await page.locator('text=routing.share_error_pp < 8').count()).toBeGreaterThan(0);
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  });

  it('prints results.json with --format json, annotations with --format github', async () => {
    const path = join(tmp, 'formats.yaml');
    writeFileSync(
      path,
      `bench: 1\ngateway: { config: ${JSON.stringify(CONFIG)} }\nworkload:\n  - { model: fast }\nload:\n  - { mode: closed, connections: 4, duration_s: 1 }\nwarmup_s: 0.2\nthresholds:\n  - "errors.rate < 0.01"\n  - "ttft.p50_ms < 1000"\n`,
    );
    const json = await bench([path, '--format', 'json', '--duration', '0.5']);
    expect(json.code, json.stderr).toBe(1); // ttft.* has no value without streams: ok false, value null
    const r = JSON.parse(json.stdout);
    expect(r.thresholds[1]).toEqual({ expr: 'ttft.p50_ms < 1000', value: null, ok: false });
    expect(r.metrics).not.toHaveProperty(['ttft.p50_ms']);
    const gh = await bench([path, '--format', 'github', '--duration', '0.5']);
    expect(gh.code, gh.stderr).toBe(1);
    expect(gh.stdout).toMatch(
      new RegExp(`^::error file=.*formats\\.yaml,line=10,col=5,title=vmc bench threshold::ttft\\.p50_ms < 1000 failed`, 'm'),
    );
  });

  it('a gateway given by url: with pid_file has its CPU and memory measured; a stale pid file is a clear error', async () => {
    // a stand-in gateway process of our own (any OpenAI-compatible server will do) with its pid in a file
    const gw = spawn(
      process.execPath,
      [
        '-e',
        `const b = JSON.stringify({ id: 'c', object: 'chat.completion', created: 0, model: 'm', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'hi' } }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } });
         const s = require('node:http').createServer((q, r) => { q.resume(); q.on('end', () => r.writeHead(200, { 'content-type': 'application/json' }).end(b)); });
         s.listen(0, '127.0.0.1', () => console.log(s.address().port));
         setTimeout(() => process.exit(0), 60_000).unref();`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      const port = await new Promise<number>((ok) => gw.stdout!.once('data', (d) => ok(Number(String(d).trim()))));
      writeFileSync(join(tmp, 'gw.pid'), `${gw.pid}\n`);
      const path = join(tmp, 'pid-file.yaml');
      const text = (pidFile: string) =>
        `bench: 1\ngateway: { url: http://127.0.0.1:${port}, pid_file: ${pidFile} }\nproviders:\n  p: { type: openai }\nworkload:\n  - { model: m }\nload:\n  - { mode: closed, connections: 4, duration_s: 1 }\nwarmup_s: 0.2\nthresholds:\n  - "errors.rate == 0"\n  - "gateway.cpu_us_per_req > 0"\n`;
      writeFileSync(path, text('./gw.pid'));
      const r = await bench([path, '--format', 'json', '--duration', '0.5']);
      expect(r.code, r.stderr).toBe(0);
      const res = JSON.parse(r.stdout);
      expect(res.metrics['gateway.cpu_us_per_req']).toBeGreaterThan(0);
      expect(res.metrics['gateway.rss_mb']).toBeGreaterThan(0);
      writeFileSync(path, text('./missing.pid'));
      const bad = await bench([path]);
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toMatch(/pid_file .*missing\.pid: ENOENT/);
    } finally {
      gw.kill('SIGKILL');
    }
  });

  /**
   * A healthy run of a cloud provider fixture (JSON and streamed chat to `model`) through a
   * harness-started gateway: exit 0, no errors; resolves with results.json and the output.
   */
  async function cloudRun(name: string, model: string, rate: number, extra = '') {
    const path = join(tmp, `${name}.yaml`);
    writeFileSync(
      path,
      `bench: 1
name: ${name}
gateway: { config: ${JSON.stringify(resolve(`fixtures/features/providers-${name}.yaml`))} }
workload:
  - { model: ${model}, weight: 2 }
  - { model: ${model}, stream: true }
load:
  - { mode: rate, rate: ${rate}, duration_s: 1 }
thresholds:
  - "errors.rate == 0"
${extra}`,
    );
    const r = await bench([path, '--out', join(tmp, name), '--seed', '3']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const res = JSON.parse(readFileSync(join(tmp, name, 'results.json'), 'utf8'));
    expect(res.metrics.requests).toBe(rate);
    expect(res.metrics['errors.rate']).toBe(0);
    return { res, output: r.stdout + r.stderr };
  }

  it('Vertex AI providers are simulated: the gateway gets a service-account file whose token_uri is the simulator, and its OAuth exchange and generateContent calls succeed', async () => {
    const { res, output } = await cloudRun('vertex', 'google/chat', 60);
    // priority 0 is the first target: every answer came from it
    expect(res.routing['google/chat']['vertex/gemini-2.5-flash'].observed).toBe(1);
    // the credentials file is the run's own; no key leaves it
    expect(output).not.toMatch(/PRIVATE KEY/);
  });

  it('Bedrock providers are simulated: requests are SigV4-signed with run-only credentials, streams answered in event-stream frames', async () => {
    // (the simulator refuses unsigned requests: no errors means every request was signed)
    const { res } = await cloudRun('bedrock', 'bedrock/claude', 200, 'baseline: true\n');
    const shares = res.routing['bedrock/claude'];
    expect(shares['bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0'].expected).toBeCloseTo(0.8, 10);
    expect(shares['bedrock-eu/eu.anthropic.claude-3-5-sonnet-20240620-v1:0'].observed).toBeGreaterThan(0);
  });

  it('exits 2 on an invalid scenario, with the diagnostic at its position', async () => {
    const path = join(tmp, 'invalid.yaml');
    writeFileSync(
      path,
      `bench: 1\ngateway: { config: ${JSON.stringify(CONFIG)} }\nworkload:\n  - { model: chat }\nload:\n  - { mode: rate, rate: 10, duration_s: 1 }\nthresholds:\n  - "latency.p98_ms < 5"\n`,
    );
    const r = await bench([path]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/invalid\.yaml:8:5 - error VMB2005/);
  });
});
