#!/usr/bin/env node
// CPU cost of caller-key checking per request (SPEC §12, issue 10: goal ≤ 2 µs/request).
//
//   node scripts/keys-auth-cost.mjs          (needs dist/: `npx tsc -p tsconfig.build.json`)
//
// Measures, on a request with a realistic header list (OpenAI SDK headers), the work the
// gateway adds when keys are on: find the presented key (Authorization: Bearer / x-api-key),
// SHA-256 it, look the digest up, compare in constant time, check enabled/expiry, narrow
// x-vmc-user-path, and check the model allow-list (a Set probe after the first request). The
// baseline in the same run is the same loop without the key work. Rings of 1, 1,000 and
// 100,000 keys; each case runs in a fresh process (find-my-way's rule: one case per isolate).
// Also prints bytes allocated per check (heap growth between GCs, --expose-gc).
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const isMain = process.send === undefined;

const ITER = 1_000_000;
const ROUNDS = 5;

if (isMain) {
  const cases = [
    ['baseline (keys off: header scan only)', 0, 'none'],
    ['1 key, Bearer', 1, 'bearer'],
    ['1,000 keys, Bearer', 1000, 'bearer'],
    ['100,000 keys, Bearer', 100_000, 'bearer'],
    ['1,000 keys, x-api-key + narrowed user path + model list', 1000, 'full'],
    ['1,000 keys, unknown key (401 path)', 1000, 'unknown'],
  ];
  console.log(`node ${process.version}, ${ITER.toLocaleString()} checks × ${ROUNDS} rounds per case (best round)`);
  let base = 0;
  for (const [name, keys, mode] of cases) {
    const r = await new Promise((resolve, reject) => {
      const w = fork(fileURLToPath(import.meta.url), [String(keys), mode], { execArgv: ['--expose-gc', '--max-semi-space-size=64'] });
      w.once('message', resolve);
      w.once('error', reject);
    });
    if (mode === 'none') base = r.ns;
    const extra = mode === 'none' ? '' : `  (+${(r.ns - base).toFixed(0)} ns over the baseline)`;
    console.log(`${name.padEnd(58)} ${r.ns.toFixed(0).padStart(6)} ns/check  ${r.bytes.toFixed(0).padStart(4)} B/check (approx.)${extra}`);
  }
} else {
  const dist = new URL('../dist/runtime/', import.meta.url);
  const { generateKey, hashKey } = await import(new URL('keys/entry.js', dist).href);
  const { KeyMetrics } = await import(new URL('keys/metrics.js', dist).href);
  const { KeyEntry, KeyRing, Caller, authenticate, narrowUserPath } = await import(new URL('keys/ring.js', dist).href);
  const keys = Number(process.argv[2]);
  const mode = process.argv[3];
  const metrics = new KeyMetrics();
  const entries = [];
  let presented = '';
  for (let i = 0; i < Math.max(keys, 1); i++) {
    const key = generateKey();
    if (i === keys >> 1) presented = key;
    const spec = { id: `k${i}`, hash: hashKey(key), user_path: '/team/a' };
    if (mode === 'full') spec.models = ['smart', 'openai/*'];
    entries.push(new KeyEntry(spec, 'file', metrics.series(spec.id, spec.user_path)));
  }
  const ring = new KeyRing(entries);
  if (mode === 'unknown') presented = generateKey();
  const flat = [
    'host',
    '127.0.0.1:8080',
    'accept',
    'application/json',
    'content-type',
    'application/json',
    'user-agent',
    'OpenAI/JS 6.49.0',
    'x-stainless-lang',
    'js',
    'x-stainless-package-version',
    '6.49.0',
    'x-stainless-os',
    'Linux',
    'x-stainless-arch',
    'x64',
    'x-stainless-runtime',
    'node',
    'content-length',
    '120',
  ];
  if (mode === 'full') flat.push('x-api-key', presented, 'x-vmc-user-path', '/team/a/bob');
  else flat.push('authorization', `Bearer ${presented}`);
  const req = {
    header(name) {
      for (let i = 0; i < flat.length; i += 2) if (flat[i] === name) return flat[i + 1];
      return null;
    },
  };
  // the model check needs a table: a stand-in with the two methods the allow-list reads
  const table = { providerCount: 0, lookupString: (n) => (n === 'smart' ? 7 : -1), providerName: () => '', providerModels: () => [] };
  const caller = new Caller();
  let sink = 0;
  const once =
    mode === 'none'
      ? () => {
          // what the gateway reads anyway, keys or not
          if (req.header('x-vmc-user-path') !== null) sink++;
          if (req.header('content-type') !== null) sink++;
        }
      : () => {
          if (req.header('x-vmc-user-path') !== null) sink++;
          if (req.header('content-type') !== null) sink++;
          const st = authenticate(ring, req, Date.now(), caller);
          if (st !== 0) return void (sink += st);
          if (!narrowUserPath(caller, req.header('x-vmc-user-path'))) return void sink++;
          if (caller.admitsModel(table, 7)) sink++;
        };
  for (let i = 0; i < 200_000; i++) once(); // warm up (JIT, the allow-list cache)
  let best = Infinity;
  let bytes = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    globalThis.gc();
    const heap0 = process.memoryUsage().heapUsed;
    const t0 = process.cpuUsage();
    const n = 20_000; // few enough not to trigger a scavenge on the way (semi-space 64 MB)
    for (let i = 0; i < n; i++) once();
    const heap1 = process.memoryUsage().heapUsed;
    bytes = Math.min(bytes, Math.max(0, heap1 - heap0) / n);
    const c0 = process.cpuUsage();
    for (let i = 0; i < ITER; i++) once();
    const c1 = process.cpuUsage(c0);
    best = Math.min(best, ((c1.user + c1.system) * 1000) / ITER);
    void t0;
  }
  process.send({ ns: best, bytes, sink }, () => process.exit(0));
}
