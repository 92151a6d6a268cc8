/**
 * Expected routing (SPEC §11 "Expected shares come from the compiled table"): for each
 * request, the target shares its routing config gives it — its metadata, user path and
 * sticky key applied — computed by `vmc explain`'s function (compiler/tools/explain.ts),
 * which runs the gateway's own resolution and strategy rules on the table.
 *
 * Declared faults: a target whose faults fail every request of a phase (rate 1 and a window
 * covering the phase, with a failure the target falls back on: a status in its
 * `fallback_on`, a refused or reset connection, silence, or a slow first token past its
 * `sla.max_ttft_ms`) hands its share down the try order the gateway would follow after
 * picking it. Partial faults (rate < 1, shorter windows, flapping) leave expected shares
 * unchanged. Requests the table refuses (403, 404, 400) have no shares, only an expected
 * status.
 */
import { explainRoute, EXPLAIN_ENDPOINTS, type ExplainResult } from '../../compiler/tools/explain.js';
import type { RoutingTable } from '../../runtime/table/reader.js';
import type { SimFault, SimProviderSpec } from '../sim/behavior.js';
import { distribution } from '../sim/random.js';
import type { Expectations, WorkloadPlan } from './plan.js';

/** A clock range of load time, seconds. */
export interface ClockRange {
  from: number;
  to: number;
}

interface ProfileTarget {
  label: string;
  provider: string;
  model: string;
  fallbackOn: number[];
  maxTtftMs: number;
  /** In the strategy's pick set (the primary pool; priority: its lowest tier). */
  pickable: boolean;
  /** Share of picks, 0..1 (sticky / only: 1 for the chosen one). */
  share: number;
  /** Try order after picking this target (indices into targets), this target first. */
  plan: number[];
}

/** What the table decides for one kind of request. */
export interface RouteProfile {
  /** HTTP status the gateway answers before going upstream; 200 = it proxies. */
  status: number;
  /** false when the strategy measures (latency): shares unknown. */
  known: boolean;
  sticky: boolean;
  targets: ProfileTarget[];
  /** Expected share by label for a dead-set key, cached. */
  cache: Map<string, Map<string, number>>;
}

export interface RequestFacts {
  headers: Record<string, string>;
  metadata: Record<string, string> | null;
  userPath: string | null;
}

/** Per-(provider, model) fault lists of the simulated providers. */
export class FaultBook {
  readonly #specs: Map<string, SimProviderSpec>;
  constructor(sims: readonly SimProviderSpec[]) {
    this.#specs = new Map(sims.map((s) => [s.name, s]));
  }

  faults(provider: string, model: string): readonly SimFault[] {
    const s = this.#specs.get(provider);
    if (s === undefined) return [];
    const own = s.models?.[model]?.faults ?? s.faults ?? [];
    const refuse = (s.faults ?? []).filter((f) => f.kind === 'refuse');
    return own === s.faults ? own : [...own, ...refuse];
  }

  /** Outage windows (rate 1, a window, no flapping) of every provider, for the cooldown metrics. */
  outages(): { provider: string; models: string[] | null; fault: SimFault; from: number; to: number }[] {
    const out: { provider: string; models: string[] | null; fault: SimFault; from: number; to: number }[] = [];
    for (const s of this.#specs.values()) {
      const add = (f: SimFault, models: string[] | null) => {
        if ((f.rate ?? 1) < 1 || f.flap_s !== undefined || (f.from_s === undefined && f.for_s === undefined)) return;
        if (f.kind !== undefined && f.kind !== 'refuse' && f.kind !== 'reset' && f.kind !== 'silence') return;
        const from = f.from_s ?? 0;
        out.push({ provider: s.name, models, fault: f, from, to: f.for_s === undefined ? Infinity : from + f.for_s });
      };
      for (const f of s.faults ?? []) add(f, null);
      for (const [m, spec] of Object.entries(s.models ?? {})) for (const f of spec.faults ?? []) add(f, [m]);
    }
    return out;
  }
}

/** Does fault `f` fail every request of the range for a target with these settings (so it falls back)? */
function kills(f: SimFault, range: ClockRange, fallbackOn: readonly number[], maxTtftMs: number): boolean {
  if ((f.rate ?? 1) < 1 || f.flap_s !== undefined) return false;
  const from = f.from_s ?? 0;
  const to = f.for_s === undefined ? Infinity : from + f.for_s;
  if (from > range.from + 1e-9 || to < range.to - 1e-9) return false;
  if (f.kind === undefined) return fallbackOn.includes(f.status ?? 500);
  if (f.kind === 'refuse' || f.kind === 'reset' || f.kind === 'silence') return true;
  if (f.kind === 'slow' && maxTtftMs > 0 && f.ttft_ms !== undefined) {
    const d = f.ttft_ms;
    const least = typeof d === 'number' ? d : 'min' in d ? d.min : distribution(d).sample(1e-9);
    return least > maxTtftMs;
  }
  return false;
}

