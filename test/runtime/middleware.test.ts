/** Middleware compilation and merge semantics (runtime/middleware.ts), and metrics rendering. */
import { describe, expect, it } from 'vitest';
import { BUILTIN_MIDDLEWARE } from '../../runtime/table/middleware-catalog.js';
import { IMPLEMENTED_MIDDLEWARE, NO_MIDDLEWARE, applyBodyOps, compileMiddleware, mergeInto } from '../../runtime/middleware.js';
import { Metrics } from '../../runtime/metrics.js';
import { captureLogger } from './harness.js';

const call = (name: string, config: unknown = null, configId: string | null = null) => ({
  name,
  configType: 't',
  config: config === null ? null : JSON.stringify(config),
  configId,
});

describe('middleware', () => {
  it('implements exactly the catalog', () => {
    for (const phase of Object.keys(BUILTIN_MIDDLEWARE) as (keyof typeof BUILTIN_MIDDLEWARE)[]) {
      expect([...IMPLEMENTED_MIDDLEWARE[phase]].sort()).toEqual([...BUILTIN_MIDDLEWARE[phase]].sort());
    }
  });

  it('no pipelines → the shared empty instance (hot path stays on the splice)', () => {
    const { log } = captureLogger();
    expect(compileMiddleware({ request: [], response: [], postResponse: [] }, 'vm', log)).toBe(NO_MIDDLEWARE);
  });

  it('header edits apply in pipeline order; both config forms', () => {
    const { log } = captureLogger();
    const mw = compileMiddleware(
      {
        request: [
          call('set-headers', { 'X-A': '1', 'x-b': '2' }),
          call('set-headers', { set: { 'x-c': '3' }, remove: ['x-a'] }),
          call('set-headers', { set: { 'x-a': 'again' } }),
        ],
        response: [call('set-response-headers', { 'X-R': 'r' }), call('set-response-headers', { remove: ['server'] })],
        postResponse: [],
      },
      'vm',
      log,
    );
    expect(mw.requestHeadersSet).toEqual([
      ['x-b', '2'],
      ['x-c', '3'],
      ['x-a', 'again'],
    ]);
    expect(mw.requestHeadersRemove).toEqual([]);
    expect(mw.responseHeadersSet).toEqual(['x-r', 'r']);
    expect(mw.responseHeadersRemove).toEqual(['server']);
  });

  it('body operations run in order', () => {
    const { log } = captureLogger();
    const mw = compileMiddleware(
      {
        request: [call('set-params', { a: 1, n: { x: 1 } }), call('strip-params', { keys: ['b', 'a'] }), call('set-params', { a: 2 })],
        response: [],
        postResponse: [],
      },
      'vm',
      log,
    );
    const body: Record<string, unknown> = { a: 0, b: 1, c: 2, n: { y: 2 } };
    applyBodyOps(body, mw.bodyOps);
    expect(body).toEqual({ a: 2, c: 2, n: { x: 1, y: 2 } });
  });

  it('unknown names and config_id references are ignored with a warning', () => {
    const { log, lines } = captureLogger();
    const mw = compileMiddleware({ request: [call('nope')], response: [], postResponse: [call('log', null, 'ws/cfg')] }, 'vm', log);
    expect(mw.logCalls).toHaveLength(1);
    expect(lines.map((l) => l.msg)).toEqual([
      'unknown middleware ignored',
      'middleware config_id is not supported by vmc; running with an empty config',
    ]);
  });

  it('mergeInto: objects merge deeply; arrays, scalars and null replace; __proto__ is ignored', () => {
    const base: Record<string, unknown> = { a: { b: 1, c: [1, 2] }, d: 1, e: { f: 1 } };
    const over = JSON.parse('{"a":{"c":[3],"g":true},"d":null,"e":"flat","__proto__":{"polluted":true}}');
    mergeInto(base, over);
    expect(base).toEqual({ a: { b: 1, c: [3], g: true }, d: null, e: 'flat' });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    (over.a.c as number[]).push(4);
    expect((base.a as { c: number[] }).c).toEqual([3]); // copied, not shared across requests
  });
});

describe('metrics', () => {
  it('renders counters and cumulative histogram buckets; escapes label values', () => {
    const m = new Metrics();
    const s = m.series('we"ird\\name', 'p/m');
    s.countRequest(200);
    s.countRequest(200);
    s.countRequest(502);
    s.ttfb.observe(0.003);
    s.ttfb.observe(0.2);
    s.ttfb.observe(500);
    const text = m.render();
    expect(text).toContain('vmc_requests_total{virtual_model="we\\"ird\\\\name",target="p/m",status="200"} 2');
    expect(text).toContain('vmc_requests_total{virtual_model="we\\"ird\\\\name",target="p/m",status="502"} 1');
    expect(text).toMatch(/phase="ttfb",le="0\.005"\} 1\n/);
    expect(text).toMatch(/phase="ttfb",le="0\.25"\} 2\n/);
    expect(text).toMatch(/phase="ttfb",le="120"\} 2\n/);
    expect(text).toMatch(/phase="ttfb",le="\+Inf"\} 3\n/);
    expect(text).not.toContain('phase="total"');
  });
});
