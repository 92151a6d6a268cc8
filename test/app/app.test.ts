/**
 * vmc as an app installs it (issue 14, SPEC §15): the packed tarball, installed into a fresh
 * app, builds a config with the installed `vmc`, and the app's code using `typedOpenAI`
 * type-checks under the strict flags with TypeScript 5.9 and 7 — valid names pass, a typo fails
 * on its line.
 *
 * The install is done the fast way by default: `npm pack` (the real packing: `files`, `bin`,
 * `exports`), the tarball unpacked as node_modules/vmc, and each of its declared `dependencies`
 * (only those: not devDependencies, not the optional uWebSockets.js peer) linked from this
 * repository's node_modules — so a file missing from the package, or a module the package
 * imports without declaring it, fails here as it would for a user. The SDK is linked the same
 * way, as the app's own dependency. `VMC_TEST_NPM_INSTALL=1` installs the tarball with npm
 * instead (needs the registry or a warm cache; slower).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '../..');
const NPM_INSTALL = process.env.VMC_TEST_NPM_INSTALL === '1';
const UWS = '@trufflesuite/uws-js-unofficial';

let work: string;
let app: string;
let packed: { files: { path: string }[]; filename: string };

/** Runs the installed CLI the way `npx vmc` does: the package's bin, from the app folder. */
async function vmc(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(app, 'node_modules', '.bin', 'vmc'), ...args], { cwd: app });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

async function link(name: string): Promise<void> {
  const to = join(app, 'node_modules', name);
  await mkdir(dirname(to), { recursive: true });
  await symlink(join(ROOT, 'node_modules', name), to, 'dir');
}

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist', 'bin', 'cli.js'))) throw new Error('dist/ is missing: run `npx tsc -p tsconfig.build.json` first');
  work = await mkdtemp(join(tmpdir(), 'vmc-app-'));
  app = join(work, 'app');
  await mkdir(join(app, 'node_modules', '.bin'), { recursive: true });
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  // --ignore-scripts: `prepare` would rebuild (and first delete) dist/; npm test has just built it.
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: ROOT });
  packed = (JSON.parse(stdout) as (typeof packed)[])[0];
  const tarball = join(work, packed.filename);
  if (NPM_INSTALL) {
    await run('npm', ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: app });
  } else {
    await mkdir(join(app, 'node_modules', 'vmc'));
    await run('tar', ['xzf', tarball, '-C', join(app, 'node_modules', 'vmc'), '--strip-components=1']);
    const pkg = JSON.parse(await readFile(join(app, 'node_modules', 'vmc', 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    for (const name of Object.keys(pkg.dependencies)) await link(name);
    await symlink('../vmc/bin/vmc.js', join(app, 'node_modules', '.bin', 'vmc'));
  }
  await link('openai'); // the app's own dependency
}, 120_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('ships the CLI, the built code with types, the schemas and the docs; no tests, no sources of the repo tooling', () => {
    const files = new Set(packed.files.map((f) => f.path));
    for (const f of [
      'bin/vmc.js',
      'dist/bin/cli.js',
      'dist/compiler/public.js',
      'dist/compiler/public.d.ts',
      'schemas/vmc.schema.json',
      'docs/ci.md',
      'README.md',
    ]) {
      expect(files, f).toContain(f);
    }
    expect([...files].filter((f) => f.startsWith('test/') || f.startsWith('node_modules/'))).toEqual([]);
  });

  it('leaves the native gateway engine out of an app install (optional peer dependency)', () => {
    const pkg = JSON.parse(readFileSync(join(app, 'node_modules', 'vmc', 'package.json'), 'utf8')) as Record<
      string,
      Record<string, unknown>
    >;
    expect(Object.keys(pkg.dependencies)).not.toContain(UWS);
    expect(pkg.peerDependenciesMeta[UWS]).toEqual({ optional: true });
    expect(existsSync(join(app, 'node_modules', UWS))).toBe(false);
  });
});

