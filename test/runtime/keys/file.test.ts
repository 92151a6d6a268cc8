/**
 * The keys file (SPEC §12): what parses, the diagnostics (code and position) of what does not,
 * and the edits `vmc keys` makes (layout and comments kept, read back identically).
 */
import { describe, expect, it } from 'vitest';
import { generateKey, hashKey, KEY_PREFIX } from '../../../runtime/keys/entry.js';
import { appendEntryText, disableEntryText, KeysFileError, lineColumn, parseKeysFile } from '../../../runtime/keys/file.js';

const H = (c: string) => 'sha256:' + c.repeat(64);

/** [code, line, column] of every diagnostic of a text that does not parse. */
function problems(text: string): [string, number, number][] {
  try {
    parseKeysFile('keys.yaml', text);
  } catch (err) {
    expect(err).toBeInstanceOf(KeysFileError);
    return (err as KeysFileError).diagnostics.map((d) => {
      const p = lineColumn(text, d.start);
      return [d.code, p.line, p.column];
    });
  }
  throw new Error('parsed');
}

describe('keys and hashes', () => {
  it('keys are vmc- + 43 base64url characters, distinct; hash is sha256: + lowercase hex of the key string', () => {
    const a = generateKey();
    expect(a).toMatch(/^vmc-[A-Za-z0-9_-]{43}$/);
    expect(a.startsWith(KEY_PREFIX)).toBe(true);
    expect(generateKey()).not.toBe(a);
    // printf %s vmc-test | sha256sum
    expect(hashKey('vmc-test')).toBe('sha256:5675bdcdbeee955264e6bd07eeba6c2d192a4f721c4a0de0fb4334358b514485');
  });
});

