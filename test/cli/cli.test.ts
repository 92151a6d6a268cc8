/**
 * The CLI as a user runs it: `node bin/vmc.js …` (the built dist/, as after `npm install`).
 */
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';

const exec = promisify(execFile);
const ROOT = resolve(__dirname, '../..');
const VMC = join(ROOT, 'bin', 'vmc.js');

async function vmc(args: string[], cwd = ROOT): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [VMC, ...args], { cwd, env: { ...process.env, NO_COLOR: '1' } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'vmc-cli-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const artifacts = async (dir: string) => ({
  table: await readFile(join(dir, 'table.vmct')),
  client: await readFile(join(dir, 'client.ts'), 'utf8'),
  manifest: await readFile(join(dir, 'manifest.json'), 'utf8'),
});

describe('vmc build', () => {
  it('writes table, client and manifest and exits 0', async () => {
    const r = await vmc(['build', 'fixtures/demo', '--out', join(tmp, 'demo')]);
    expect(r.code).toBe(0);
    const a = await artifacts(join(tmp, 'demo'));
    expect(a.table.subarray(0, 4).toString()).toBe('VMCT');
    expect(a.client.startsWith('// auto-generated')).toBe(true);
    const m = JSON.parse(a.manifest);
    expect(m.table.sha256).toHaveLength(64);
    expect(m.sources).toEqual([{ path: 'vmc.yaml', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) }]);
  });

  it('is byte-identical whatever the file order, directory or working directory', async () => {
    const files = (await readdir(join(ROOT, 'fixtures/features'))).filter((f) => f.endsWith('.yaml'));
    const copyA = join(tmp, 'copy-a', 'features');
    const copyB = join(tmp, 'somewhere', 'else', 'features');
    await cp(join(ROOT, 'fixtures/features'), copyA, { recursive: true });
    await cp(join(ROOT, 'fixtures/features'), copyB, { recursive: true });
    const shuffled = [...files].reverse();
    const r1 = await vmc(['build', ...files.map((f) => join(copyA, f)), '--out', join(tmp, 'out1')]);
    const r2 = await vmc(['build', ...shuffled.map((f) => join(copyB, f)), '--out', join(tmp, 'out2')], tmp);
    const r3 = await vmc(['build', 'features', '--out', join(tmp, 'out3')], join(tmp, 'copy-a'));
    expect([r1.code, r2.code, r3.code]).toEqual([0, 0, 0]);
    const [a, b, c] = await Promise.all([artifacts(join(tmp, 'out1')), artifacts(join(tmp, 'out2')), artifacts(join(tmp, 'out3'))]);
    expect(a.table.equals(b.table) && a.table.equals(c.table)).toBe(true);
    expect(b.client).toBe(a.client);
    expect(c.client).toBe(a.client);
    expect(b.manifest).toBe(a.manifest);
    expect(c.manifest).toBe(a.manifest);
  });

  it('fails with positioned diagnostics and exit 1 on errors', async () => {
    const r = await vmc(['build', 'fixtures/errors/vmc2001-unknown-target.yaml', '--out', join(tmp, 'bad')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/vmc2001-unknown-target\.yaml:\d+:\d+ - error VMC2001/);
  });

  it('prints GitHub Actions annotations with --format github', async () => {
    const r = await vmc(['check', 'fixtures/errors/vmc2003-redirect-cycle.yaml', '--format', 'github']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^::error file=fixtures\/errors\/vmc2003-redirect-cycle\.yaml,line=\d+,col=\d+.*title=VMC2003::/m);
  });

  it('prints JSON diagnostics with --format json and exits 0 on warnings only', async () => {
    const r = await vmc(['check', 'fixtures/errors/vmc2012-missing-api-key-env.yaml', '--format', 'json']);
    expect(r.code).toBe(0);
    const diags = JSON.parse(r.stdout);
    expect(diags).toEqual([
      expect.objectContaining({ code: 'VMC2012', severity: 'warning', line: expect.any(Number), column: expect.any(Number) }),
    ]);
  });

  it('rejects bad usage with exit 2', async () => {
    expect((await vmc(['build', 'fixtures/demo'])).code).toBe(2);
    expect((await vmc(['nonsense'])).code).toBe(2);
  });
});

