/**
 * String.prototype stays in V8's fast mode in the gateway (runtime/fast-prototypes.ts, issue
 * 13): ioredis subclasses String, which turns String.prototype into a dictionary for the
 * life of the process, and then every string method load in optimized code is a generic
 * LoadIC call (a content-type check: ~55 → ~275 ns). Each case runs the built dist/ in a
 * child with --allow-natives-syntax and asks V8 itself (%HasFastProperties).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Runs `body` (an ES module) in a child; returns what it printed as JSON. */
function child(body: string): Record<string, unknown> {
  const script = `import { createRequire } from 'node:module';
const require = createRequire(${JSON.stringify(`${ROOT}package.json`)});
const dist = (p) => import(${JSON.stringify(`${ROOT}dist/`)} + p);
const fast = () => %HasFastProperties(String.prototype);
const ioredisLoaded = () => Object.keys(require.cache).some((k) => k.includes('/node_modules/ioredis/'));
${body}`;
  const r = spawnSync(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    cwd: ROOT,
    timeout: 30_000,
  });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

describe('String.prototype in fast mode (runtime/fast-prototypes.ts)', () => {
  it('control: loading ioredis alone leaves String.prototype a dictionary (what the fix undoes)', () => {
    expect(child(`const before = fast(); require('ioredis'); console.log(JSON.stringify({ before, after: fast() }));`)).toEqual({
      before: true,
      after: false,
    });
  });

  it('the Redis state store loads ioredis and makes String.prototype fast again', () => {
    expect(
      child(`await dist('runtime/state/redis-store.js'); console.log(JSON.stringify({ ioredis: ioredisLoaded(), fast: fast() }));`),
    ).toEqual({
      ioredis: true,
      fast: true,
    });
  });

  it('the gateway without --state does not load ioredis at all', () => {
    const out = child(`await dist('runtime/serve.js');
const { openStateStore } = await dist('runtime/state/open.js');
const store = await openStateStore({ filePath: ${JSON.stringify(`${ROOT}dist/.no-such-state.json`)} });
console.log(JSON.stringify({ shared: store.shared, ioredis: ioredisLoaded(), fast: fast() }));`);
    expect(out).toEqual({ shared: false, ioredis: false, fast: true });
  });
});
