/**
 * Property (SPEC §3.7, §7): for random retry/fallback settings and random upstream failure
 * patterns, the real gateway tries targets in the order, and as many times, as a reference
 * model of SPEC §3.7 says, and answers what the model says.
 *
 * One gateway and four mock providers (plus a port nobody listens on, for connection errors)
 * run for the whole property; each run lowers a fresh table and swaps it in with reload()
 * (which also resets health state). Strategy `priority` with distinct priorities makes the
 * plan deterministic, so the property is about the attempt loop, not the pick (the pick is
 * covered by test/runtime/routing/router.test.ts). The breaker is disabled (thresholds out of reach).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createServer } from 'node:net';
import { lowerTable } from '../../compiler/lower.js';
import { startMockProvider, type MockProvider } from '../../bench/sim/simulated-provider.js';
import { createLogger } from '../../runtime/log.js';
import { startServer, type RunningServer } from '../../runtime/server.js';
import { RoutingTable } from '../../runtime/table/reader.js';
import { config, provider, target, vm } from '../support/norm.js';

const NET = 0; // a connection error (the target's provider is a closed port)
const STATUSES = [200, 400, 404, 429, 500, 502, 503];
const CODE_SETS = [[], [429], [500, 502, 503], [429, 500, 502, 503], [400, 404, 429, 500]];

interface TargetSpec {
  dead: boolean;
  attempts: number;
  retryOn: number[];
  fallbackOn: number[];
  candidate: boolean;
  statuses: number[];
}

/** SPEC §3.7 as a plain function: the sequence of targets tried and the answer. */
function referenceOutcome(specs: TargetSpec[]): { tried: number[]; status: number; target: number } {
  const plan = specs.map((_, i) => i).filter((i) => i === 0 || specs[i].candidate);
  const tried: number[] = [];
  const cursor = specs.map(() => 0);
  let kept: { status: number; target: number } | null = null;
  let last = -1;
  for (let p = 0; p < plan.length; p++) {
    const i = plan[p];
    const s = specs[i];
    const hasNext = p < plan.length - 1;
    for (let k = 1; k <= s.attempts; k++) {
      tried.push(i);
      last = i;
      const status = s.dead ? NET : (s.statuses[cursor[i]++] ?? 200);
      if (status === NET) continue; // retried while tries remain, then the next target
      if (s.retryOn.includes(status) && k < s.attempts) {
        kept = { status, target: i };
        continue;
      }
      if (s.fallbackOn.includes(status) && hasNext) {
        kept = { status, target: i };
        break;
      }
      return { tried, status, target: i };
    }
  }
  return kept ? { tried, status: kept.status, target: kept.target } : { tried, status: 502, target: last };
}

const arbTarget: fc.Arbitrary<TargetSpec> = fc.record({
  dead: fc.integer({ min: 0, max: 6 }).map((x) => x === 0), // 1 in 7: a connection error
  attempts: fc.integer({ min: 1, max: 3 }),
  retryOn: fc.constantFrom(...CODE_SETS),
  fallbackOn: fc.constantFrom(...CODE_SETS),
  candidate: fc.boolean(),
  statuses: fc.array(fc.constantFrom(...STATUSES), { minLength: 0, maxLength: 4 }),
});

function closedPort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

let mocks: MockProvider[];
let server: RunningServer;
let deadUrl: string;

beforeAll(async () => {
  mocks = await Promise.all(['p0', 'p1', 'p2', 'p3'].map((name) => startMockProvider({ name })));
  deadUrl = `http://127.0.0.1:${await closedPort()}/v1`;
  const table = RoutingTable.decode(
    lowerTable(config([vm('v', [target('p0/m')])], { providers: mocks.map((m) => provider(m.name, ['m'], { baseUrl: m.url + '/v1' })) })),
  );
  server = await startServer({
    table,
    host: '127.0.0.1',
    port: 0,
    maxBodyBytes: 1 << 20,
    log: createLogger({ level: 'silent' }),
    health: { failureThreshold: 1_000_000, failureRateThreshold: 2 }, // the breaker never ejects: runs of any length, no rate
  });
});

afterAll(async () => {
  await server.close();
  await Promise.all(mocks.map((m) => m.close()));
});

describe('attempt loop ≡ reference model of SPEC §3.7', () => {
  it('tries targets in the planned order with the configured retries, and answers like the model', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(arbTarget, { minLength: 1, maxLength: 4 }), async (specs) => {
        const names = specs.map((s, i) => (s.dead ? 'dead' : `p${i}`));
        // At most one dead target per pool (one closed port); the rest get their own mock.
        fc.pre(names.filter((n) => n === 'dead').length <= 1);
        const providers = [
          ...mocks.map((m) => provider(m.name, ['m'], { baseUrl: m.url + '/v1' })),
          provider('dead', ['m'], { baseUrl: deadUrl }),
        ].sort((a, b) => (a.name < b.name ? -1 : 1));
        const targets = specs.map((s, i) =>
          target(`${names[i]}/m`, {
            priority: i,
            fallbackCandidate: s.candidate,
            retry: { attempts: s.attempts, delayMs: 0, onStatus: [...s.retryOn] },
            fallbackOn: [...s.fallbackOn],
          }),
        );
        server.reload(lowerTable(config([vm('v', targets, { strategy: 'priority' })], { providers })));
        specs.forEach((s, i) => {
          if (!s.dead) {
            mocks[i].requests.length = 0;
            mocks[i].setBehavior({ statuses: [...s.statuses], status: 200 });
          }
        });
        const res = await fetch(`http://127.0.0.1:${server.port}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'v', messages: [] }),
        });
        await res.arrayBuffer();
        const want = referenceOutcome(specs);
        // The plan visits targets in order and a target's tries are consecutive, so the
        // sequence is determined by how many requests each live target received.
        const count = (i: number) => want.tried.filter((x) => x === i).length;
        specs.forEach((s, i) => {
          if (!s.dead) expect(mocks[i].requests.length, `requests to target ${i}`).toBe(count(i));
        });
        expect(res.status).toBe(want.status);
        expect(Number(res.headers.get('x-vmc-attempts'))).toBe(want.tried.length);
        expect(res.headers.get('x-vmc-target')).toBe(`${names[want.target]}/m`);
      }),
      { numRuns: 300, seed: 7 },
    );
  });
});
