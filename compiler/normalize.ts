/**
 * Phase 4 — normalize: native-form virtual models → NormConfig (runtime/table/normalized.ts),
 * with every SPEC §2 default filled in, redirect chains flattened and every target resolved to
 * a catalogued `provider/model`.
 *
 * Resolution rules (docs/config.md "Resolution"):
 * - a target string splits at its FIRST `/`: provider before, model after (models may contain `/`);
 * - a target that names a catalogued `provider/model` is always that concrete model, even when
 *   a virtual model of the same name shadows it;
 * - otherwise a redirect may name another virtual model and inherits its strategy, sticky and
 *   targets (name, slug, description, enabled, user_paths, model_types and middleware stay its
 *   own); cycles are VMC2003; a pool naming a virtual model is VMC2013;
 * - a body without target is an access policy: its own name must be catalogued (VMC2014).
 */
import {
  DEFAULT_FALLBACK_ON,
  DEFAULT_RETRY,
  type NormConfig,
  type NormMiddlewareCall,
  type NormAuth,
  type NormProvider,
  type NormProviderOptions,
  type NormSticky,
  type NormTarget,
  type NormVirtualModel,
  type Strategy,
  type VirtualModelKind,
} from '../runtime/table/normalized.js';
import type { MiddlewareCall, NativeVirtualModel, ProviderAuth, ProviderConfig, TargetConfig } from './config-types.gen.js';
import { DEFAULT_AWS_CREDENTIALS_ENV, DEFAULT_GOOGLE_CREDENTIALS_ENV, defaultBaseUrl } from '../runtime/table/provider-types.js';
import type { DiagnosticLog, Span } from './diagnostics.js';
import type { JsonPath } from './load.js';
import type { MergedConfig } from './merge.js';
import type { NativeModel } from './rewrite.js';
import { closest } from './suggest.js';
import { compareStrings, isObject } from '../runtime/table/util.js';
import { normalizeConfigUserPath } from '../runtime/table/user-path.js';

/** The catalogued models: provider name → its models. */
export class Catalog {
  readonly #providers = new Map<string, Set<string>>();

  constructor(merged: MergedConfig) {
    for (const p of merged.providers) {
      // Even a provider with schema errors keeps its model list when it has one, so its
      // targets do not cascade into "unknown target" errors.
      const models = (p.value as { models?: unknown } | null)?.models;
      this.#providers.set(p.name, new Set(Array.isArray(models) ? models.filter((m) => typeof m === 'string') : []));
    }
  }

  hasProvider(name: string): boolean {
    return this.#providers.has(name);
  }

