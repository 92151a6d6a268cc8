/**
 * The simulated-provider process of `vmc bench` (SPEC §11): hosts every simulated provider of
 * a run, each with its faulty listener (the gateway's upstream) and its clean listener (the
 * baseline's), in a process of its own so that its CPU is neither the gateway's nor the load
 * generator's. Driven by the harness over the IPC channel (`child_process.fork`):
 *
 *   → { op: 'start', seed, providers: SimProviderSpec[] }
 *   ← { op: 'ready', providers: [{ name, url, cleanUrl, engine }] }  or { op: 'error', message }
 *   → { op: 'clock', offset_s, running }   the load clock of the faulty listeners
 *   → { op: 'stats' }                      ← { op: 'stats', providers: { name: { faulty, clean } } }
 *   → { op: 'stop' }                       closes everything and exits 0
 *
 * The process exits when the harness goes away (IPC disconnect), so a killed run leaves no
 * listener behind.
 */
import type { SimProviderSpec } from './behavior.js';
import { seedOf } from './random.js';
import { startSimProvider, type SimProvider } from './server.js';

interface Started {
  faulty: SimProvider;
  clean: SimProvider;
}

export type HostRequest =
  | { op: 'start'; seed: number; providers: SimProviderSpec[] }
  | { op: 'clock'; offset_s: number; running: boolean }
  | { op: 'stats' }
  | { op: 'stop' };

const started: Started[] = [];

function send(msg: unknown): void {
  if (process.send) process.send(msg);
}

async function start(seed: number, providers: SimProviderSpec[]): Promise<void> {
  for (const spec of providers) {
    const s = seedOf(spec.name, seed);
    const faulty = await startSimProvider(spec, { seed: s });
    const clean = await startSimProvider(spec, { seed: s, clean: true });
    started.push({ faulty, clean });
  }
  send({
    op: 'ready',
    pid: process.pid,
    providers: started.map((p) => ({ name: p.faulty.name, url: p.faulty.url, cleanUrl: p.clean.url, engine: p.faulty.engine })),
  });
}

async function stop(): Promise<never> {
  await Promise.all(started.flatMap((p) => [p.faulty.close(), p.clean.close()]));
  process.exit(0);
}

process.on('message', (m: HostRequest) => {
  switch (m.op) {
    case 'start':
      start(m.seed, m.providers).catch((err: Error) => send({ op: 'error', message: err.message }));
      break;
    case 'clock':
      for (const p of started) p.faulty.setClock(m.offset_s, m.running);
      break;
    case 'stats':
      send({
        op: 'stats',
        providers: Object.fromEntries(started.map((p) => [p.faulty.name, { faulty: p.faulty.stats(), clean: p.clean.stats() }])),
      });
      break;
    case 'stop':
      void stop();
      break;
  }
});
process.on('disconnect', () => void stop());
