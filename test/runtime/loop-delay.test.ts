/**
 * `vmc_event_loop_delay_seconds`: how late the sampler ran, not the time between samples.
 * perf_hooks' histogram includes the sampling interval (an idle loop reads the interval
 * itself); the gauge subtracts it, and a real stall of the gateway's loop still shows.
 */
import { describe, expect, it } from 'vitest';
import { Metrics } from '../../runtime/metrics.js';
import { closeAll, startGateway, startMocks } from './harness.js';

const gauge = (text: string, q: string) =>
  Number(new RegExp(`^vmc_event_loop_delay_seconds\\{quantile="${q}"\\} (\\S+)$`, 'm').exec(text)![1]);

describe('vmc_event_loop_delay_seconds', () => {
  it('reports the delay beyond the sampling interval, never below 0', () => {
    const ms = 1e6; // the histogram is in nanoseconds
    const source = { percentile: (p: number) => (p === 50 ? 19.9 * ms : 21 * ms), max: 170 * ms, count: 100 };
    const m = new Metrics();
    m.watchEventLoop(source, 20);
    const text = m.render(true);
    expect(gauge(text, '0.5')).toBe(0); // on time (early, even): 0, not 19.9 ms
    expect(gauge(text, '0.99')).toBeCloseTo(0.001, 9);
    expect(gauge(text, '1')).toBeCloseTo(0.15, 9);
  });

  it('a gateway whose loop is blocked for 200 ms reports it; the median stays below the stall', async () => {
    const [mock] = await startMocks(['p0']);
    const gw = await startGateway(`version: 1
providers:
  p0: { type: openai, base_url: ${mock.url}/v1, models: [m] }
virtual_models:
  x: { target: p0/m }
`);
    try {
      await new Promise((r) => setTimeout(r, 100));
      const until = Date.now() + 200;
      while (Date.now() < until); // the gateway runs in this process: its loop stalls too
      await new Promise((r) => setTimeout(r, 100));
      const text = await (await fetch(gw.url + '/metrics')).text();
      expect(gauge(text, '1')).toBeGreaterThan(0.15);
      expect(gauge(text, '0.5')).toBeLessThan(gauge(text, '1'));
    } finally {
      await gw.close();
      await closeAll(mock);
    }
  });
});
