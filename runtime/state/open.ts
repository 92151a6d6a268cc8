/**
 * Picks the state store of a gateway (SPEC §9, §14): `--state redis://…` (or
 * `VMC_STATE_URL`) → Redis; otherwise the local state file. With Redis the local file is not
 * used at all: when one exists (left from running without `--state`) a `warn` line says it
 * is ignored, so an operator does not believe its changes are served.
 */
import { access } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Logger } from '../log.js';
import { mergeAdminStates } from './admin-state.js';
import { FileStateStore } from './file-store.js';
import type { StateStore } from './store.js';
import { parseStateUrl } from './url.js';

export interface OpenStateOptions {
  /** `--state` / `VMC_STATE_URL`; absent or empty = the local file. */
  url?: string;
  /** The local state file (`<table>.admin.json` or in `--state-dir`). */
  filePath: string;
  log?: Logger;
  /** Redis: reconciliation period (tests shorten it). */
  reconcileMs?: number;
  /** Redis: how long the start waits for a first answer before starting degraded. Default 5000 ms. */
  waitMs?: number;
}

/** The local state file of a table: `<stateDir or the table's directory>/<table file>.admin.json` (SPEC §9). */
export function stateFilePath(tablePath: string, stateDir?: string): string {
  return join(stateDir ?? dirname(tablePath), basename(tablePath) + '.admin.json');
}

/** The `--state` value in effect: the flag, else `VMC_STATE_URL`, else none. */
export function stateUrlFrom(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const v = flag ?? env.VMC_STATE_URL;
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

export async function openStateStore(opts: OpenStateOptions): Promise<StateStore> {
  if (opts.url === undefined || opts.url === '') return new FileStateStore(opts.filePath);
  const target = parseStateUrl(opts.url); // a StateUrlError stops the start
  const exists = await access(opts.filePath).then(
    () => true,
    () => false,
  );
  if (exists) {
    opts.log?.warn('a local admin state file exists and is ignored: with --state the admin state lives in the store', {
      file: opts.filePath,
      store: target.display,
    });
  }
  // loaded only for a Redis store: ioredis costs start-up time and memory, and subclasses String
  // (runtime/fast-prototypes.ts)
  const { RedisStateStore } = await import('./redis-store.js');
  return RedisStateStore.open({
    target,
    log: opts.log,
    reconcileMs: opts.reconcileMs,
    waitMs: opts.waitMs,
    merge: mergeAdminStates,
  });
}
