/**
 * The harness side of the simulated-provider process (bench/sim/host.ts): starts it, hands it
 * the providers, moves its load clock, reads its counters and CPU.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { SimProviderSpec } from '../sim/behavior.js';
import type { SimStats } from '../sim/server.js';
import { cpuMicros, distPath } from './proc.js';

export interface SimEndpoints {
  name: string;
  /** Faulty listener (the gateway's upstream). */
  url: string;
  /** Clean listener (the baseline's). */
  cleanUrl: string;
  engine: string;
}

export class SimHost {
  readonly #child: ChildProcess;
  readonly providers: SimEndpoints[];
  readonly pid: number;

  private constructor(child: ChildProcess, providers: SimEndpoints[]) {
    this.#child = child;
    this.providers = providers;
    this.pid = child.pid!;
  }

  /** Starts the process and every provider; rejects when it cannot (exit 2 upstream). */
  static async start(specs: SimProviderSpec[], seed: number): Promise<SimHost> {
    const child = fork(distPath('bench/sim/host.js'), [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, VMC_LOG: 'error' },
    });
    const ready = await new Promise<{ providers: SimEndpoints[] }>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`the simulated providers' process exited (${code}) before it was ready`));
      child.once('exit', onExit);
      child.on('message', function onMessage(m: { op: string; providers?: SimEndpoints[]; message?: string }) {
        if (m.op === 'ready') {
          child.off('exit', onExit);
          child.off('message', onMessage);
          resolve({ providers: m.providers! });
        } else if (m.op === 'error') {
          child.off('exit', onExit);
          reject(new Error(`simulated providers: ${m.message}`));
        }
      });
      child.send({ op: 'start', seed, providers: specs });
    });
    return new SimHost(child, ready.providers);
  }

  url(name: string, clean = false): string {
    const p = this.providers.find((x) => x.name === name);
    if (p === undefined) throw new Error(`no simulated provider ${name}`);
    return clean ? p.cleanUrl : p.url;
  }

  /** Moves the load clock of the faulty listeners. */
  clock(offsetS: number, running: boolean): void {
    this.#child.send({ op: 'clock', offset_s: offsetS, running });
  }

  stats(): Promise<Record<string, { faulty: SimStats; clean: SimStats }>> {
    return new Promise((resolve) => {
      this.#child.on(
        'message',
        function onMessage(this: ChildProcess, m: { op: string; providers: Record<string, { faulty: SimStats; clean: SimStats }> }) {
          if (m.op === 'stats') {
            this.off('message', onMessage);
            resolve(m.providers);
          }
        },
      );
      this.#child.send({ op: 'stats' });
    });
  }

  cpuMicros(): number {
    return cpuMicros([this.pid]);
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = new Promise<void>((r) => this.#child.once('exit', () => r()));
    this.#child.send({ op: 'stop' });
    const t = setTimeout(() => this.#child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  }
}
