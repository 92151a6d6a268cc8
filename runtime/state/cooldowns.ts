/**
 * Shared cooldowns (SPEC §14): a target ejected by one replica is skipped by every replica
 * for the rest of its ejection time.
 *
 * What is shared is the *decision* (this target is out until then), not the evidence: the
 * failure counts, failure-rate windows and latency averages that lead to it stay per
 * replica (runtime/routing/health.ts). Sharing those would put Redis on every upstream
 * attempt's path — a round trip per request, and inference failing or stalling when Redis
 * does — while the decision is rare (one message per ejection) and is what saves the other
 * replicas from paying for a dead provider. Latency averages are per replica on purpose too:
 * each replica measures its own network path to a provider. Half-open probes stay per
 * replica: when the time is up each replica probes with one request of its own.
 *
 * Targets are named across replicas by what the table says, not by their ids (ids differ
 * between two builds of a table, e.g. during a rolling update): the virtual model's name,
 * the target's `provider/model`, and which occurrence of that pair it is in the virtual
 * model's list.
 */
import type { RoutingTable } from '../table/reader.js';
import type { Logger } from '../log.js';
import type { StateStore } from './store.js';

/** What the bridge needs of a generation's health state (runtime/routing/health.ts HealthState). */
export interface CooldownHealth {
  /**
   * Ejects t until `untilMs` as another replica decided, unless it is ejected longer already
   * or ejecting it would leave its pool without targets. True when it took effect.
   */
  honourCooldown(t: number, untilMs: number, nowMs: number): boolean;
  /** Set by the bridge: called when this replica ejects t, until `untilMs` (this clock). */
  onEject: ((t: number, untilMs: number) => void) | null;
}

/** Stable names of a table's targets, indexed by target id (see the module comment). */
export function cooldownNames(table: RoutingTable): string[] {
  const names = new Array<string>(table.targetCount).fill('');
  for (let vm = 0; vm < table.vmCount; vm++) {
    const first = table.vmFirstTarget(vm);
    const seen = new Map<string, number>();
    for (let i = 0; i < table.vmTargetCount(vm); i++) {
      const t = first + i;
      const label = `${table.providerName(table.targetProvider(t))}/${table.targetModel(t)}`;
      const n = seen.get(label) ?? 0;
      seen.set(label, n + 1);
      names[t] = JSON.stringify([table.vmName(vm), label, n]);
    }
  }
  return names;
}

/**
 * Connects the health state of the generation in service to a shared store: this replica's
 * ejections are announced, other replicas' are honoured. {@link attach} is called for each
 * new generation (a reload starts fresh health state; the cooldowns still running are applied
 * to it at once).
 */
export class CooldownBridge {
  readonly #store: StateStore;
  readonly #log: Logger | undefined;
  #health: CooldownHealth | null = null;
  #names: string[] = [];
  #byName = new Map<string, number>();
  #unsubscribe: (() => void) | null = null;

  constructor(store: StateStore, log?: Logger) {
    this.#store = store;
    this.#log = log;
    if (store.shared) this.#unsubscribe = store.onCooldown((name, remainingMs) => this.#honour(name, Date.now() + remainingMs));
  }

  attach(table: RoutingTable, health: CooldownHealth): void {
    if (!this.#store.shared) return;
    if (this.#health !== null) this.#health.onEject = null;
    this.#health = health;
    this.#names = cooldownNames(table);
    this.#byName = new Map(this.#names.map((n, t) => [n, t]));
    health.onEject = (t, untilMs) => {
      const name = this.#names[t];
      if (name !== undefined && name !== '') this.#store.shareCooldown(name, untilMs - Date.now());
    };
    for (const [name, end] of this.#store.cooldowns()) this.#honour(name, end);
  }

  close(): void {
    this.#unsubscribe?.();
    if (this.#health !== null) this.#health.onEject = null;
    this.#health = null;
  }

  #honour(name: string, untilMs: number): void {
    const t = this.#byName.get(name);
    if (t === undefined || this.#health === null) return; // not a target of the table in service
    const now = Date.now();
    if (untilMs <= now) return;
    if (this.#health.honourCooldown(t, untilMs, now)) {
      this.#log?.info('cooldown honoured (opened by another replica)', { target: name, remaining_ms: Math.round(untilMs - now) });
    }
  }
}
