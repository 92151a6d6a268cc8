/**
 * Logging (runtime/log.ts): levels, line shape, and that logging cannot take the process down
 * — a sink that throws loses its line only, and a `vmc serve` whose stderr reader goes away
 * (EPIPE on every later log line) keeps serving and still drains and exits 0 on SIGTERM.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildTableFromYaml } from '../../compiler/testing.js';
import { createLogger, parseLogLevel } from '../../runtime/log.js';
import { ENGINES, ensureDist, ROOT, waitFor } from './http/engines.js';
import { freePort } from '../../bench/harness/proc.js';

describe('logger', () => {
  it('writes one JSON object per line, with the fields', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'info', sink: (l) => lines.push(l) });
    log.info('hello', { a: 1, err: new Error('boom') });
    log.request({ method: 'GET', path: '/x', status: 200, virtual_model: null, target: null, attempts: 0, ms: 1.5 });
    const [first, second] = lines.map((l) => JSON.parse(l));
    expect(first).toMatchObject({ level: 'info', msg: 'hello', a: 1, err: 'boom' });
    expect(typeof first.ts).toBe('string');
    expect(second).toMatchObject({ msg: 'request', path: '/x', status: 200 });
  });

  it('levels: warn drops info, silent drops everything, errors print at warn', () => {
    const lines: string[] = [];
    const warn = createLogger({ level: 'warn', sink: (l) => lines.push(l) });
    warn.info('no');
    warn.error('yes');
    createLogger({ level: 'silent', sink: (l) => lines.push(l) }).error('no');
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(['yes']);
    expect(parseLogLevel('bogus')).toBe('info');
  });

  it('a sink that throws loses the line, not the caller', () => {
    const log = createLogger({
      level: 'info',
      sink: () => {
        throw new Error('EPIPE');
      },
    });
    expect(() => log.error('x', { y: 1 })).not.toThrow();
  });
});

describe.each(ENGINES)('vmc serve with a broken stderr (%s engine)', (engine) => {
  it('keeps serving after its stderr reader went away, and drains and exits 0 on SIGTERM', async () => {
    ensureDist();
    const dir = await mkdtemp(join(tmpdir(), 'vmc-epipe-'));
    try {
      const tablePath = join(dir, 'table.vmc');
      await writeFile(
        tablePath,
        await buildTableFromYaml(
          'version: 1\nproviders:\n  p0:\n    type: openai\n    base_url: http://127.0.0.1:9/v1\n    models: [m1]\nvirtual_models:\n  vm: { target: p0/m1 }\n',
        ),
      );
      const port = await freePort();
      const child = spawn(process.execPath, [join(ROOT, 'bin', 'vmc.js'), 'serve', '--table', tablePath, '--port', String(port)], {
        cwd: ROOT,
        env: { ...process.env, VMC_LOG: 'info', VMC_HTTP_ENGINE: engine },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      let err = '';
      child.stderr!.on('data', (d) => (err += d));
      await waitFor(() => err.includes('gateway listening') || child.exitCode !== null, 20_000, 'the gateway to listen');
      expect(child.exitCode).toBeNull();
      // the reader goes away: every later log line fails with EPIPE
      child.stderr!.destroy();
      for (let i = 0; i < 20; i++) {
        const r = await fetch(`http://127.0.0.1:${port}/v1/models`, { headers: { connection: 'close' } });
        expect(r.status).toBe(200); // each request writes an access line
        await r.text();
      }
      expect(child.exitCode).toBeNull();
      child.kill('SIGTERM');
      const code = await Promise.race([exit, new Promise<string>((r) => setTimeout(() => r('timeout'), 15_000))]);
      if (code === 'timeout') child.kill('SIGKILL');
      expect(code).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 40_000);
});
