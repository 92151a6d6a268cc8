/**
 * Caller-key metrics (SPEC §12: metrics may carry a key's id, never the key), appended to
 * `GET /metrics`:
 *
 *   vmc_key_requests_total{key_id,user_path,status}   counter, answers to authenticated requests
 *                                                      (user_path: the key's, not the narrowed
 *                                                      header — a client cannot mint series)
 *   vmc_key_auth_failures_total{reason}               counter, 401s: missing | unknown | disabled | expired
 *
 * With `--workers N` each worker sends a {@link KeyMetricsSnapshot} with its other metrics and
 * the cluster primary adds them up (runtime/serve.ts), like runtime/metrics.ts.
 */
import { compareStrings } from '../table/util.js';

/** The answers to one key's requests by status. */
export class KeySeries {
  readonly requests = new Map<number, number>();
  constructor(
    readonly keyId: string,
    readonly userPath: string,
  ) {}

  count(status: number): void {
    this.requests.set(status, (this.requests.get(status) ?? 0) + 1);
  }
}

export interface KeyMetricsSnapshot {
  /** [key id, user path, status, count]. */
  requests: [string, string, number, number][];
  failures: [string, number][];
}

export class KeyMetrics {
  readonly #series = new Map<string, KeySeries>();
  readonly failures = new Map<string, number>();

  /** The series of a key, created on first use. Cold: key entries hold theirs. */
  series(keyId: string, userPath: string): KeySeries {
    const k = keyId + '\u0000' + userPath;
    let s = this.#series.get(k);
    if (s === undefined) {
      s = new KeySeries(keyId, userPath);
      this.#series.set(k, s);
    }
    return s;
  }

  countFailure(reason: string): void {
    this.failures.set(reason, (this.failures.get(reason) ?? 0) + 1);
  }

  snapshot(): KeyMetricsSnapshot {
    const requests: [string, string, number, number][] = [];
    for (const s of this.#series.values()) for (const [status, n] of s.requests) requests.push([s.keyId, s.userPath, status, n]);
    return { requests, failures: [...this.failures] };
  }

  absorb(snap: KeyMetricsSnapshot): void {
    for (const [id, path, status, n] of snap.requests) {
      const s = this.series(id, path);
      s.requests.set(status, (s.requests.get(status) ?? 0) + n);
    }
    for (const [reason, n] of snap.failures) this.failures.set(reason, (this.failures.get(reason) ?? 0) + n);
  }

  /** Prometheus text of the key series (appended to the gateway's). */
  render(): string {
    const out: string[] = [
      '# HELP vmc_key_requests_total Answers to requests authenticated with a caller key, by key id.',
      '# TYPE vmc_key_requests_total counter',
    ];
    const all = [...this.#series.values()].sort((a, b) => compareStrings(a.keyId, b.keyId) || compareStrings(a.userPath, b.userPath));
    for (const s of all) {
      for (const status of [...s.requests.keys()].sort((a, b) => a - b)) {
        out.push(
          `vmc_key_requests_total{key_id="${esc(s.keyId)}",user_path="${esc(s.userPath)}",status="${status}"} ${s.requests.get(status)}`,
        );
      }
    }
    out.push(
      '# HELP vmc_key_auth_failures_total Requests refused 401 by caller-key authentication.',
      '# TYPE vmc_key_auth_failures_total counter',
    );
    for (const reason of [...this.failures.keys()].sort(compareStrings))
      out.push(`vmc_key_auth_failures_total{reason="${esc(reason)}"} ${this.failures.get(reason)}`);
    return out.join('\n') + '\n';
  }
}

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
