/**
 * The inlining budgets a serving process sets (runtime/http/listen.ts, tuneInliningForServing):
 * what is applied, once, the opt-out, and that this Node's V8 knows the flags (the gateway tests
 * run this on Node 20, 22 and 24; V8 refuses an unknown flag on the command line and reports one
 * set at run time on stderr).
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { SERVE_INLINING_FLAGS, tuneInliningForServing } from '../../runtime/http/listen.js';

describe('V8 inlining budgets of a serving process', () => {
  it('are applied once per process, and not with VMC_V8_INLINING=0', () => {
    const seen: string[] = [];
    expect(tuneInliningForServing({ VMC_V8_INLINING: '0' }, (f) => seen.push(f))).toEqual([]);
    expect(seen).toEqual([]);
    // this worker may have started a server already (then the flags are set and this is a no-op)
    const applied = tuneInliningForServing({}, (f) => seen.push(f));
    expect(seen).toEqual(applied);
    expect(tuneInliningForServing({}, (f) => seen.push(f))).toEqual([]);
    expect(SERVE_INLINING_FLAGS).toEqual(['--max-inlined-bytecode-size=700', '--max-inlined-bytecode-size-cumulative=2400']);
  });

  it("this Node's V8 accepts every flag, on the command line and at run time", () => {
    const cli = spawnSync(process.execPath, [...SERVE_INLINING_FLAGS, '-e', '0'], { encoding: 'utf8', timeout: 30_000 });
    expect(cli.stderr).toBe('');
    expect(cli.status).toBe(0);
    const runtime = spawnSync(
      process.execPath,
      [
        '-e',
        `const v8 = require('node:v8'); for (const f of ${JSON.stringify(SERVE_INLINING_FLAGS)}) v8.setFlagsFromString(f); console.log('ok')`,
      ],
      { encoding: 'utf8', timeout: 30_000 },
    );
    expect(runtime.stderr).toBe('');
    expect(runtime.stdout.trim()).toBe('ok');
  });
});
