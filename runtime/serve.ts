/**
 * `vmc serve` process model: one process, or a node:cluster of N workers.
 *
 * Why processes (node:cluster) and not worker_threads: uWS listens with SO_REUSEPORT on
 * Linux, so N processes each run their own `App().listen(port)` and the kernel balances
 * connections between them — no primary-side accept/hand-off on the request path, same as
 * threads. Processes then add isolation (a crashing or stalled worker does not take the
 * others down, and the primary restarts it), independent GC heaps, and plain POSIX signal
 * semantics for SIGHUP/SIGTERM, at the cost of one table copy per worker (tables are
 * compact). The primary serves no traffic: it forks, relays signals, and restarts workers.
 *
 * Signals:
 *   SIGHUP  — reload the table file (primary: relayed to every worker);
 *   SIGTERM / SIGINT — drain: stop accepting, finish in-flight requests (bounded by the
 *             drain timeout), exit 0 (primary: relayed, then waits for every worker).
 * Admin changes made on one worker are announced to the primary, which tells the other
 * workers to reload (the admin backend has persisted the change, and its overlay re-applies
 * it on top of the table file).
 */
import cluster, { type Worker } from 'node:cluster';
import { readFile } from 'node:fs/promises';
import { createLogger, type Logger } from './log.js';
import { RoutingTable } from './table/reader.js';
import { DEFAULT_DRAIN_TIMEOUT_MS, DEFAULT_MAX_BODY_BYTES, startServer, type RunningServer } from './server.js';
import type { AdminBackend } from './http/admin.js';

/** Options of `vmc serve` (the CLI maps its flags onto these). */
export interface ServeOptions {
  tablePath: string;
  /** Default 127.0.0.1 (SPEC §9). */
  host?: string;
  /** Default 8080. */
  port?: number;
  /** Default 1 (no cluster). */
  workers?: number;
  /** Request body limit in bytes; default 4 MiB. */
  maxBody?: number;
  /** Where the admin backend keeps its state (default: beside the table). Passed to `admin`. */
  stateDir?: string;
  /** Default `process.env.VMC_ADMIN_TOKEN`. */
  adminToken?: string;
  /** The admin backend, or a factory called once per serving process. */
  admin?: AdminBackend | ((ctx: { tablePath: string; stateDir?: string }) => AdminBackend | Promise<AdminBackend>);
  drainTimeoutMs?: number;
  /** Default: reload when the table file changes. */
  watch?: boolean;
  log?: Logger;
}

/** Handle of a running `serve` (single process or cluster primary). */
export interface ServeHandle {
  readonly port: number;
  /** Drains and stops (the worker processes, in cluster mode). Does not exit the process. */
  close(): Promise<void>;
}

interface ClusterMessage {
  vmc: 'listening' | 'swapped' | 'reload';
  port?: number;
}

/**
 * Runs the gateway until SIGTERM/SIGINT, then exits 0 after draining. Resolves once the
 * gateway listens (all workers, in cluster mode).
 */
export async function runServe(opts: ServeOptions): Promise<ServeHandle> {
  const log = opts.log ?? createLogger();
  const workers = Math.max(1, Math.floor(opts.workers ?? 1));
  if (workers > 1 && cluster.isPrimary) return runPrimary(opts, workers, log);
  return runWorker(opts, log);
}

async function runWorker(opts: ServeOptions, log: Logger): Promise<ServeHandle> {
  const admin = typeof opts.admin === 'function' ? await opts.admin({ tablePath: opts.tablePath, stateDir: opts.stateDir }) : opts.admin;
  let bytes: Uint8Array = await readFile(opts.tablePath);
  if (admin?.overlay !== undefined) bytes = await admin.overlay(bytes);
  const table = RoutingTable.decode(bytes);
  const inCluster = cluster.isWorker && typeof process.send === 'function';
  const server: RunningServer = await startServer({
    table,
    tablePath: opts.tablePath,
    host: opts.host ?? '127.0.0.1',
    port: opts.port ?? 8080,
    maxBodyBytes: opts.maxBody ?? DEFAULT_MAX_BODY_BYTES,
    adminToken: opts.adminToken ?? process.env.VMC_ADMIN_TOKEN,
    admin,
    log,
    watch: opts.watch ?? true,
    drainTimeoutMs: opts.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS,
    onSwap: (_t, reason) => {
      if (inCluster && reason === 'admin') process.send!({ vmc: 'swapped' } satisfies ClusterMessage);
    },
  });

  const reload = () => {
    server.reloadFromFile().catch((err: Error) => log.error('reload failed; the previous table stays in service', { error: err.message }));
  };
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('draining', { signal });
    server.close().then(
      () => process.exit(0),
      (err: Error) => {
        log.error('drain failed', { error: err.message });
        process.exit(1);
      },
    );
  };
  process.on('SIGHUP', reload);
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  if (inCluster) {
    process.on('message', (m: ClusterMessage) => {
      if (m?.vmc === 'reload') reload();
    });
    process.send!({ vmc: 'listening', port: server.port } satisfies ClusterMessage);
  }
  return {
    port: server.port,
    close: () => server.close(),
  };
}

async function runPrimary(opts: ServeOptions, n: number, log: Logger): Promise<ServeHandle> {
  const port = opts.port ?? 8080;
  if (port === 0) throw new Error('--workers > 1 needs a fixed --port (the workers share it through SO_REUSEPORT)');
  // Fail fast in the primary on an unreadable or corrupt table, before forking anything.
  RoutingTable.decode(await readFile(opts.tablePath));

  let stopping = false;
  const live = new Set<Worker>();
  let ready = 0;
  let onAllReady: (() => void) | null = null;
  const allReady = new Promise<void>((r) => {
    onAllReady = r;
  });

  const fork = (): Worker => {
    const w = cluster.fork();
    live.add(w);
    w.on('message', (m: ClusterMessage) => {
      if (m?.vmc === 'listening') {
        ready++;
        if (ready === n) onAllReady?.();
      } else if (m?.vmc === 'swapped') {
        for (const other of live) if (other !== w && other.isConnected()) other.send({ vmc: 'reload' } satisfies ClusterMessage);
      }
    });
    w.on('exit', (code, signal) => {
      live.delete(w);
      if (!stopping) {
        log.warn('worker exited; restarting', { pid: w.process.pid, code, signal });
        fork();
      }
    });
    return w;
  };
  for (let i = 0; i < n; i++) fork();

  const close = async (): Promise<void> => {
    stopping = true;
    const exits = [...live].map((w) => new Promise<void>((r) => (w.isDead() ? r() : w.once('exit', () => r()))));
    for (const w of live) w.process.kill('SIGTERM');
    await Promise.all(exits);
  };
  process.on('SIGHUP', () => {
    for (const w of live) if (w.isConnected()) w.send({ vmc: 'reload' } satisfies ClusterMessage);
  });
  const stop = (signal: string) => {
    if (stopping) return;
    log.info('draining workers', { signal, workers: live.size });
    close().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  await allReady;
  log.info('cluster listening', { host: opts.host ?? '127.0.0.1', port, workers: n });
  return { port, close };
}