  providerNames(): string[] {
    return [...this.#providers.keys()];
  }

  /** Whether `name` is a catalogued `provider/model`. */
  has(name: string): boolean {
    const t = splitTarget(name);
    return t !== undefined && this.#providers.get(t.provider)?.has(t.model) === true;
  }

  /** Every catalogued `provider/model`, for "did you mean" hints. */
  names(): string[] {
    return [...this.#providers].flatMap(([p, models]) => [...models].map((m) => `${p}/${m}`));
  }
}

/** `openai/gpt-4o` → {provider: openai, model: gpt-4o}; splits at the first `/`. */
export function splitTarget(target: string): { provider: string; model: string } | undefined {
  const i = target.indexOf('/');
  if (i <= 0 || i === target.length - 1) return undefined;
  return { provider: target.slice(0, i), model: target.slice(i + 1) };
}

/** JSON text with object keys sorted recursively: equal values give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (isObject(v)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort(compareStrings)) {
      Object.defineProperty(out, k, { value: sortKeys(v[k]), enumerable: true });
    }
    return out;
  }
  return v;
}

const compareNumbers = (a: number, b: number): number => a - b;

/** `xs` sorted by `compare` without repeats (strings: {@link compareStrings}; numbers: {@link compareNumbers}). */
function sortedUnique<T extends string | number>(xs: readonly T[], compare: (a: T, b: T) => number): T[] {
  // Most lists (defaults, status codes as written) are already sorted and unique: a copy
  // without the Set and the sort (measured: 0.5 s of a 100,000-model build).
  let sorted = true;
  for (let i = 1; i < xs.length && sorted; i++) sorted = compare(xs[i - 1], xs[i]) < 0;
  if (sorted) return xs.slice();
  return [...new Set(xs)].sort(compare);
}

/** Pairs sorted by their first element. */
function byKey<V>(pairs: [string, V][]): [string, V][] {
  return pairs.sort(([a], [b]) => compareStrings(a, b));
}

interface Route {
  kind: VirtualModelKind;
  strategy: Strategy;
  sticky: NormSticky | null;
  targets: NormTarget[];
}

/**
 * Builds the NormConfig. Faults are reported to `log`; the returned config is only meaningful
 * when the log has no errors (compileConfig returns null otherwise).
 */
export function normalizeConfig(merged: MergedConfig, models: NativeModel[], log: DiagnosticLog): NormConfig {
  const catalog = new Catalog(merged);
  const resolver = new RouteResolver(models, merged, catalog, log);
  const virtualModels: NormVirtualModel[] = [];
  for (const m of models) {
    const route = resolver.route(m);
    if (route) virtualModels.push(normalizeVirtualModel(m, route));
  }
  const providers: NormProvider[] = merged.providers
    .filter((p) => p.valid)
    .map((p) => normalizeProvider(p.name, p.value as ProviderConfig));
  return {
    version: 1,
    settings: {
      passthrough: merged.settings.passthrough?.value ?? true,
      modelsEndpoint: merged.settings.models_endpoint?.value ?? 'all',
    },
    providers,
    virtualModels,
  };
}

/**
 * One provider: defaults filled in (SPEC §13: the base URL of bedrock, gemini and vertex,
 * bedrock's AWS credential variables, vertex's credentials file variable). validate.ts has
 * checked the type-dependent keys, so a missing `base_url` here has a default.
 */
export function normalizeProvider(name: string, p: ProviderConfig): NormProvider {
  const base = p.base_url ?? defaultBaseUrl(p.type, p) ?? '';
  const out: NormProvider = {
    name,
    type: p.type,
    baseUrl: base.replace(/\/+$/, ''),
    apiKeyEnv: p.api_key_env ?? null,
    models: sortedUnique(p.models, compareStrings),
    timeoutMs: p.timeout_ms ?? 0,
  };
  const options = normalizeProviderOptions(p);
  if (options !== null) out.options = options;
  return out;
}

/** The SPEC §13 settings of a provider, sparse (see NormProviderOptions), or null when it has none. */
function normalizeProviderOptions(p: ProviderConfig): NormProviderOptions | null {
  const o: NormProviderOptions = {};
  if (p.auth !== undefined) o.auth = normalizeAuth(p.auth);
  const headers = new Map<string, string>();
  for (const [k, v] of Object.entries(p.headers ?? {})) {
    const name = k.toLowerCase();
    if (!headers.has(name)) headers.set(name, v);
  }
  if (headers.size > 0) o.headers = byKey([...headers]);
  const query = Object.entries(p.query ?? {});
  if (query.length > 0) o.query = byKey(query);
  if (p.type === 'azure') {
    if (p.api_version !== undefined) o.apiVersion = p.api_version;
    const deployments = Object.entries(p.deployments ?? {});
    if (deployments.length > 0) o.deployments = byKey(deployments);
  }
  if (p.type === 'bedrock') {
    if (p.region !== undefined) o.region = p.region;
    const c = p.credentials_env;
    o.credentialsEnv =
      c === undefined
        ? { ...DEFAULT_AWS_CREDENTIALS_ENV }
        : { accessKeyId: c.access_key_id, secretAccessKey: c.secret_access_key, sessionToken: c.session_token ?? null };
  }
  if (p.type === 'vertex') {
    if (p.project !== undefined) o.project = p.project;
    if (p.location !== undefined) o.location = p.location;
    o.credentialsFileEnv = p.credentials_file_env ?? DEFAULT_GOOGLE_CREDENTIALS_ENV;
  }
  return Object.keys(o).length > 0 ? o : null;
}

function normalizeAuth(a: ProviderAuth): NormAuth {
  if (a.header !== undefined) return { kind: 'header', name: a.header.toLowerCase() };
  if (a.query !== undefined) return { kind: 'query', name: a.query };
  return { kind: 'none' };
}

function normalizeVirtualModel(m: NativeModel, route: Route): NormVirtualModel {
  const b = m.body;
  return {
    name: m.name,
    slug: b.slug ?? null,
    description: b.description ?? '',
    kind: route.kind,
    enabled: b.enabled ?? true,
    // Validity (leading `/`, non-empty segments) was checked by the schema (VMC2016).
    userPaths: sortedUnique((b.user_paths ?? []).map(normalizeConfigUserPath), compareStrings),
    modelTypes: sortedUnique(b.model_types ?? [], compareStrings),
    strategy: route.strategy,
    sticky: route.sticky,
    targets: route.targets,
    middleware: {
      request: (b.middleware?.request ?? []).map(normalizeMiddlewareCall),
      response: (b.middleware?.response ?? []).map(normalizeMiddlewareCall),
      postResponse: (b.middleware?.post_response ?? []).map(normalizeMiddlewareCall),
    },
  };
}

function normalizeMiddlewareCall(c: MiddlewareCall): NormMiddlewareCall {
  return {
    name: c.name,
    configType: c.config_type ?? '',
    config: c.config === undefined ? null : canonicalJson(c.config),
    configId: c.config_id ?? null,
  };
}

function normalizeSticky(b: NativeVirtualModel): NormSticky | null {
  if (!b.sticky) return null;
  return {
    ttlSeconds: b.sticky.ttl_seconds ?? 3600,
    keys: b.sticky.keys.map((k) => ({ source: k.source, key: k.source === 'header' ? k.key.toLowerCase() : k.key })),
  };
}

/** Resolves each virtual model's route once, following redirect chains with cycle detection. */
class RouteResolver {
  readonly #byName = new Map<string, NativeModel>();
  /** Every configured name, valid or not: an invalid one was reported already, not "unknown". */
  readonly #allNames: Set<string>;
  readonly #memo = new Map<string, Route | null>();
  readonly #stack: NativeModel[] = [];
  readonly #reportedCycles = new Set<string>();

  constructor(
    models: NativeModel[],
    merged: MergedConfig,
    readonly catalog: Catalog,
    readonly log: DiagnosticLog,
  ) {
    for (const m of models) this.#byName.set(m.name, m);
    this.#allNames = new Set(merged.virtualModels.map((e) => e.name));
  }

  /** The route of `m`, or null when it (or a model it redirects to) has an error. */
  route(m: NativeModel): Route | null {
    const known = this.#memo.get(m.name);
    if (known !== undefined) return known;
    const cycleStart = this.#stack.indexOf(m);
    if (cycleStart !== -1) {
      this.#reportCycle(this.#stack.slice(cycleStart));
      return null;
    }
    this.#stack.push(m);
    const route = this.#resolve(m);
    this.#stack.pop();
    // A model inside a cycle may already be memoized as failed by the cycle report.
    if (!this.#memo.has(m.name)) this.#memo.set(m.name, route);
    return this.#memo.get(m.name) ?? null;
  }

  #resolve(m: NativeModel): Route | null {
    const b = m.body;
    const strategy = b.strategy ?? 'weighted';
    const sticky = normalizeSticky(b);
    if (b.target !== undefined) {
      if (this.catalog.has(b.target)) {
        const t = this.#target(m, { target: b.target }, ['target']);
        return t ? { kind: 'redirect', strategy, sticky, targets: [t] } : null;
      }
      const next = this.#byName.get(b.target);
      if (next) {
        const inner = this.route(next);
        return inner ? { kind: 'redirect', strategy: inner.strategy, sticky: inner.sticky, targets: inner.targets } : null;
      }
      if (!this.#allNames.has(b.target)) this.#reportUnknown(m, b.target, m.at(['target']));
      return null;
    }
    if (b.targets !== undefined) {
      let ok = true;
      const targets: NormTarget[] = [];
      b.targets.forEach((t, i) => {
        const at: JsonPath = ['targets', i];
        if (this.catalog.has(t.target)) {
          const nt = this.#target(m, t, at);
          if (nt) targets.push(nt);
          else ok = false;
          return;
        }
        ok = false;
        const s = m.at([...at, 'target']);
        if (this.#allNames.has(t.target)) this.log.report('VMC2013', s, { target: t.target, name: m.name });
        else this.#reportUnknown(m, t.target, s);
      });
      return ok ? { kind: 'pool', strategy, sticky, targets } : null;
    }
    if (this.catalog.has(m.name)) {
      const t = this.#target(m, { target: m.name }, []);
      return t ? { kind: 'policy', strategy, sticky, targets: [t] } : null;
    }
    this.log.report('VMC2014', m.at([], 'key'), { name: m.name, suggestion: closest(m.name, this.catalog.names()) ?? '' });
    return null;
  }

  /** Normalizes one catalogued target with the virtual model's retry/fallback defaults. */
  #target(m: NativeModel, t: TargetConfig, at: JsonPath): NormTarget | null {
    const vm = m.body;
    const { provider, model } = splitTarget(t.target)!;
    // Status codes pasted as TrueFoundry strings ("700") passed the schema as digits; their
    // range is checked here, on the rewritten integers, at the original node.
    const retryOn = t.retry?.on_status ? [...at, 'retry', 'on_status'] : ['retry', 'on_status'];
    const fallbackOn = t.fallback_on ? [...at, 'fallback_on'] : ['fallback_on'];
    const onStatus = this.#statusCodes(m, t.retry?.on_status ?? vm.retry?.on_status ?? DEFAULT_RETRY.onStatus, retryOn);
    const fallback = this.#statusCodes(m, t.fallback_on ?? vm.fallback_on ?? DEFAULT_FALLBACK_ON, fallbackOn);
    if (!onStatus || !fallback) return null;
    const headersSet = new Map<string, string>();
    for (const [k, v] of Object.entries(t.headers?.set ?? {})) {
      const name = k.toLowerCase();
      if (!headersSet.has(name) && v !== undefined) headersSet.set(name, v);
    }
    const params = t.override_params;
    return {
      provider,
      model,
      weight: t.weight ?? 1,
      priority: t.priority ?? 0,
      retry: {
        attempts: t.retry?.attempts ?? vm.retry?.attempts ?? DEFAULT_RETRY.attempts,
        delayMs: t.retry?.delay_ms ?? vm.retry?.delay_ms ?? DEFAULT_RETRY.delayMs,
        onStatus,
      },
      fallbackOn: fallback,
      fallbackCandidate: t.fallback_candidate ?? true,
      overrideParams: params && Object.keys(params).length > 0 ? canonicalJson(params) : null,
      headersSet: byKey([...headersSet]),
      headersRemove: sortedUnique(
        (t.headers?.remove ?? []).map((h) => h.toLowerCase()),
        compareStrings,
      ),
      metadataMatch: byKey(Object.entries(t.metadata_match ?? {}).filter((e): e is [string, string] => e[1] !== undefined)),
      maxTtftMs: t.sla?.max_ttft_ms ?? 0,
      maxTimePerOutputTokenMs: t.sla?.max_time_per_output_token_ms ?? 0,
      backendFormat: t.backend_format ?? null,
    };
  }

  #statusCodes(m: NativeModel, codes: readonly number[], at: JsonPath): number[] | null {
    let ok = true;
    codes.forEach((c, i) => {
      if (Number.isInteger(c) && c >= 100 && c <= 599) return;
      ok = false;
      this.log.report('VMC2010', m.at([...at, i]), { value: String(c) });
    });
    return ok ? sortedUnique(codes, compareNumbers) : null;
  }

  #reportUnknown(m: NativeModel, target: string, s: Span): void {
    const split = splitTarget(target);
    if (split && !this.catalog.hasProvider(split.provider)) {
      this.log.report('VMC2002', s, {
        provider: split.provider,
        target,
        suggestion: closest(split.provider, this.catalog.providerNames()) ?? '',
      });
      return;
    }
    // Suggest among catalogued models and, for a redirect, virtual model names too.
    const pool = m.body.target !== undefined ? [...this.catalog.names(), ...this.#byName.keys()] : this.catalog.names();
    let suggestion = closest(target, pool);
    if (!suggestion && !split) {
      // A bare model name (`gpt-4o`): suggest the catalogued `provider/model` it most likely meant.
      const byModel = new Map(
        this.catalog
          .names()
          .map((n) => [splitTarget(n)!.model, n] as const)
          .reverse(),
      );
      const model = closest(target, byModel.keys()) ?? (byModel.has(target) ? target : undefined);
      suggestion = model === undefined ? undefined : byModel.get(model);
    }
    this.log.report('VMC2001', s, { target, suggestion: suggestion ?? '' });
  }

  /** One report per cycle, at the alphabetically first member; the others are related. */
  #reportCycle(members: NativeModel[]): void {
    for (const x of members) this.#memo.set(x.name, null);
    const key = members
      .map((x) => x.name)
      .sort()
      .join('\u0000');
    if (this.#reportedCycles.has(key)) return;
    this.#reportedCycles.add(key);
    let first = 0;
    members.forEach((x, i) => {
      if (x.name < members[first].name) first = i;
    });
    const ordered = [...members.slice(first), ...members.slice(0, first)];
    const cycle = [...ordered, ordered[0]].map((x) => x.name).join(' → ');
    const related = ordered.slice(1).map((x) => ({ ...x.at(['target']), message: `${x.name} → ${x.body.target ?? '?'}` }));
    this.log.report('VMC2003', ordered[0].at(['target']), { cycle }, related);
  }
}
