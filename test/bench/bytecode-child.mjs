/**
 * Child of test/bench/inlining.test.ts, run as `node --print-bytecode
 * --print-bytecode-filter=NAME` on the built dist/: calls each step of the resolution once,
 * so that V8 generates (and prints) the bytecode of the function named NAME.
 */
import { chatBody, normConfig, vmName } from '../../bench/lib/workload.mjs';

const { lowerTable } = await import('../../dist/compiler/lower.js');
const { RoutingTable } = await import('../../dist/runtime/table/reader.js');
const { HealthState } = await import('../../dist/runtime/routing/health.js');
const { RouteInput, Router } = await import('../../dist/runtime/routing/router.js');
const { BodyScan, scanJsonBody } = await import('../../dist/runtime/json-scan.js');

const table = RoutingTable.decode(lowerTable(normConfig(16)));
const router = new Router(table, new HealthState(table.targetCount), 1);
const scan = new BodyScan();
const body = chatBody(vmName(3), 0, 512);
if (!scanJsonBody(body, scan)) throw new Error('body did not scan');
const vm = table.lookupWords(scan.words, scan.modelStart, scan.modelEnd);
if (vm < 0 || table.lookup(body, scan.modelStart, scan.modelEnd) !== vm) throw new Error('lookup failed');
const out = new Int32Array(Math.max(4, table.maxTargets));
if (router.plan(vm, new RouteInput(), 0, out) < 1) throw new Error('no plan');