/** Expectations of one gateway's routing: profiles per kind of request. */
export class RouteExpectations {
  readonly table: RoutingTable;
  readonly #faults: FaultBook;
  readonly #profiles = new Map<string, RouteProfile>();
  /** Sticky header names / metadata keys per model name (what makes profiles differ). */
  readonly #stickyOf = new Map<string, { source: string; key: string }[]>();

  constructor(e: Expectations, faults: FaultBook) {
    this.table = e.table;
    this.#faults = faults;
  }

  #sticky(model: string): { source: string; key: string }[] {
    let s = this.#stickyOf.get(model);
    if (s === undefined) {
      const vm = this.table.lookupString(model);
      s = vm >= 0 && this.table.vmIsSticky(vm) ? this.table.vmStickyKeys(vm) : [];
      this.#stickyOf.set(model, s);
    }
    return s;
  }

  /** The profile of a request (cached by what can change the decision). */
  profile(w: WorkloadPlan, facts: RequestFacts): RouteProfile {
    const sticky = this.#sticky(w.model);
    let key = `${w.model}\u0000${w.endpoint}\u0000${facts.userPath ?? ''}\u0000${facts.metadata === null ? '' : JSON.stringify(facts.metadata)}\u0000${facts.headers['x-vmc-metadata'] ?? ''}\u0000${facts.headers['x-vmc-user-path'] ?? ''}`;
    for (const k of sticky) key += `\u0000${k.source === 'header' ? (facts.headers[k.key] ?? '') : (facts.metadata?.[k.key] ?? '')}`;
    let p = this.#profiles.get(key);
    if (p === undefined) {
      if (this.#profiles.size > 200_000) this.#profiles.clear();
      p = buildProfile(
        explainRoute(this.table, w.model, {
          headers: facts.headers,
          metadata: facts.metadata,
          userPath: facts.userPath,
          endpoint: EXPLAIN_ENDPOINTS[w.endpoint],
          draw: null,
        }),
      );
      this.#profiles.set(key, p);
    }
    return p;
  }

  /** Labels dead in a range among a profile's targets, as a cache key and a set. */
  #dead(p: RouteProfile, range: ClockRange): { key: string; dead: boolean[] } {
    const dead = p.targets.map((t) => this.#faults.faults(t.provider, t.model).some((f) => kills(f, range, t.fallbackOn, t.maxTtftMs)));
    return { key: dead.map((d) => (d ? 1 : 0)).join(''), dead };
  }

  /**
   * Expected share by label for a request of this profile in a clock range: the picks,
   * handed down past dead targets. Empty when the table refuses the request, when shares
   * are unknown, or when every target is dead.
   */
  expected(p: RouteProfile, range: ClockRange): Map<string, number> {
    if (p.status !== 200 || !p.known) return EMPTY;
    const { key, dead } = this.#dead(p, range);
    let m = p.cache.get(key);
    if (m === undefined) {
      m = new Map();
      let total = 0;
      for (const t of p.targets) {
        if (t.share <= 0) continue;
        const served = t.plan.find((j) => !dead[j]);
        if (served === undefined) continue;
        const label = p.targets[served].label;
        m.set(label, (m.get(label) ?? 0) + t.share);
        total += t.share;
      }
      if (total > 0) for (const [k, v] of m) m.set(k, v / total);
      p.cache.set(key, m);
    }
    return m;
  }

  /** Share of picks that land on a dead target (the requests that pay for it) in a range. */
  deadShare(p: RouteProfile, range: ClockRange, deadLabels: ReadonlySet<string>): number {
    if (p.status !== 200 || !p.known) return 0;
    let s = 0;
    for (const t of p.targets) if (t.share > 0 && deadLabels.has(t.label)) s += t.share;
    return s;
  }
}

const EMPTY: Map<string, number> = new Map();

function buildProfile(r: ExplainResult): RouteProfile {
  const status = r.status === 'ok' ? 200 : r.httpStatus;
  const targets: ProfileTarget[] = r.targets.map((t) => {
    const slash = t.target.indexOf('/');
    return {
      label: t.target,
      provider: t.target.slice(0, slash),
      model: t.target.slice(slash + 1),
      fallbackOn: t.fallbackOn,
      maxTtftMs: t.maxTtftMs,
      pickable: t.pickable,
      share: 0,
      plan: [],
    };
  });
  const index = (label: string) => targets.findIndex((t) => t.label === label);
  const profile: RouteProfile = { status, known: true, sticky: r.pick === 'sticky', targets, cache: new Map() };
  if (status !== 200) return profile;
  if (r.pick === 'random') {
    if (r.targets.some((t) => t.pickable && t.share === null)) {
      profile.known = false;
      return profile;
    }
    const order = r.fallbackOrder.map(index);
    r.targets.forEach((t, i) => {
      const share = t.share ?? 0;
      if (!t.pickable || share <= 0) return;
      targets[i].share = share;
      targets[i].plan = [i, ...order.filter((j) => j !== i)];
    });
  } else if (r.chosen !== null) {
    if (r.pick === 'explore') {
      profile.known = false;
      return profile;
    }
    const i = index(r.chosen);
    targets[i].share = 1;
    targets[i].plan = [i, ...r.fallbackOrder.map(index)];
  } else profile.known = false;
  return profile;
}