describe('--ignore-warning', () => {
  // One provider without api_key_env (VMC2012) and one target listed twice (VMC2019).
  const twoWarnings = `version: 1
providers:
  p: { type: openai, base_url: https://p.example/v1, models: [m] }
virtual_models:
  pool: { targets: [{ target: p/m }, { target: p/m }] }
`;
  const codesOf = (stdout: string): string[] => JSON.parse(stdout).map((d: { code: string }) => d.code);

  it('leaves the named warnings out of check and build, and may be repeated', async () => {
    const cfg = join(tmp, 'two-warnings.yaml');
    await writeFile(cfg, twoWarnings);
    const all = await vmc(['check', cfg, '--format', 'json']);
    expect([all.code, codesOf(all.stdout)]).toEqual([0, ['VMC2012', 'VMC2019']]);
    const one = await vmc(['check', cfg, '--format', 'json', '--ignore-warning', 'VMC2012']);
    expect([one.code, codesOf(one.stdout)]).toEqual([0, ['VMC2019']]);
    const both = await vmc(['check', cfg, '--format', 'json', '--ignore-warning', 'VMC2019', '--ignore-warning', 'VMC2012']);
    expect([both.code, codesOf(both.stdout)]).toEqual([0, []]);
    const built = await vmc(['build', cfg, '--out', join(tmp, 'quiet'), '--format', 'json', '--ignore-warning', 'VMC2019']);
    expect([built.code, codesOf(built.stdout)]).toEqual([0, ['VMC2012']]);
    expect((await artifacts(join(tmp, 'quiet'))).table.subarray(0, 4).toString()).toBe('VMCT');
  });

  it('does not touch errors: they still fail the run', async () => {
    const r = await vmc(['check', 'fixtures/errors/vmc2001-unknown-target.yaml', '--format', 'json', '--ignore-warning', 'VMC2012']);
    expect([r.code, codesOf(r.stdout)]).toEqual([1, ['VMC2001']]);
  });

  it('refuses a code that is not in the catalog, or that of an error, with exit 2', async () => {
    for (const cmd of [['check'], ['build', '--out', join(tmp, 'never')]]) {
      const unknown = await vmc([...cmd, 'fixtures/demo', '--ignore-warning', 'VMC2O12']);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toContain('"VMC2O12"');
      const error = await vmc([...cmd, 'fixtures/demo', '--ignore-warning', 'VMC2001']);
      expect(error.code).toBe(2);
      expect(error.stderr).toContain('errors cannot be silenced');
    }
    await expect(readdir(join(tmp, 'never'))).rejects.toThrow();
  });
});

describe('vmc explain', () => {
  it('prints pool, shares, chosen target and fallback order from the table', async () => {
    await vmc(['build', 'fixtures/demo', '--out', join(tmp, 'ex')]);
    const r = await vmc(['explain', 'chat', '--table', join(tmp, 'ex', 'table.vmct'), '--draw', '0.9', '--json']);
    expect(r.code).toBe(0);
    const e = JSON.parse(r.stdout);
    expect(e.virtualModel).toBe('demo/chat');
    expect(e.targets.map((t: { target: string; share: number }) => [t.target, t.share])).toEqual([
      ['openai-mock/gpt-4o', 0.7],
      ['anthropic-mock/claude-sonnet-4-6', 0.3],
    ]);
    expect(e.chosen).toBe('anthropic-mock/claude-sonnet-4-6'); // draw 0.9 lands in the 30 % slice
    expect(e.fallbackOrder).toEqual(['openai-mock/gpt-4o']);
  });

  it('answers 403 for a user path outside the policy, 404 for disabled and unknown names', async () => {
    const t = join(tmp, 'ex', 'table.vmct');
    const policy = JSON.parse((await vmc(['explain', 'openai-mock/gpt-4o', '--table', t, '--user-path', '/teams', '--json'])).stdout);
    expect([policy.status, policy.httpStatus]).toEqual(['forbidden', 403]);
    const ok = JSON.parse((await vmc(['explain', 'openai-mock/gpt-4o', '--table', t, '--user-path', '/team/a/x', '--json'])).stdout);
    expect(ok.status).toBe('ok');
    const disabled = await vmc(['explain', 'legacy', '--table', t]);
    expect(disabled.code).toBe(1);
    expect(disabled.stdout).toMatch(/HTTP 404 disabled/);
    expect(JSON.parse((await vmc(['explain', 'nope', '--table', t, '--json'])).stdout).httpStatus).toBe(404);
  });
});

