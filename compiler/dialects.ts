/**
 * Seed dialects (SPEC §2): a TrueFoundry `routing_config` block, a GoModel virtual model or a
 * NeMo VirtualModel may be pasted verbatim as a virtual model body. This module recognises the
 * dialect of a body and rewrites it into the native form; the rest of the compiler only ever
 * sees native bodies, which is what makes "a dialect body compiles to exactly the table its
 * native equivalent compiles to" true by construction.
 *
 * Every rewrite is a pure function of the (schema-valid) body. It also returns an origin map,
 * native path → source path, so a diagnostic about `targets[2].retry.on_status[0]` of a
 * rewritten TrueFoundry body points at `routing_config.load_balance_targets[2].retry_config
 * .on_status_codes[0]` in the file. Mapping decisions are documented in docs/config.md.
 */
import type {
  GoModelVirtualModel,
  MiddlewareCall,
  NativeVirtualModel,
  NemoModelConfig,
  NemoVirtualModel,
  TargetConfig,
  TrueFoundryStatusCode,
  TrueFoundryTarget,
  TrueFoundryVirtualModel,
} from './config-types.gen.js';
import type { JsonPath } from './load.js';

export type Dialect = 'native' | 'truefoundry' | 'gomodel' | 'nemo';

export const DIALECT_LABEL: Record<Dialect, string> = {
  native: 'native',
  truefoundry: 'TrueFoundry',
  gomodel: 'GoModel',
  nemo: 'NeMo',
};

/**
 * Keys that only one dialect has. Keys several share (`description`, `enabled`, `user_paths`,
 * `slug`, `model_types`) decide nothing; a body with no distinctive key is native (an access
 * policy, for instance, is just `user_paths`).
 */
export const DISTINCTIVE_KEYS: Record<Dialect, readonly string[]> = {
  native: ['target', 'targets', 'strategy', 'sticky', 'retry', 'fallback_on', 'middleware'],
  truefoundry: ['routing_config'],
  gomodel: ['source', 'target_model'],
  nemo: [
    'default_model_entity',
    'models',
    'request_middleware',
    'response_middleware',
    'post_response_middleware',
    'name',
    'workspace',
    'project',
    'autoprovisioned',
    'override_proxy',
  ],
};

const DIALECT_OF_KEY = new Map<string, Dialect>(
  (Object.entries(DISTINCTIVE_KEYS) as [Dialect, readonly string[]][]).flatMap(([d, keys]) => keys.map((k) => [k, d] as const)),
);

export type DialectDetection =
  { dialect: Dialect } | { conflict: { first: { dialect: Dialect; key: string }; second: { dialect: Dialect; key: string } } };

/**
 * The dialect of a body, from its distinctive keys in source order; a body mixing two
 * dialects is a conflict (VMC1009) reported at the first key of the second dialect.
 */
export function detectDialect(body: Record<string, unknown>): DialectDetection {
  let first: { dialect: Dialect; key: string } | undefined;
  for (const key of Object.keys(body)) {
    const d = DIALECT_OF_KEY.get(key);
    if (!d) continue;
    if (!first) first = { dialect: d, key };
    else if (d !== first.dialect) return { conflict: { first, second: { dialect: d, key } } };
  }
  return { dialect: first?.dialect ?? 'native' };
}

/** Native path → source path, for the keys a rewrite renamed or moved. */
export class OriginMap {
  readonly #map = new Map<string, JsonPath>();

  static #key(p: JsonPath): string {
    return p.map(String).join('\u0000');
  }

  /** Records that the native node at `native` came from `source` (both relative to the body). */
  add(native: JsonPath, source: JsonPath): void {
    this.#map.set(OriginMap.#key(native), source);
  }

  /**
   * The source path of a native path: the nearest recorded ancestor's source plus the
   * remaining segments (unrenamed keys keep their names). Identity for native bodies.
   */
  resolve(native: JsonPath): JsonPath {
    for (let n = native.length; n > 0; n--) {
      const hit = this.#map.get(OriginMap.#key(native.slice(0, n)));
      if (hit) return [...hit, ...native.slice(n)];
    }
    return native;
  }
}

export interface Rewritten {
  body: NativeVirtualModel;
  origin: OriginMap;
}

/** Rewrites a schema-valid body of the given dialect into the native form. */
export function rewriteBody(dialect: Dialect, body: unknown): Rewritten {
  switch (dialect) {
    case 'truefoundry':
      return rewriteTrueFoundry(body as TrueFoundryVirtualModel);
    case 'gomodel':
      return rewriteGoModel(body as GoModelVirtualModel);
    case 'nemo':
      return rewriteNemo(body as NemoVirtualModel);
    case 'native':
      return { body: body as NativeVirtualModel, origin: new OriginMap() };
  }
}

