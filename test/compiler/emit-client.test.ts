import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { emitClient } from '../../compiler/emit-client.js';
import { config, target, vm } from '../support/norm.js';

const run = promisify(execFile);
const TSC = join(process.cwd(), 'node_modules', '.bin', 'tsc');

const cfg = config([
  vm('regular', [target('anthropic/claude-sonnet-4-6')], { description: 'alias', modelTypes: ['chat'] }),
  vm('booking-app/gpt-prod', [target('openai/gpt-4o', { weight: 70 }), target('anthropic/claude-opus-4-6', { weight: 30 })], {
    slug: 'gpt-prod',
  }),
]);

/** Type-check `usage` against the generated client with the pinned tsc; returns tsc's output and exit code. */
async function typecheck(usage: string): Promise<{ code: number; output: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'vmc-client-'));
  try {
    await writeFile(join(dir, 'client.ts'), emitClient(cfg, 'ab'.repeat(32)));
    await writeFile(join(dir, 'app.ts'), usage);
    const args = [
      '--noEmit',
      '--strict',
      '--target',
      'es2022',
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--lib',
      'es2022,dom',
      '--types',
      '',
      'app.ts',
    ];
    try {
      const { stdout } = await run(TSC, args, { cwd: dir });
      return { code: 0, output: stdout };
    } catch (err) {
      const e = err as { code: number; stdout: string };
      return { code: e.code, output: e.stdout };
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const app = (model: string): string => `
import { VmcClient, VIRTUAL_MODELS, type VirtualModelName } from './client.js';
const client = new VmcClient({ baseURL: 'http://127.0.0.1:8080' });
export const name: VirtualModelName = 'gpt-prod';
export const strategy: 'weighted' = VIRTUAL_MODELS['booking-app/gpt-prod'].strategy;
export const call = () => client.chatCompletions({ model: ${JSON.stringify(model)}, messages: [{ role: 'user', content: 'hi' }] });
`;

describe('typed client', () => {
  it('is deterministic and carries the auto-generated header', () => {
    const a = emitClient(cfg, 'ab'.repeat(32));
    expect(a).toBe(emitClient(structuredClone(cfg), 'ab'.repeat(32)));
    expect(a.startsWith('// auto-generated')).toBe(true);
    expect(a).toContain('| "booking-app/gpt-prod"');
    expect(a).toContain('| "gpt-prod"');
  });

  it.each([['regular'], ['gpt-prod'], ['booking-app/gpt-prod'], ['openai/gpt-4o']])('accepts the valid name %s', async (model) => {
    const r = await typecheck(app(model));
    expect(r.output).toBe('');
    expect(r.code).toBe(0);
  });

  it('rejects a misspelled name at compile time', async () => {
    const r = await typecheck(app('reguler'));
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/app\.ts\(6,\d+\): error TS(2322|2820)/);
    expect(r.output).toContain('"reguler"');
  });
});