describe('parseKeysFile', () => {
  it('reads YAML and JSON entries, normalizing user paths', () => {
    const yaml = parseKeysFile(
      'k.yaml',
      `# comment
version: 1
keys:
  - id: ci
    hash: ${H('a')}
    user_path: /team/a/
    models: [gpt, openai/*]
    expires_at: "2030-01-01T00:00:00Z"
  - { id: off, hash: ${H('b')}, user_path: /, enabled: false }
`,
    );
    expect(yaml.entries).toEqual([
      { id: 'ci', hash: H('a'), user_path: '/team/a', models: ['gpt', 'openai/*'], expires_at: '2030-01-01T00:00:00Z' },
      { id: 'off', hash: H('b'), user_path: '/', enabled: false },
    ]);
    const json = parseKeysFile('k.json', JSON.stringify({ keys: [{ id: 'j', hash: H('c'), user_path: '/x' }] }));
    expect(json.entries).toEqual([{ id: 'j', hash: H('c'), user_path: '/x' }]);
    expect(parseKeysFile('k.yaml', 'keys: []\n').entries).toEqual([]);
    expect(parseKeysFile('k.yaml', 'keys:\n').entries).toEqual([]);
  });

  it.each([
    ['not YAML', 'keys: [\n  {id: a', [['VMK002', 2, 9]]],
    ['not a mapping', '- a\n', [['VMK003', 1, 1]]],
    ['no keys', 'version: 1\n', [['VMK003', 1, 1]]],
    ['keys not a list', 'keys: {a: 1}\n', [['VMK003', 1, 7]]],
    ['unknown top-level field', `keys: []\nextra: 1\n`, [['VMK005', 2, 1]]],
    ['entry not a mapping', 'keys:\n  - just text\n', [['VMK004', 2, 5]]],
    [
      'missing fields',
      'keys:\n  - id: a\n',
      [
        ['VMK006', 2, 5],
        ['VMK006', 2, 5],
      ],
    ],
    ['a key in clear', `keys:\n  - id: a\n    hash: ${H('a')}\n    user_path: /\n    key: vmc-abc\n`, [['VMK005', 5, 5]]],
    ['a key where the hash goes', 'keys:\n  - id: a\n    hash: vmc-abcdef\n    user_path: /\n', [['VMK007', 3, 11]]],
    ['upper-case hex', `keys:\n  - id: a\n    hash: sha256:${'A'.repeat(64)}\n    user_path: /\n`, [['VMK007', 3, 11]]],
    ['relative user path', `keys:\n  - id: a\n    hash: ${H('a')}\n    user_path: team\n`, [['VMK007', 4, 16]]],
    [
      'bad wildcard (points at the item)',
      `keys:\n  - id: a\n    hash: ${H('a')}\n    user_path: /\n    models: [ok, "gpt-*"]\n`,
      [['VMK007', 5, 18]],
    ],
    ['bad expiry', `keys:\n  - id: a\n    hash: ${H('a')}\n    user_path: /\n    expires_at: soon\n`, [['VMK007', 5, 17]]],
    ['bad id', `keys:\n  - id: "a b"\n    hash: ${H('a')}\n    user_path: /\n`, [['VMK007', 2, 9]]],
    ['bad enabled', `keys:\n  - id: a\n    hash: ${H('a')}\n    user_path: /\n    enabled: "no"\n`, [['VMK007', 5, 14]]],
    [
      'duplicate id',
      `keys:\n  - { id: a, hash: ${H('a')}, user_path: / }\n  - { id: a, hash: ${H('b')}, user_path: / }\n`,
      [['VMK008', 3, 11]],
    ],
    [
      'duplicate hash',
      `keys:\n  - { id: a, hash: ${H('a')}, user_path: / }\n  - { id: b, hash: ${H('a')}, user_path: / }\n`,
      [['VMK009', 3, 20]],
    ],
  ] as const)('%s', (_name, text, want) => {
    expect(problems(text)).toEqual(want);
  });

  it('prints file:line:col - error CODE with a hint, and related locations', () => {
    const text = `keys:\n  - { id: a, hash: ${H('a')}, user_path: / }\n  - { id: a, hash: ${H('b')}, user_path: / }\n`;
    let message = '';
    try {
      parseKeysFile('keys.yaml', text);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(
      /^keys\.yaml:3:11 - error VMK008: id "a" is defined twice\n  hint: .+\n  related: keys\.yaml:2:11 - first defined here$/,
    );
  });

  it('never repeats a key in clear in its messages', () => {
    const key = generateKey();
    try {
      parseKeysFile('keys.yaml', `keys:\n  - id: a\n    hash: ${key}\n    user_path: /\n    key: ${key}\n`);
    } catch (err) {
      expect((err as Error).message).not.toContain(key);
      expect((err as Error).message).toMatch(/key in clear/);
      return;
    }
    throw new Error('parsed');
  });
});

describe('editing', () => {
  it('appends to YAML keeping comments, to JSON as JSON, and creates a new file', () => {
    const base = `# our keys\nkeys:\n  - id: a # the first\n    hash: ${H('a')}\n    user_path: /a\n`;
    const next = appendEntryText('k.yaml', base, {
      id: 'b',
      hash: H('b'),
      user_path: '/b',
      models: ['m', 'p/*'],
      expires_at: '2030-01-01',
    });
    expect(next.startsWith(base)).toBe(true);
    expect(next).toContain('models: [ m, p/* ]');
    expect(next).toContain('expires_at: "2030-01-01"');
    expect(parseKeysFile('k.yaml', next).entries.map((e) => e.id)).toEqual(['a', 'b']);

    const json = appendEntryText('k.json', JSON.stringify({ keys: [] }), { id: 'j', hash: H('c'), user_path: '/' });
    expect(JSON.parse(json)).toEqual({ keys: [{ id: 'j', hash: H('c'), user_path: '/' }] });

    const fresh = appendEntryText('new.yaml', null, { id: 'n', hash: H('d'), user_path: '/n' });
    expect(fresh).toMatch(/^# vmc caller keys/);
    expect(parseKeysFile('new.yaml', fresh).entries).toEqual([{ id: 'n', hash: H('d'), user_path: '/n' }]);
    const flow = appendEntryText('k.yaml', 'keys: []\n', { id: 'n', hash: H('d'), user_path: '/n' });
    expect(parseKeysFile('k.yaml', flow).entries).toHaveLength(1);
  });

  it('disables an entry by id (YAML and JSON); an unknown id is null', () => {
    const base = `keys:\n  - id: a\n    hash: ${H('a')}\n    user_path: /a\n`;
    const off = disableEntryText('k.yaml', base, 'a')!;
    expect(parseKeysFile('k.yaml', off).entries[0].enabled).toBe(false);
    expect(disableEntryText('k.yaml', base, 'zz')).toBeNull();
    const json = disableEntryText('k.json', JSON.stringify({ keys: [{ id: 'a', hash: H('a'), user_path: '/' }] }), 'a')!;
    expect(JSON.parse(json).keys[0].enabled).toBe(false);
  });
});