const TF_STRATEGY = {
  'weight-based-routing': 'weighted',
  'priority-based-routing': 'priority',
  'latency-based-routing': 'latency',
} as const;

/** `"429"` → 429; the schema already guaranteed digits. */
function statusCodes(codes: TrueFoundryStatusCode[]): number[] {
  return codes.map((c) => (typeof c === 'string' ? Number.parseInt(c, 10) : c));
}

/** Copies the keys every dialect shares with the native form, in native key order. */
function commonFields(src: {
  slug?: string;
  description?: string;
  model_types?: NativeVirtualModel['model_types'];
  enabled?: boolean;
  user_paths?: string[];
}): NativeVirtualModel {
  const out: NativeVirtualModel = {};
  if (src.slug !== undefined) out.slug = src.slug;
  if (src.description !== undefined) out.description = src.description;
  if (src.model_types !== undefined) out.model_types = src.model_types;
  if (src.enabled !== undefined) out.enabled = src.enabled;
  if (src.user_paths !== undefined) out.user_paths = src.user_paths;
  return out;
}

/** TrueFoundry `routing_config` → native pool (field mapping in docs/config.md). */
export function rewriteTrueFoundry(src: TrueFoundryVirtualModel): Rewritten {
  const origin = new OriginMap();
  const rc = src.routing_config;
  const out = commonFields(src);
  out.strategy = TF_STRATEGY[rc.type];
  origin.add(['strategy'], ['routing_config', 'type']);
  if (rc.sticky_routing) {
    origin.add(['sticky'], ['routing_config', 'sticky_routing']);
    origin.add(['sticky', 'keys'], ['routing_config', 'sticky_routing', 'session_identifiers']);
    out.sticky = {
      ...(rc.sticky_routing.ttl_seconds !== undefined ? { ttl_seconds: rc.sticky_routing.ttl_seconds } : {}),
      keys: rc.sticky_routing.session_identifiers.map((s) => ({
        source: s.source === 'headers' ? ('header' as const) : ('metadata' as const),
        key: s.key,
      })),
    };
  }
  origin.add(['targets'], ['routing_config', 'load_balance_targets']);
  out.targets = rc.load_balance_targets.map((t, i) => rewriteTrueFoundryTarget(t, i, origin));
  return { body: out, origin };
}

function rewriteTrueFoundryTarget(t: TrueFoundryTarget, i: number, origin: OriginMap): TargetConfig {
  const src: JsonPath = ['routing_config', 'load_balance_targets', i];
  const dst: JsonPath = ['targets', i];
  origin.add(dst, src);
  const out: TargetConfig = { target: t.target };
  if (t.weight !== undefined) out.weight = t.weight;
  if (t.priority !== undefined) out.priority = t.priority;
  if (t.retry_config) {
    const r = t.retry_config;
    origin.add([...dst, 'retry'], [...src, 'retry_config']);
    origin.add([...dst, 'retry', 'delay_ms'], [...src, 'retry_config', 'delay']);
    origin.add([...dst, 'retry', 'on_status'], [...src, 'retry_config', 'on_status_codes']);
    out.retry = {};
    if (r.attempts !== undefined) out.retry.attempts = r.attempts;
    if (r.delay !== undefined) out.retry.delay_ms = r.delay;
    if (r.on_status_codes !== undefined) out.retry.on_status = statusCodes(r.on_status_codes);
  }
  if (t.fallback_status_codes) {
    origin.add([...dst, 'fallback_on'], [...src, 'fallback_status_codes']);
    out.fallback_on = statusCodes(t.fallback_status_codes);
  }
  if (t.fallback_candidate !== undefined) out.fallback_candidate = t.fallback_candidate;
  if (t.override_params !== undefined) out.override_params = t.override_params;
  if (t.headers_override) {
    origin.add([...dst, 'headers'], [...src, 'headers_override']);
    out.headers = t.headers_override;
  }
  if (t.metadata_match !== undefined) out.metadata_match = t.metadata_match;
  if (t.sla_cutoff) {
    const s = t.sla_cutoff;
    origin.add([...dst, 'sla'], [...src, 'sla_cutoff']);
    origin.add([...dst, 'sla', 'max_ttft_ms'], [...src, 'sla_cutoff', 'time_to_first_token_ms']);
    origin.add([...dst, 'sla', 'max_time_per_output_token_ms'], [...src, 'sla_cutoff', 'time_per_output_token_ms']);
    out.sla = {};
    if (s.time_to_first_token_ms !== undefined) out.sla.max_ttft_ms = s.time_to_first_token_ms;
    if (s.time_per_output_token_ms !== undefined) out.sla.max_time_per_output_token_ms = s.time_per_output_token_ms;
  }
  return out;
}

