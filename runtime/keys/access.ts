/**
 * The access line of a request served with caller keys on (SPEC §12): the usual fields
 * (runtime/log.ts `logAccess`) plus `key_id` (null when no known key was presented) and
 * `user_path` (the caller's, narrowed by `x-vmc-user-path`; null before authentication).
 * Never the key.
 */
import { logAccess, type Logger } from '../log.js';
import type { KeyEntry } from './ring.js';

export function logKeyedAccess(
  log: Logger,
  req: { readonly method: string; readonly url: string },
  status: number,
  startedAt: number,
  key: KeyEntry | null,
  userPath: string | null,
  virtualModel: string | null = null,
  target: string | null = null,
  attempts = 0,
): void {
  logAccess(log, req, status, startedAt, virtualModel, target, attempts, { keyId: key === null ? null : key.id, userPath });
}
