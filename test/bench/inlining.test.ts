/**
 * The resolution's hot functions fit TurboFan's inlining budget (issue 13). TurboFan inlines
 * a function only if its bytecode is at most --max-inlined-bytecode-size bytes (460 on Node
 * 20–24); a call that is not inlined costs the lookup + pick benchmark about 4 ns of its
 * ~50. Twice a change pushed Router#plan over the limit without any test noticing (module
 * constants as context slots: 461 bytes; the small-pool plan written inline: 611), so the built
 * dist/ is checked here: each function's bytecode as V8 prints it, against the limit this
 * Node reports.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const child = fileURLToPath(new URL('./bytecode-child.mjs', import.meta.url));

function inliningLimit(): number {
  const r = spawnSync(process.execPath, ['--v8-options'], { encoding: 'utf8' });
  const m = /--max-inlined-bytecode-size=(\d+)/.exec(r.stdout);
  if (m === null) throw new Error('node --v8-options names no --max-inlined-bytecode-size default');
  return Number(m[1]);
}

/** Bytecode length of every function V8 compiled whose name matches `name` (several: same-named methods). */
function bytecodeLengths(name: string): number[] {
  const r = spawnSync(process.execPath, ['--print-bytecode', `--print-bytecode-filter=${name}`, child], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(r.status, r.stderr).toBe(0);
  return [...r.stdout.matchAll(/Bytecode length: (\d+)/g)].map((m) => Number(m[1]));
}

describe('hot functions fit the inlining budget (issue 13)', () => {
  const limit = inliningLimit();
  it.each(['#plan', 'plan', 'pickCumulative4', 'lookupWords', 'hashKey', '#nameEquals'])('%s', (name) => {
    const lengths = bytecodeLengths(name);
    expect(lengths.length, `no bytecode printed for ${name}`).toBeGreaterThan(0);
    for (const n of lengths) expect(n, `${name}: ${n} bytes of bytecode, limit ${limit}`).toBeLessThanOrEqual(limit);
  });
});