/**
 * GoModel → native: `target_model` is a redirect `target`; without it the body is an access
 * policy on its own name. `source` is the name itself (checked against the key by validate).
 */
export function rewriteGoModel(src: GoModelVirtualModel): Rewritten {
  const origin = new OriginMap();
  const out = commonFields(src);
  if (src.target_model !== undefined) {
    out.target = src.target_model;
    origin.add(['target'], ['target_model']);
  }
  return { body: out, origin };
}

/**
 * NeMo `backend_format` → native `backend_format` (docs/config.md "NeMo"). Checked against the
 * schema's types: a NeMo format added to the schema does not compile until it is mapped here.
 */
export const NEMO_BACKEND_FORMAT = {
  OPENAI_CHAT: 'openai',
  ANTHROPIC_MESSAGES: 'anthropic',
} as const satisfies Record<NonNullable<NemoModelConfig['backend_format']>, NonNullable<TargetConfig['backend_format']>>;

type Inverse<T extends Record<string, string>> = { [K in keyof T as T[K]]: K };

/** Native `backend_format` → NeMo's name for it (the admin API's NeMo views): the inverse of the map above. */
export const NATIVE_TO_NEMO_BACKEND_FORMAT = Object.fromEntries(
  Object.entries(NEMO_BACKEND_FORMAT).map(([nemo, native]) => [native, nemo]),
) as Inverse<typeof NEMO_BACKEND_FORMAT>;

/** Native middleware phase ↔ NeMo's key for its list. */
export const NEMO_MIDDLEWARE_KEYS = [
  ['request', 'request_middleware'],
  ['response', 'response_middleware'],
  ['post_response', 'post_response_middleware'],
] as const;

/**
 * NeMo → native. `default_model_entity` is the first target; every other distinct `models[]`
 * entry follows with priority 1, 2, … in order (strategy `priority`). A single plain entity
 * is a redirect; an entry's `backend_format` needs a target object, so a single entity with a
 * backend format becomes a one-target pool. Without `default_model_entity` the models are
 * taken in order from priority 0; with neither, the body is an access policy.
 */
export function rewriteNemo(src: NemoVirtualModel): Rewritten {
  const origin = new OriginMap();
  const out = commonFields(src);
  const entries: { model: string; format: 'openai' | 'anthropic' | null; source: JsonPath; formatSource?: JsonPath }[] = [];
  const models = src.models ?? [];
  const formatOf = (i: number) => {
    const f = models[i].backend_format;
    return f ? NEMO_BACKEND_FORMAT[f] : null;
  };
  const def = src.default_model_entity ?? undefined;
  if (def !== undefined) {
    const i = models.findIndex((m) => m.model === def);
    entries.push({
      model: def,
      format: i === -1 ? null : formatOf(i),
      source: ['default_model_entity'],
      formatSource: i === -1 ? undefined : ['models', i, 'backend_format'],
    });
  }
  models.forEach((m, i) => {
    if (entries.some((e) => e.model === m.model)) return;
    entries.push({ model: m.model, format: formatOf(i), source: ['models', i, 'model'], formatSource: ['models', i, 'backend_format'] });
  });

  if (entries.length === 1 && entries[0].format === null) {
    out.target = entries[0].model;
    origin.add(['target'], entries[0].source);
  } else if (entries.length > 0) {
    if (entries.length > 1) out.strategy = 'priority';
    origin.add(['targets'], def !== undefined ? ['default_model_entity'] : ['models']);
    out.targets = entries.map((e, k) => {
      origin.add(['targets', k], e.source);
      origin.add(['targets', k, 'target'], e.source);
      const t: TargetConfig = { target: e.model };
      if (k > 0) t.priority = k;
      if (e.format !== null) {
        t.backend_format = e.format;
        if (e.formatSource) origin.add(['targets', k, 'backend_format'], e.formatSource);
      }
      return t;
    });
  }

  const middleware: NonNullable<NativeVirtualModel['middleware']> = {};
  for (const [phase, key] of NEMO_MIDDLEWARE_KEYS) {
    const calls = src[key];
    if (!calls || calls.length === 0) continue;
    origin.add(['middleware', phase], [key]);
    middleware[phase] = calls.map((c): MiddlewareCall => ({ ...c }));
  }
  if (Object.keys(middleware).length > 0) {
    origin.add(['middleware'], [NEMO_MIDDLEWARE_KEYS.find(([p]) => middleware[p])![1]]);
    out.middleware = middleware;
  }
  return { body: out, origin };
}
