/**
 * What a simulated provider does with one request (SPEC §11 `providers:`): its latency model
 * (time to first token, inter-token latency, output tokens) and its declared faults, with
 * per-model overrides. Pure logic: bench/sim/server.ts serves the decisions, the harness
 * reads the same specs to derive expected routing (a fault that fails every request of a
 * phase hands its share down the fallback order).
 *
 * The fault clock: windows (`from_s`, `for_s`) and flapping (`flap_s`) are seconds of load
 * time, which the harness sets (`setClock`) as the measured load of a gateway starts, pauses
 * and resumes. Before the clock first runs (warm-up) and on the baseline listener, no fault
 * fires.
 */
import { distribution, hash01, Rng, type Distribution, type DistributionSpec } from './random.js';

/** The kinds of faults besides an HTTP status. */
export const FAULT_KINDS = ['refuse', 'reset', 'silence', 'cut', 'slow', 'malformed'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** One declared fault, as the scenario writes it. */
export interface SimFault {
  /** Answer this HTTP status (with the wire format's error body). */
  status?: number;
  /** Or misbehave: refuse connections, reset them, stay silent, cut a stream, trickle, send a malformed chunk. */
  kind?: FaultKind;
  /** Share of requests it hits while active, 0..1 (default 1). */
  rate?: number;
  /** Active from this second of load time (default 0). */
  from_s?: number;
  /** … for this many seconds (default: to the end). */
  for_s?: number;
  /** Flapping: alternately on for `flap_s` seconds, off for `flap_s` seconds (within the window). */
  flap_s?: number;
  /** Sends `Retry-After` with this many seconds (429s, 503s). */
  retry_after_s?: number;
  /** `cut` and `malformed`: after this many tokens (default: half the answer). */
  after_tokens?: number;
  /** `slow`: time to first token and inter-token latency while the fault is active. */
  ttft_ms?: DistributionSpec;
  itl_ms?: DistributionSpec;
}

/** Latency model and faults; every field optional (provider defaults, then SIM_DEFAULTS). */
export interface SimModelSpec {
  ttft_ms?: DistributionSpec;
  itl_ms?: DistributionSpec;
  output_tokens?: DistributionSpec;
  faults?: SimFault[];
}

/** Wire format and URL layout of a simulated provider (its provider type). */
export type SimFormat = 'openai' | 'anthropic' | 'azure' | 'gemini' | 'vertex' | 'bedrock';

/** One simulated provider. */
export interface SimProviderSpec extends SimModelSpec {
  /** The config's provider name. */
  name: string;
  /** Wire format (the provider type's). */
  format: SimFormat;
  /** Fixed port for the faulty listener (default: ephemeral), e.g. for a gateway already running. */
  port?: number;
  /** Per-model overrides, by upstream model name. */
  models?: Record<string, SimModelSpec>;
}

/**
 * Defaults for a provider the scenario does not describe: a quick provider, so that the
 * baseline measures the gateway rather than waiting on timers.
 */
export const SIM_DEFAULTS: Required<Omit<SimModelSpec, 'faults'>> = { ttft_ms: 0, itl_ms: 0, output_tokens: 16 };

/** Salts of the keyed draws (random.ts `hash01`). */
const SALT_TTFT = 11;
const SALT_ITL = 12;
const SALT_TOKENS = 13;

/** What the provider does with one request. */
export const ACT_OK = 0;
export const ACT_STATUS = 1;
export const ACT_RESET = 2;
export const ACT_SILENCE = 3;
export const ACT_CUT = 4;
export const ACT_MALFORMED = 5;

/** One decision (a reused object per provider: the server reads it synchronously). */
export class Decision {
  action = ACT_OK;
  status = 200;
  retryAfterS = -1;
  ttftMs = 0;
  itlMs = 0;
  tokens = 1;
  /** Tokens sent before a cut or a malformed chunk. */
  afterTokens = 0;
  /** Index of the fault that fired (−1 = none): stats. */
  fault = -1;
}

/** A compiled fault. */
interface Fault {
  readonly spec: SimFault;
  readonly from: number;
  readonly until: number;
  readonly flap: number;
  readonly rate: number;
  readonly ttft: Distribution | null;
  readonly itl: Distribution | null;
}

/** A compiled latency model (provider level or one model's). */
class Model {
  readonly ttft: Distribution;
  readonly itl: Distribution;
  readonly tokens: Distribution;
  readonly faults: Fault[];
  constructor(spec: SimModelSpec, base: SimModelSpec) {
    this.ttft = distribution(spec.ttft_ms ?? base.ttft_ms ?? SIM_DEFAULTS.ttft_ms);
    this.itl = distribution(spec.itl_ms ?? base.itl_ms ?? SIM_DEFAULTS.itl_ms);
    this.tokens = distribution(spec.output_tokens ?? base.output_tokens ?? SIM_DEFAULTS.output_tokens);
    this.faults = (spec.faults ?? base.faults ?? []).map(compileFault);
  }
}

function compileFault(f: SimFault): Fault {
  const from = f.from_s ?? 0;
  return {
    spec: f,
    from,
    until: f.for_s === undefined ? Infinity : from + f.for_s,
    flap: f.flap_s ?? 0,
    rate: f.rate ?? 1,
    ttft: f.ttft_ms === undefined ? null : distribution(f.ttft_ms),
    itl: f.itl_ms === undefined ? null : distribution(f.itl_ms),
  };
}

/** Is fault `f` switched on at load time `t` (seconds)? (windows and flapping; not the rate) */
export function faultActiveAt(f: SimFault, t: number): boolean {
  const from = f.from_s ?? 0;
  if (t < from) return false;
  if (f.for_s !== undefined && t >= from + f.for_s) return false;
  if (f.flap_s !== undefined && f.flap_s > 0) return Math.floor((t - from) / f.flap_s) % 2 === 0;
  return true;
}

/**
 * The behaviour of one provider: decides per request. `seed` fixes the fault sampling (a
 * sequential stream per provider) and the latency sampling (keyed by the request's sequence
 * number when the request carries one, else sequential).
 */
export class ProviderBehavior {
  readonly spec: SimProviderSpec;
  readonly #seed: number;
  readonly #base: Model;
  readonly #models: Map<string, Model>;
  readonly #faultRng: Rng;
  readonly #latencyRng: Rng;
  readonly decision = new Decision();

  constructor(spec: SimProviderSpec, seed: number) {
    this.spec = spec;
    this.#seed = seed >>> 0;
    this.#base = new Model(spec, {});
    this.#models = new Map(Object.entries(spec.models ?? {}).map(([m, s]) => [m, new Model(s, spec)]));
    this.#faultRng = new Rng(seed ^ 0x5bd1e995);
    this.#latencyRng = new Rng(seed ^ 0x1b873593);
  }

  /** Faults in force for `model` (its override's, else the provider's). */
  faultsFor(model: string): readonly SimFault[] {
    return (this.#models.get(model) ?? this.#base).faults.map((f) => f.spec);
  }

  /**
   * Decides what to do with a request for `model` with sequence number `seq` (−1 when the
   * request carries none) at load time `t` seconds (NaN: the fault clock has not started,
   * or this is the baseline listener — no fault fires).
   */
  decide(model: string, seq: number, t: number, maxTokens: number): Decision {
    const m = this.#models.get(model) ?? this.#base;
    const d = this.decision;
    const u = (salt: number) => (seq >= 0 ? hash01(this.#seed, seq, salt) : this.#latencyRng.next());
    d.action = ACT_OK;
    d.status = 200;
    d.retryAfterS = -1;
    d.fault = -1;
    d.ttftMs = Math.max(0, m.ttft.sample(u(SALT_TTFT)));
    d.itlMs = Math.max(0, m.itl.sample(u(SALT_ITL)));
    let tokens = Math.max(1, Math.round(m.tokens.sample(u(SALT_TOKENS))));
    if (maxTokens > 0 && tokens > maxTokens) tokens = maxTokens;
    d.tokens = tokens;
    d.afterTokens = 0;
    if (t !== t) return d; // NaN: no faults
    const faults = m.faults;
    for (let i = 0; i < faults.length; i++) {
      const f = faults[i];
      if (t < f.from || t >= f.until) continue;
      if (f.flap > 0 && Math.floor((t - f.from) / f.flap) % 2 !== 0) continue;
      if (f.rate < 1 && this.#faultRng.next() >= f.rate) continue;
      const kind = f.spec.kind;
      if (kind === 'refuse') continue; // connection-level: the server stops listening (server.ts)
      d.fault = i;
      if (f.spec.retry_after_s !== undefined) d.retryAfterS = f.spec.retry_after_s;
      if (kind === undefined) {
        d.action = ACT_STATUS;
        d.status = f.spec.status ?? 500;
      } else if (kind === 'reset') d.action = ACT_RESET;
      else if (kind === 'silence') d.action = ACT_SILENCE;
      else if (kind === 'cut' || kind === 'malformed') {
        d.action = kind === 'cut' ? ACT_CUT : ACT_MALFORMED;
        d.afterTokens = Math.min(tokens, f.spec.after_tokens ?? Math.floor(tokens / 2));
      } else if (kind === 'slow') {
        if (f.ttft !== null) d.ttftMs = Math.max(0, f.ttft.sample(u(SALT_TTFT)));
        if (f.itl !== null) d.itlMs = Math.max(0, f.itl.sample(u(SALT_ITL)));
      }
      return d;
    }
    return d;
  }

  /** Refuse faults of the whole provider (connection-level; windows and flapping only). */
  refuseFaults(): SimFault[] {
    const all = [...this.#base.faults, ...[...this.#models.values()].flatMap((m) => m.faults)];
    return all.filter((f) => f.spec.kind === 'refuse').map((f) => f.spec);
  }
}
