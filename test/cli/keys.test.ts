/**
 * `vmc keys` (SPEC §12) as a process: create prints the key once on stdout and stores only its
 * hash (creating the file), refuses an existing id (exit 1); list shows no hashes; revoke
 * disables; an invalid keys file is reported with positions (exit 1).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseKeysFile } from '../../runtime/keys/file.js';
import { ensureBuilt, ROOT } from '../runtime/fixtures/gateway-process.js';

let dir: string;
beforeAll(async () => {
  ensureBuilt();
  dir = await mkdtemp(join(tmpdir(), 'vmc-keys-cli-'));
}, 120_000);
afterAll(() => rm(dir, { recursive: true, force: true }));

const vmc = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, 'bin/vmc.js'), ...args], { encoding: 'utf8', cwd: dir });

describe('vmc keys', () => {
  it('create: prints a vmc- key once, stores only sha256 of it, creates the file (owner-only); an existing id is exit 1', async () => {
    const file = join(dir, 'keys.yaml');
    const r = vmc(
      'keys',
      'create',
      '--file',
      file,
      '--id',
      'ci',
      '--user-path',
      '/team/a/',
      '--model',
      'smart',
      '--model',
      'openai/*',
      '--expires-at',
      '2030-01-01T00:00:00Z',
    );
    expect(r.status).toBe(0);
    const key = r.stdout.trim();
    expect(key).toMatch(/^vmc-[A-Za-z0-9_-]{43}$/);
    expect(r.stderr).not.toContain(key);
    const text = await readFile(file, 'utf8');
    expect(text).not.toContain(key);
    expect(parseKeysFile(file, text).entries).toEqual([
      {
        id: 'ci',
        hash: 'sha256:' + createHash('sha256').update(key).digest('hex'),
        user_path: '/team/a',
        models: ['smart', 'openai/*'],
        expires_at: '2030-01-01T00:00:00Z',
      },
    ]);
    expect((await stat(file)).mode & 0o077).toBe(0);

    const again = vmc('keys', 'create', '--file', file, '--id', 'ci', '--user-path', '/x');
    expect(again.status).toBe(1);
    expect(again.stdout).toBe('');
    expect(again.stderr).toMatch(/exists/);

    const second = vmc('keys', 'create', '--file', file, '--id', 'two', '--user-path', '/b');
    expect(second.status).toBe(0);
    expect(second.stdout.trim()).not.toBe(key);
    expect(parseKeysFile(file, await readFile(file, 'utf8')).entries.map((e) => e.id)).toEqual(['ci', 'two']);
  });

  it('list (text and --json) shows ids, paths, models, expiry and status, never a hash; revoke disables (unknown id: exit 1)', async () => {
    const file = join(dir, 'list.yaml');
    expect(vmc('keys', 'create', '--file', file, '--id', 'a', '--user-path', '/a').status).toBe(0);
    expect(vmc('keys', 'create', '--file', file, '--id', 'old', '--user-path', '/o', '--expires-at', '2020-01-01').status).toBe(0);
    const list = vmc('keys', 'list', '--file', file);
    expect(list.status).toBe(0);
    expect(list.stdout).toMatch(
      /^ID\s+USER PATH\s+MODELS\s+EXPIRES\s+STATUS\na\s+\/a\s+\*\s+-\s+active\nold\s+\/o\s+\*\s+2020-01-01\s+expired\n$/,
    );
    expect(list.stdout).not.toContain('sha256');

    expect(vmc('keys', 'revoke', '--file', file, '--id', 'a').status).toBe(0);
    const json = JSON.parse(vmc('keys', 'list', '--file', file, '--json').stdout);
    expect(json).toEqual([
      { id: 'a', user_path: '/a', models: null, expires_at: null, status: 'disabled' },
      { id: 'old', user_path: '/o', models: null, expires_at: '2020-01-01', status: 'expired' },
    ]);
    const unknown = vmc('keys', 'revoke', '--file', file, '--id', 'nobody');
    expect([unknown.status, unknown.stderr]).toEqual([1, expect.stringMatching(/no key "nobody"/)]);
  });

  it('JSON files stay JSON', async () => {
    const file = join(dir, 'keys.json');
    await writeFile(file, '{"keys": []}\n');
    expect(vmc('keys', 'create', '--file', file, '--id', 'j', '--user-path', '/').status).toBe(0);
    expect(JSON.parse(await readFile(file, 'utf8')).keys.map((k: { id: string }) => k.id)).toEqual(['j']);
  });

  it('an invalid keys file is exit 1 with file:line:col diagnostics; usage mistakes are exit 2', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(file, 'keys:\n  - id: a\n    hash: nope\n    user_path: /a\n');
    for (const r of [vmc('keys', 'list', '--file', file), vmc('keys', 'create', '--file', file, '--id', 'b', '--user-path', '/b')]) {
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/bad\.yaml:3:11 - error VMK007: hash must be/);
      expect(r.stderr).toMatch(/\n {2}hint: /);
    }
    expect(vmc('keys', 'create', '--file', file, '--id', 'b').status).toBe(2); // no --user-path
    expect(vmc('keys', 'create', '--file', join(dir, 'x.yaml'), '--id', 'b', '--user-path', 'relative').status).toBe(2);
    expect(vmc('keys', 'create', '--file', join(dir, 'x.yaml'), '--id', 'b', '--user-path', '/', '--expires-at', 'soon').status).toBe(2);
    expect(vmc('keys', 'rotate', '--file', file).status).toBe(2);
    expect(vmc('keys', 'list').status).toBe(2);
    expect(vmc('keys', '--help').stdout).toMatch(/vmc keys create --file FILE --id ID --user-path P/);
    expect(vmc('--help').stdout).toMatch(/vmc keys create\|list\|revoke/);
  });
});
