#!/usr/bin/env node
/**
 * Load generator for one proxy-benchmark case; runs as its own process and prints one JSON
 * line with the results.
 *
 *   --mode closed   autocannon, closed loop (each connection sends its next request when
 *                   the previous answer is complete): maximum throughput. Latencies are
 *                   taken from autocannon's per-response event (hrtime, float ms) rather
 *                   than its histogram, which has 1 ms buckets.
 *   --mode paced    open loop: request k is *scheduled* at t0 + k/rate, sent on an undici
 *                   Pool as soon as the timer loop reaches it, and its latency is measured
 *                   from the scheduled time to the last body byte — so a stall anywhere
 *                   (generator, gateway, upstream) shows up in the latency of every request
 *                   that should have been sent meanwhile (no coordinated omission).
 *
 * Both modes run `--warmup` seconds of the same load first (not recorded) and report
 * `answered`: responses completed over warm-up + measurement, which the driver divides the
 * gateway's CPU time by.
 *
 * Flags: --url U --body-file F [--headers JSON] --duration S --warmup S [--samples-out FILE]
 *        closed: --connections C      paced: --rate R [--pool-connections C]
 * With --samples-out the raw latency samples (ms, f64 little-endian) are written there, so
 * the driver can merge several rounds before taking percentiles.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Pool } from 'undici';
import autocannon from 'autocannon';
import { parseFlags, summarize } from './common.mjs';

const flags = parseFlags(process.argv.slice(2));
const url = new URL(flags.url);
const body = readFileSync(flags['body-file']);
const headers = { 'content-type': 'application/json', ...(flags.headers ? JSON.parse(flags.headers) : {}) };
const duration = Number(flags.duration ?? 5);
const warmup = Number(flags.warmup ?? 1);

/** Growable Float64Array of latency samples (ms). */
class Samples {
  a = new Float64Array(1 << 16);
  n = 0;
  push(v) {
    if (this.n === this.a.length) {
      const b = new Float64Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = v;
  }
  values() {
    return this.a.subarray(0, this.n);
  }
}

function cannon(seconds, samples) {
  return new Promise((resolve, reject) => {
    const inst = autocannon(
      {
        url: url.href,
        method: 'POST',
        headers,
        body,
        connections: Number(flags.connections ?? 32),
        pipelining: 1,
        duration: seconds,
        timeout: 10,
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
    if (samples !== null) {
      inst.on('response', (_client, status, _bytes, ms) => {
        if (status >= 200 && status < 300) samples.push(ms);
      });
    }
  });
}

async function closed() {
  const warm = warmup > 0 ? await cannon(warmup, null) : null;
  const samples = new Samples();
  const r = await cannon(duration, samples);
  const ok = r['2xx'];
  return {
    mode: 'closed',
    rps: ok / r.duration,
    ok,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    seconds: r.duration,
    answered: (warm ? warm['2xx'] + warm.non2xx : 0) + ok + r.non2xx,
    latency: summarize(samples.values()),
    samples,
  };
}

async function paced() {
  const rate = Number(flags.rate ?? 1000);
  const pool = new Pool(url.origin, { connections: Number(flags['pool-connections'] ?? 128), pipelining: 1, keepAliveTimeout: 30_000 });
  const path = url.pathname + url.search;
  let answered = 0;
  let non2xx = 0;
  let errors = 0;

  /** Runs `seconds` of paced load; resolves when every scheduled request has finished. */
  const run = (seconds, samples) =>
    new Promise((resolve) => {
      const total = Math.round(rate * seconds);
      const interval = 1000 / rate;
      const t0 = performance.now() + 20;
      let next = 0;
      let done = 0;
      const finish = () => {
        if (++done === total) resolve();
      };
      const send = (scheduled) => {
        pool.request({ path, method: 'POST', headers, body }).then(
          async (res) => {
            await res.body.arrayBuffer();
            answered++;
            if (res.statusCode >= 200 && res.statusCode < 300) {
              if (samples !== null) samples.push(performance.now() - scheduled);
            } else if (samples !== null) non2xx++;
            finish();
          },
          () => {
            if (samples !== null) errors++;
            finish();
          },
        );
      };
      const tick = () => {
        const now = performance.now();
        while (next < total && t0 + next * interval <= now) {
          send(t0 + next * interval);
          next++;
        }
        if (next < total) setTimeout(tick, Math.max(0, t0 + next * interval - performance.now()));
      };
      setTimeout(tick, 20);
    });

  if (warmup > 0) await run(warmup, null);
  const samples = new Samples();
  const t0 = performance.now();
  await run(duration, samples);
  const seconds = (performance.now() - t0) / 1000;
  await pool.close();
  return {
    mode: 'paced',
    rate,
    rps: samples.n / seconds,
    ok: samples.n,
    non2xx,
    errors,
    timeouts: 0,
    seconds,
    answered,
    latency: summarize(samples.values()),
    samples,
  };
}

const deadline = setTimeout(
  () => {
    process.stderr.write('load generator: hard time limit reached\n');
    process.exit(3);
  },
  (warmup + duration) * 1000 + 60_000,
);
const cpu0 = process.cpuUsage();
const { samples, ...result } = flags.mode === 'paced' ? await paced() : await closed();
const cpu = process.cpuUsage(cpu0);
result.loadCpuMicrosPerReq = (cpu.user + cpu.system) / Math.max(1, result.answered);
if (typeof flags['samples-out'] === 'string') {
  const v = samples.values();
  writeFileSync(flags['samples-out'], new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
}
clearTimeout(deadline);
process.stdout.write(JSON.stringify(result) + '\n');