describe('an app using the installed vmc', () => {
  beforeAll(async () => {
    const init = await vmc(['init', '.']);
    expect(init.code).toBe(0);
    // A TypeScript config next to the YAML one: `import from 'vmc'` resolves through the exports map.
    await writeFile(
      join(app, 'config', 'more.ts'),
      `import { defineConfig } from 'vmc';\nexport default defineConfig({ version: 1, virtual_models: { 'booking/gpt-prod': { slug: 'gpt-prod', target: 'openai/gpt-4o' } } });\n`,
    );
    const built = await vmc(['build', 'config', '--out', 'build']);
    expect(built.stderr).toContain('3 virtual models');
    expect(built.code).toBe(0);
  }, 60_000);

  it('`vmc init` points the config at the installed schema, relative to the config file (as yaml-language-server resolves it)', async () => {
    const first = (await readFile(join(app, 'config', 'vmc.yaml'), 'utf8')).split('\n')[0];
    const m = /^# yaml-language-server: \$schema=(.+)$/.exec(first);
    expect(m?.[1]).toBe('../node_modules/vmc/schemas/vmc.schema.json');
    expect(existsSync(resolve(app, 'config', m![1]))).toBe(true);
    expect(existsSync(join(app, '.github', 'workflows', 'vmc.yml'))).toBe(true);
  });

  it('exports the schema as vmc/schema.json', async () => {
    const { stdout } = await run(
      process.execPath,
      ['--input-type=module', '-e', "import s from 'vmc/schema.json' with { type: 'json' }; process.stdout.write(s.title)"],
      {
        cwd: app,
      },
    );
    expect(stdout).toBe(JSON.parse(readFileSync(join(ROOT, 'schemas', 'vmc.schema.json'), 'utf8')).title);
  });

  it('serves the built table without the native engine (node:http), from the installed package', async () => {
    const child = spawn(
      process.execPath,
      [join(app, 'node_modules', '.bin', 'vmc'), 'serve', '--table', 'build/table.vmct', '--port', '0'],
      {
        cwd: app,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, VMC_HTTP_ENGINE: '' },
      },
    );
    try {
      const port = await new Promise<number>((resolvePort, reject) => {
        let seen = '';
        const timer = setTimeout(() => reject(new Error(`vmc serve did not start: ${seen}`)), 20_000);
        const onData = (chunk: Buffer): void => {
          seen += chunk.toString();
          const line = seen.split('\n').find((l) => l.includes('"gateway listening"'));
          if (line) {
            clearTimeout(timer);
            resolvePort((JSON.parse(line) as { port: number }).port);
          }
        };
        child.stdout.on('data', onData);
        child.stderr.on('data', onData);
        child.on('exit', (code) => reject(new Error(`vmc serve exited ${code}: ${seen}`)));
      });
      const health = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { status: string; http_engine: string };
      expect([health.status, health.http_engine]).toEqual(['ok', 'node']);
    } finally {
      child.kill('SIGTERM');
    }
  }, 30_000);

  const USE = (model: string): string => `import OpenAI from 'openai';
import { typedOpenAI, withRoute } from './build/client.ts';

const openai = typedOpenAI(new OpenAI({ baseURL: 'http://127.0.0.1:8080/v1', apiKey: 'unused' }));
export async function ask(): Promise<string | null | undefined> {
  const { data, route } = await withRoute(openai.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }));
  console.log(route.target);
  const r = await openai.chat.completions.create({ model: ${JSON.stringify(model)}, messages: [] });
  return data.choices[0]?.message.content ?? r.choices[0]?.message.content;
}
`;
  const TSCONFIG = {
    compilerOptions: {
      target: 'es2022',
      module: 'nodenext',
      noEmit: true,
      allowImportingTsExtensions: true,
      strict: true,
      exactOptionalPropertyTypes: true,
      noUncheckedIndexedAccess: true,
      verbatimModuleSyntax: true,
      erasableSyntaxOnly: true,
      skipLibCheck: true,
      types: [],
    },
    files: ['app.ts'],
  };

  it.each([
    ['TypeScript 5.9', 'typescript5'],
    ['TypeScript 7', 'typescript'],
  ])(
    '%s: valid names type-check, a typo fails on its line',
    async (_, pkg) => {
      const tsc = join(ROOT, 'node_modules', pkg, 'bin', 'tsc');
      await writeFile(join(app, 'tsconfig.json'), JSON.stringify(TSCONFIG));
      await writeFile(join(app, 'app.ts'), USE('gpt-prod'));
      await expect(run(process.execPath, [tsc, '-p', '.'], { cwd: app })).resolves.toBeTruthy();
      await writeFile(join(app, 'app.ts'), USE('gpt-prdo'));
      const failed = await run(process.execPath, [tsc, '-p', '.'], { cwd: app }).then(
        () => '',
        (err: { stdout: string }) => err.stdout,
      );
      expect(failed.split('\n').filter((l) => /error TS/.test(l))).toEqual([expect.stringMatching(/^app\.ts\(8,\d+\): error TS2769/)]);
      expect(failed).toContain('"gpt-prdo"');
    },
    60_000,
  );
});
