/**
 * The access line of a request served with caller keys on (SPEC §12): the usual fields
 * (runtime/log.ts `logAccess`) plus `key_id` (null when no known key was presented) and
 * `user_path` (the caller's, narrowed by `x-vmc-user-path`; null before authentication).
 * Never the key.
 */
import type { Logger, RequestLogFields } from '../log.js';
import type { KeyEntry } from './ring.js';

/** RequestLogFields with the caller's key id and user path. */
export interface KeyedRequestLogFields extends RequestLogFields {
  key_id: string | null;
  user_path: string | null;
}

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
  if (log.level !== 'info') return;
  const fields: KeyedRequestLogFields = {
    method: req.method,
    path: req.url,
    status,
    virtual_model: virtualModel,
    target,
    attempts,
    ms: Math.round((performance.now() - startedAt) * 10) / 10,
    key_id: key === null ? null : key.id,
    user_path: userPath,
  };
  log.request(fields);
}
