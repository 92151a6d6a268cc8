/**
 * The admin API's compile step — base table + admin overlay → table bytes — and where it runs.
 *
 * A compile takes tens to hundreds of milliseconds (the front end, validation, lowering); on
 * the gateway's event loop that is inference latency for every request in flight (issue 8:
 * p99 3 → 101 ms, max 809 ms during an admin burst). So by default it runs in a
 * worker_thread ({@link CompileThread}) started on first use and ended after a quiet minute
 * (kept warm instead when replicas share a state store, SPEC §14);
 * the event loop only posts the base bytes and the overlay and receives the table bytes.
 *
 * Only the table is produced (`lowerTable`): the admin API has no use for the typed client or
 * the manifest, and the client emitter loads ts-morph.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { RoutingTable } from '../../runtime/table/reader.js';
import { compileDocuments } from '../frontend.js';
import { lowerTable } from '../lower.js';
import { denormalize } from './denormalize.js';

type Json = Record<string, unknown>;

/** What to compile: the table file's bytes with the admin changes laid over them. */
export interface OverlayInput {
  base: Uint8Array;
  upserts: Record<string, Json>;
  deletes: readonly string[];
  /** Name of the document in diagnostics (the state file). */
  docPath: string;
}

/** A compiler diagnostic as the admin API reports it. */
export interface AdminDiagnostic {
  code: string;
  message: string;
  hint?: string;
}

export type OverlayOutput = { bytes: Uint8Array } | { diagnostics: AdminDiagnostic[] };

/** Base + overlay → table bytes, or the compiler's error diagnostics. Runs on the calling thread. */
export async function compileOverlay(input: OverlayInput): Promise<OverlayOutput> {
  const native = denormalize(RoutingTable.decode(input.base).toNormalized());
  const vms = native.virtual_models as Json;
  for (const name of input.deletes) delete vms[name];
  for (const [name, body] of Object.entries(input.upserts)) vms[name] = body;
  // JSON is YAML: the front end reads this text with positions like any config file. It is
  // named after the state file, where the admin changes it carries are kept.
  const doc = { path: input.docPath, text: JSON.stringify(native, null, 1), kind: 'yaml' as const };
  const front = await compileDocuments([doc]);
  if (front.config === null) {
    return {
      diagnostics: front.diagnostics
        .filter((d) => d.severity === 'error')
        .map((d) => (d.hint === undefined ? { code: d.code, message: d.message } : { code: d.code, message: d.message, hint: d.hint })),
    };
  }
  return { bytes: lowerTable(front.config) };
}

/** Runs {@link compileOverlay} somewhere: on this thread or in a worker thread. */
export interface OverlayCompiler {
  /** 'thread' when compiles run off the event loop. */
  readonly where: 'thread' | 'inline';
  compile(input: OverlayInput): Promise<OverlayOutput>;
  /** Ends the worker thread, if any (the next compile starts a new one). */
  close(): Promise<void>;
}

export const inlineCompiler: OverlayCompiler = {
  where: 'inline',
  compile: compileOverlay,
  close: async () => undefined,
};

/**
 * The thread's entry module: the built `compile-worker.js` beside this module; when this
 * module runs from its TypeScript source (tests in a source checkout), the built copy in
 * dist/. Null when neither exists.
 */
export function compileWorkerScript(): URL | null {
  for (const rel of ['./compile-worker.js', '../../dist/compiler/tools/compile-worker.js']) {
    const url = new URL(rel, import.meta.url);
    if (existsSync(fileURLToPath(url))) return url;
  }
  return null;
}

interface Pending {
  resolve(out: OverlayOutput): void;
  reject(err: Error): void;
}

/** Messages from compile-worker.ts. */
export type CompileReply =
  { id: number; bytes: Uint8Array } | { id: number; diagnostics: AdminDiagnostic[] } | { id: number; error: string };

/**
 * A worker thread that compiles overlays, one message per compile. Started on first use; ended
 * after `idleMs` without a compile; unref'd, so it never keeps a process alive. A thread that
 * dies fails the compiles in flight and is replaced by the next compile.
 */
export class CompileThread implements OverlayCompiler {
  readonly where = 'thread' as const;
  #worker: Worker | null = null;
  #next = 1;
  #pending = new Map<number, Pending>();
  #idle: NodeJS.Timeout | null = null;

  constructor(
    readonly script: URL,
    readonly idleMs = 60_000,
  ) {}

  #start(): Worker {
    const w = new Worker(this.script);
    w.unref();
    w.on('message', (m: CompileReply) => {
      const p = this.#pending.get(m.id);
      if (p === undefined) return;
      this.#pending.delete(m.id);
      if ('error' in m) p.reject(new Error(`admin compile failed: ${m.error}`));
      else p.resolve('bytes' in m ? { bytes: m.bytes } : { diagnostics: m.diagnostics });
      this.#armIdle();
    });
    const fail = (err: Error) => {
      if (this.#worker === w) this.#worker = null;
      for (const p of this.#pending.values()) p.reject(err);
      this.#pending.clear();
    };
    w.on('error', (err) => fail(new Error(`admin compile thread failed: ${err.message}`)));
    w.on('exit', (code) => fail(new Error(`admin compile thread exited (${code})`)));
    return w;
  }

  #armIdle(): void {
    if (this.#idle !== null) clearTimeout(this.#idle);
    this.#idle = null;
    if (this.#pending.size > 0 || !Number.isFinite(this.idleMs)) return;
    this.#idle = setTimeout(() => void this.close(), this.idleMs);
    this.#idle.unref();
  }

  /**
   * Starts the thread now (it loads the compiler meanwhile), so that the first compile does
   * not pay for it: with a shared state store a change from another replica must be served
   * within a second (SPEC §14), and a cold thread takes about that long on a busy machine.
   */
  warm(): void {
    this.#worker ??= this.#start();
    this.#armIdle();
  }

  compile(input: OverlayInput): Promise<OverlayOutput> {
    if (this.#idle !== null) clearTimeout(this.#idle);
    this.#idle = null;
    this.#worker ??= this.#start();
    const id = this.#next++;
    return new Promise<OverlayOutput>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      // The base is copied (not transferred): the caller keeps serving it.
      this.#worker!.postMessage({ id, ...input });
    });
  }

  async close(): Promise<void> {
    if (this.#idle !== null) clearTimeout(this.#idle);
    this.#idle = null;
    const w = this.#worker;
    this.#worker = null;
    if (w !== null) await w.terminate();
  }
}

/**
 * The compiler the admin backend uses: a worker thread unless `inline` is asked or no built
 * thread script exists. `keepWarm`: the thread starts now and never ends for being idle (it
 * is unref'd all the same) — for replicas sharing a state store, where changes arrive from
 * elsewhere at any time and must apply within a second.
 */
export function overlayCompiler(where: 'thread' | 'inline' = 'thread', keepWarm = false): OverlayCompiler {
  const script = where === 'thread' ? compileWorkerScript() : null;
  if (script === null) return inlineCompiler;
  const t = new CompileThread(script, keepWarm ? Infinity : 60_000);
  if (keepWarm) t.warm();
  return t;
}
