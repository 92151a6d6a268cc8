/**
 * Child of test/bench/alloc.test.ts, run as `node --expose-gc --no-turbo-inlining` on the
 * built dist/: bytes allocated per call of each resolution step when V8 inlines nothing, so
 * every helper call is a real call. A value that would be boxed at a call boundary (a double
 * argument, a uint32 ≥ 2^30 returned) then allocates on every call, instead of only in the
 * runs where V8 happened not to inline that helper (issue 13: 2 runs in 6 of one resolve
 * case allocated 7.8 B/call). Prints one JSON object: step → bytes per call.
 */
import { quietestBytesPerCall } from '../../bench/lib/alloc.mjs';
import { chatBody, normConfig, vmName } from '../../bench/lib/workload.mjs';

const { lowerTable } = await import('../../dist/compiler/lower.js');
const { RoutingTable } = await import('../../dist/runtime/table/reader.js');
const { HealthState } = await import('../../dist/runtime/routing/health.js');
const { RouteInput, Router } = await import('../../dist/runtime/routing/router.js');
const { ROUTER_DRAW, Resolution, resolveRequest, vmFactsOf } = await import('../../dist/runtime/routing/resolve.js');
const { EP_CHAT } = await import('../../dist/runtime/table/endpoints.js');
const { BodyScan, scanJsonBody } = await import('../../dist/runtime/json-scan.js');

const SIZE = 64;
const table = RoutingTable.decode(lowerTable(normConfig(SIZE)));
const router = new Router(table, new HealthState(table.targetCount), 1);
const input = new RouteInput();
const out = new Int32Array(table.maxTargets);
const resolution = new Resolution();
const req = { header: () => null };
const bodies = [];
const spans = new Int32Array(2 * SIZE);
const vms = new Int32Array(SIZE);
const words = []; // each body's aligned copy, as the scan leaves it (BodyScan.words)
const scan = new BodyScan();
for (let i = 0; i < SIZE; i++) {
  bodies.push(chatBody(vmName(i), i, 512));
  scanJsonBody(bodies[i], scan);
  spans[2 * i] = scan.modelStart;
  spans[2 * i + 1] = scan.modelEnd;
  words.push(scan.words.slice(0, (bodies[i].length >> 2) + 3));
  vms[i] = table.lookup(bodies[i], spans[2 * i], spans[2 * i + 1]);
  if (vms[i] < 0) throw new Error(`not found: ${vmName(i)}`);
}
const facts = Array.from(vms, (id) => vmFactsOf(table, id));
const M = SIZE - 1;

const steps = {
  scanJsonBody: (i) => (scanJsonBody(bodies[i & M], scan) ? scan.modelEnd : 0),
  lookup: (i) => table.lookup(bodies[i & M], spans[2 * (i & M)], spans[2 * (i & M) + 1]),
  lookupWords: (i) => table.lookupWords(words[i & M], spans[2 * (i & M)], spans[2 * (i & M) + 1]),
  plan: (i) => router.plan(vms[i & M], input, 0, out) + out[0],
  resolveRequest: (i) =>
    resolveRequest(table, router, vms[i & M], facts[i & M], EP_CHAT, req, 0, ROUTER_DRAW, resolution) + resolution.plan[0],
};
const result = {};
for (const [name, op] of Object.entries(steps)) {
  // five windows: on a busy machine V8 installing background-compiled code lands in more of them
  result[name] = quietestBytesPerCall(op, name === 'scanJsonBody' ? 400_000 : 2_000_000, 5, globalThis.gc).bytesPerCall;
}
process.stdout.write(JSON.stringify(result) + '\n');