describe('vmc diff', () => {
  it('exits 0 for identical routing, 1 with the changed routes, 2 on trouble', async () => {
    const base = await readFile(join(ROOT, 'fixtures/demo/vmc.yaml'), 'utf8');
    await writeFile(join(tmp, 'changed.yaml'), base.replace('weight: 70', 'weight: 60'));
    await vmc(['build', 'fixtures/demo', '--out', join(tmp, 'd1')]);
    await vmc(['build', join(tmp, 'changed.yaml'), '--out', join(tmp, 'd2')]);
    expect((await vmc(['diff', join(tmp, 'd1'), join(tmp, 'd1', 'table.vmct')])).code).toBe(0);
    const r = await vmc(['diff', join(tmp, 'd1'), join(tmp, 'd2')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('~ demo/chat');
    expect(r.stdout).toContain('weight openai-mock/gpt-4o: 70 → 60');
    await writeFile(join(tmp, 'garbage.vmct'), 'not a table at all, not even close to one');
    expect((await vmc(['diff', join(tmp, 'd1'), join(tmp, 'garbage.vmct')])).code).toBe(2);
  });
});

describe('vmc fmt', () => {
  it('prints dialects in native form, and its output compiles to the same table', async () => {
    const r = await vmc(['fmt', 'fixtures/truefoundry/seed-004.yaml']);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/^\s*routing_config:/m); // (its header comment, kept, names it)
    expect(r.stdout).toContain('strategy: priority');
    await writeFile(join(tmp, 'fmt.yaml'), r.stdout);
    await vmc(['build', 'fixtures/truefoundry/seed-004.yaml', '--out', join(tmp, 'f1')]);
    await vmc(['build', join(tmp, 'fmt.yaml'), '--out', join(tmp, 'f2')]);
    const [a, b] = await Promise.all([readFile(join(tmp, 'f1', 'table.vmct')), readFile(join(tmp, 'f2', 'table.vmct'))]);
    expect(a.equals(b)).toBe(true);
  });
});

describe('vmc diff inputs and formats', () => {
  const changedConfig = async (): Promise<string> => {
    const dir = join(tmp, 'demo-changed');
    await cp(join(ROOT, 'fixtures/demo'), dir, { recursive: true });
    const file = join(dir, 'vmc.yaml');
    await writeFile(file, (await readFile(file, 'utf8')).replace('weight: 70', 'weight: 60'));
    return dir;
  };

  it('compares config directories and files in memory, and a config with its own build identically', async () => {
    const dir = await changedConfig();
    await vmc(['build', 'fixtures/demo', '--out', join(tmp, 'dx')]);
    expect((await vmc(['diff', join(tmp, 'dx'), 'fixtures/demo'])).code).toBe(0);
    expect((await vmc(['diff', 'fixtures/demo/vmc.yaml', join(tmp, 'dx', 'table.vmct')])).code).toBe(0);
    const r = await vmc(['diff', 'fixtures/demo', dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('weight openai-mock/gpt-4o: 70 → 60');
  });

  it('--format json: per virtual model and target, values before and after', async () => {
    const r = await vmc(['diff', 'fixtures/demo', await changedConfig(), '--format', 'json']);
    expect(r.code).toBe(1);
    const d = JSON.parse(r.stdout);
    expect(d.virtualModels).toEqual([
      expect.objectContaining({
        name: 'demo/chat',
        change: 'changed',
        routing: true,
        targets: [{ target: 'openai-mock/gpt-4o', change: 'changed', fields: [{ field: 'weight', before: 70, after: 60 }] }],
      }),
    ]);
    expect(JSON.parse((await vmc(['diff', 'fixtures/demo', await changedConfig(), '--json'])).stdout)).toEqual(d);
  });

  it('--format markdown: a PR comment with a row per changed virtual model', async () => {
    const r = await vmc(['diff', 'fixtures/demo', await changedConfig(), '--format', 'markdown', '--title', 'main → #1']);
    expect(r.code).toBe(1);
    expect(r.stdout.split('\n').slice(0, 2)).toEqual(['<!-- vmc-diff -->', '### main → #1']);
    expect(r.stdout).toContain('| ✏️ | `demo/chat` | weight openai-mock/gpt-4o: 70 → 60 |');
  });

  it('exit 2 with a clear message for a missing input, a config with errors, a bad format', async () => {
    const missing = await vmc(['diff', 'fixtures/demo', join(tmp, 'nowhere')]);
    expect([missing.code, missing.stderr.trim()]).toEqual([2, `vmc diff: ${join(tmp, 'nowhere')}: no such file or directory`]);
    const bad = await vmc(['diff', 'fixtures/errors/vmc2001-unknown-target.yaml', 'fixtures/demo']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/error VMC2001/);
    expect(bad.stderr).toContain('the config has errors');
    expect((await vmc(['diff', 'fixtures/demo', 'fixtures/demo', '--format', 'html'])).code).toBe(2);
  });
});

describe('GitHub annotations', () => {
  it('annotate the second location of a name defined twice too (a notice at the related place)', async () => {
    const r = await vmc(['check', 'fixtures/errors/vmc2004-duplicate-virtual-model', '--format', 'github']);
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(/^::error file=fixtures\/errors\/vmc2004-duplicate-virtual-model\/b\.yaml,line=\d+,.*title=VMC2004::/),
      expect.stringMatching(
        /^::notice file=fixtures\/errors\/vmc2004-duplicate-virtual-model\/a\.yaml,line=\d+,.*title=VMC2004 \(related\)::/,
      ),
    ]);
  });
});

describe('CLI frictions', () => {
  it('every command answers --help with its usage and exit 0', async () => {
    const overview = await vmc(['--help']);
    const commands = [...overview.stdout.matchAll(/^ {2}vmc (\w+)/gm)].map((m) => m[1]);
    expect(commands).toEqual(expect.arrayContaining(['build', 'check', 'explain', 'diff', 'fmt', 'serve', 'init', 'demo']));
    for (const cmd of commands) {
      for (const flag of ['--help', '-h']) {
        const r = await vmc([cmd, flag]);
        expect([cmd, r.code, r.stdout.startsWith(`usage: vmc ${cmd}`)]).toEqual([cmd, 0, true]);
      }
    }
  });

  it('--out naming a file is a usage error, not a stack trace', async () => {
    const file = join(tmp, 'a-file');
    await writeFile(file, 'x');
    const r = await vmc(['build', 'fixtures/demo', '--out', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--out ${file} is a file`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('a missing or unreadable table is a one-line error, exit 2', async () => {
    for (const args of [
      ['explain', 'chat', '--table', join(tmp, 'missing.vmct')],
      ['explain', 'chat', '--table', tmp],
      ['diff', join(tmp, 'missing.vmct'), join(tmp, 'missing.vmct')],
    ]) {
      const r = await vmc(args);
      expect(r.code).toBe(2);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('fmt keeps comments where their place survives, the $schema line included, and stays a fixed point', async () => {
    const src = join(tmp, 'commented.yaml');
    await writeFile(
      src,
      `# yaml-language-server: $schema=../node_modules/vmc/schemas/vmc.schema.json
version: 1
virtual_models:
  # zed comes last once sorted
  zed: { target: p/m }
  alpha:
    targets:
      # the main one
      - target: p/m # 3 out of 4
        weight: 3
      - { target: p/n, weight: 1 }
providers:
  p: { type: openai, base_url: https://p.example/v1, api_key_env: P_KEY, models: [m, n] } # one provider
`,
    );
    const r = await vmc(['fmt', src]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`# yaml-language-server: $schema=../node_modules/vmc/schemas/vmc.schema.json
version: 1
providers:
  # one provider
  p:
    type: openai
    base_url: https://p.example/v1
    api_key_env: P_KEY
    models: [m, n]
virtual_models:
  alpha:
    targets:
      # the main one
      - target: p/m # 3 out of 4
        weight: 3
      - target: p/n
  # zed comes last once sorted
  zed:
    target: p/m
`);
    const again = join(tmp, 'commented-fmt.yaml');
    await writeFile(again, r.stdout);
    expect((await vmc(['fmt', again])).stdout).toBe(r.stdout);
  });

  it('build progress: one line per phase on a pipe once past the quiet period (VMC_PROGRESS_AFTER_MS), none with -q', async () => {
    const args = [VMC, 'build', 'fixtures/demo', '--out', join(tmp, 'progress')];
    const env = { ...process.env, VMC_PROGRESS_AFTER_MS: '0' };
    const { stderr } = await exec(process.execPath, args, { cwd: ROOT, env });
    expect([...stderr.matchAll(/^vmc: ([\w-]+)… ([\d.]+)s$/gm)].map((m) => m[1])).toEqual([
      'load',
      'lower',
      'emit-client',
      'emit-manifest',
      'write',
    ]);
    const quiet = await exec(process.execPath, [...args, '-q'], { cwd: ROOT, env });
    expect(quiet.stderr).toBe('');
  });

  it.skipIf(!existsSync('/usr/bin/script'))(
    'build progress on a terminal: a bar redrawn in place, cleared before the summary',
    async () => {
      const cmd = `${process.execPath} ${VMC} build fixtures/demo --out ${join(tmp, 'progress-tty')}`;
      const { stdout } = await exec('/usr/bin/script', ['-qec', cmd, '/dev/null'], {
        cwd: ROOT,
        env: { ...process.env, VMC_PROGRESS_AFTER_MS: '0' },
      });
      expect(stdout).toMatch(/\r\x1b\[2Kvmc ▕[█░]{20}▏ \d\/5 [\w-]+ · \d+\.\ds/);
      // the last frame is erased: the summary starts on a clean line
      expect(stdout).toMatch(/\r\x1b\[2Kvmc build: 13 virtual models/);
    },
  );
});

describe('vmc init', () => {
  it('writes a config that checks clean, the workflow of docs/ci.md and a scenario; refuses to overwrite', async () => {
    const dir = join(tmp, 'init');
    const r = await vmc(['init', dir]);
    expect(r.code).toBe(0);
    const check = await vmc(['check', join(dir, 'config'), '--format', 'json']);
    expect([check.code, JSON.parse(check.stdout)]).toEqual([0, []]);
    const workflow = await readFile(join(dir, '.github/workflows/vmc.yml'), 'utf8');
    expect(await readFile(join(ROOT, 'docs/ci.md'), 'utf8')).toContain('```yaml\n' + workflow + '```\n');
    // The first line names the schema relative to the config file (no node_modules/vmc above tmp: the one vmc would be installed in).
    expect((await readFile(join(dir, 'config/vmc.yaml'), 'utf8')).split('\n')[0]).toBe(
      '# yaml-language-server: $schema=../node_modules/vmc/schemas/vmc.schema.json',
    );
    const before = await readFile(join(dir, 'config/vmc.yaml'), 'utf8');
    await writeFile(join(dir, 'config/vmc.yaml'), before + '# edited\n');
    const again = await vmc(['init', dir]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('not overwriting');
    expect(await readFile(join(dir, 'config/vmc.yaml'), 'utf8')).toBe(before + '# edited\n');
    const configOnly = await vmc(['init', join(tmp, 'init-config-only'), '--no-ci']);
    expect(configOnly.code).toBe(0);
    expect(existsSync(join(tmp, 'init-config-only', '.github'))).toBe(false);
  });

  it('the workflow is valid against SchemaStore’s github-workflow schema (and an invalid one is not)', async () => {
    const WORKFLOW = await readFile(join(ROOT, 'docs/examples/vmc-workflow.yml'), 'utf8');
    const { validateWorkflow } = await import('@action-validator/core');
    expect(parseYaml(WORKFLOW)).toMatchObject({ name: 'vmc', jobs: { build: {}, diff: {}, bench: {} } });
    expect(validateWorkflow(WORKFLOW).errors).toEqual([]);
    expect(validateWorkflow(WORKFLOW.replace('runs-on: ubuntu-latest', 'runs_on: ubuntu-latest')).errors).not.toEqual([]);
  });

  it.skipIf(!existsSync(join(ROOT, 'schemas/scenario.schema.json')))(
    'the scenario is valid against the bench scenario schema',
    async () => {
      const SCENARIO = await readFile(join(ROOT, 'docs/examples/vmc.bench.yaml'), 'utf8');
      const { Ajv } = await import('ajv');
      const schema = JSON.parse(await readFile(join(ROOT, 'schemas/scenario.schema.json'), 'utf8'));
      const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
      expect([validate(parseYaml(SCENARIO)), validate.errors ?? null]).toEqual([true, null]);
    },
  );
});

describe('renderProgress (the terminal line)', () => {
  it('a bar over the phases, the phase, its counts when reported, the elapsed time; never wider than the terminal', async () => {
    const { renderProgress } = await import('../../bin/progress.js');
    const state = { phase: 'normalize', index: 1, phases: 4, counts: { done: 60_000, total: 100_000, unit: 'models normalized' } };
    expect(renderProgress(state, 3_140, 120)).toBe('vmc ▕████████░░░░░░░░░░░░▏ 2/4 normalize · models normalized 60,000/100,000 · 3.1s');
    expect(renderProgress({ ...state, counts: { done: 8, unit: 'files loaded' } }, 500, 120)).toBe(
      'vmc ▕█████░░░░░░░░░░░░░░░▏ 2/4 normalize · files loaded 8 · 0.5s',
    );
    expect(renderProgress(state, 3_140, 40)).toHaveLength(39);
  });
});
