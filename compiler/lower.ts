/**
 * Phase: lower. NormConfig → routing table bytes (format: runtime/table/format.ts).
 *
 * Everything the runtime would otherwise compute per request is precomputed here:
 * strategy orders and the pick set of the metadata-free case (each strategy's rules live in
 * runtime/table/strategies/<name>.ts), cumulative weights,
 * status-code bitsets, the name/slug hash index and the FNV hash of every target label
 * (sticky rendezvous hashing).
 *
 * Deterministic by construction: the input is normalized (sorted), strings are interned
 * in first-use order of one fixed walk, status sets are deduplicated in first-use order.
 */

import * as fmt from '../runtime/table/format.js';
import { providerTypeCode } from '../runtime/table/provider-types.js';
import {
  defaultTarget,
  defaultVirtualModel,
  type NormConfig,
  type NormMiddlewareCall,
  type NormProvider,
  type NormTarget,
  type NormVirtualModel,
} from '../runtime/table/normalized.js';
import { strategyByName } from '../runtime/table/strategies/index.js';
import { compareStrings } from '../runtime/table/util.js';
import { canonicalJson } from './normalize.js';

/** Growable u32 buffer. */
class U32Builder {
  #buf = new Uint32Array(256);
  length = 0;
  push(...values: number[]): number {
    const at = this.length;
    for (const v of values) {
      if (this.length === this.#buf.length) {
        const next = new Uint32Array(this.#buf.length * 2);
        next.set(this.#buf);
        this.#buf = next;
      }
      this.#buf[this.length++] = v >>> 0;
    }
    return at;
  }
  set(index: number, value: number): void {
    this.#buf[index] = value >>> 0;
  }
  bytes(): Uint8Array {
    return new Uint8Array(this.#buf.buffer, 0, this.length * 4);
  }
}

/** Growable f64 buffer. */
class F64Builder {
  #values: number[] = [];
  get length(): number {
    return this.#values.length;
  }
  push(v: number): number {
    this.#values.push(v);
    return this.#values.length - 1;
  }
  bytes(): Uint8Array {
    return new Uint8Array(Float64Array.from(this.#values).buffer);
  }
}

/** Interned UTF-8 string pool; ids in first-use order. */
class StringPool {
  #ids = new Map<string, number>();
  #strings: string[] = [];
  #offsets: number[] = [0];
  #size = 0;
  id(s: string): number {
    let id = this.#ids.get(s);
    if (id === undefined) {
      id = this.#strings.length;
      this.#strings.push(s);
      this.#size += Buffer.byteLength(s, 'utf8');
      this.#offsets.push(this.#size);
      this.#ids.set(s, id);
    }
    return id;
  }
  opt(s: string | null | undefined): number {
    return s === null || s === undefined ? fmt.NONE : this.id(s);
  }
  /**
   * All strings encoded at once (one Buffer.from per string cost 0.5 s at 100,000 models).
   * A lone surrogate at a string boundary would pair up with its neighbour in the joined
   * text; then the lengths disagree and each string is encoded on its own.
   */
  bytes(): Uint8Array {
    const joined = Buffer.from(this.#strings.join(''), 'utf8');
    if (joined.length === this.#size) return joined;
    return Buffer.concat(
      this.#strings.map((x) => Buffer.from(x, 'utf8')),
      this.#size,
    );
  }
  offsets(): Uint8Array {
    return new Uint8Array(Uint32Array.from(this.#offsets).buffer);
  }
  /** Byte offset and length of string `id` in bytes(). */
  span(id: number): { offset: number; length: number } {
    return { offset: this.#offsets[id], length: this.#offsets[id + 1] - this.#offsets[id] };
  }
}

/** Deduplicated status-code bitsets. */
class StatusSets {
  #ids = new Map<string, number>();
  #words = new U32Builder();
  id(codes: readonly number[]): number {
    const key = codes.join(',');
    let id = this.#ids.get(key);
    if (id === undefined) {
      const words = new Array<number>(fmt.STATUS_SET_WORDS).fill(0);
      for (const c of codes) {
        const bit = c - fmt.STATUS_MIN;
        words[bit >>> 5] |= 1 << (bit & 31);
      }
      id = this.#words.length / fmt.STATUS_SET_WORDS;
      this.#words.push(...words);
      this.#ids.set(key, id);
    }
    return id;
  }
  bytes(): Uint8Array {
    return this.#words.bytes();
  }
}

/**
 * The virtual models a table holds, in record order: configured ones (sorted by name), then
 * — when passthrough is on — one implicit entry per catalogued model not shadowed by a
 * configured name. Access policies (kind `policy`) gate passthrough, so without passthrough
 * they are not reachable and not indexed (they stay in the table for round-trip).
 */
export function tableVirtualModels(config: NormConfig): { vm: NormVirtualModel; implicit: boolean }[] {
  const out = config.virtualModels.map((vm) => ({ vm, implicit: false }));
  if (config.settings.passthrough) {
    const configured = new Set(config.virtualModels.map((v) => v.name));
    const implicit: NormVirtualModel[] = [];
    for (const p of config.providers) {
      for (const m of p.models) {
        const label = `${p.name}/${m}`;
        if (!configured.has(label)) implicit.push(defaultVirtualModel(label, [defaultTarget(p.name, m)]));
      }
    }
    implicit.sort((a, b) => compareStrings(a.name, b.name));
    for (const vm of implicit) out.push({ vm, implicit: true });
  }
  return out;
}

const BACKEND_CODE = { openai: 1, anthropic: 2 } as const;

/**
 * The builders of one table's sections, and the list helpers every record uses. Strings are
 * interned and status sets deduplicated in the order of the one fixed walk of lowerTable.
 */
class TableWriter {
  readonly strings = new StringPool();
  readonly statusSets = new StatusSets();
  readonly lists = new U32Builder();
  readonly cum = new F64Builder();
  readonly providers = new U32Builder();
  readonly catalog = new U32Builder();
  readonly vms = new U32Builder();
  readonly targets = new U32Builder();
  readonly weights = new F64Builder();
  readonly middleware = new U32Builder();

  constructor() {
    this.strings.id(''); // sid 0 is always the empty string
  }

  /** (sid, sid) pairs into LISTS; returns their LISTS index. */
  pushPairs(pairs: readonly (readonly [string, string])[]): number {
    const at = this.lists.length;
    for (const [k, v] of pairs) this.lists.push(this.strings.id(k), this.strings.id(v));
    return at;
  }

  /** sids into LISTS; returns their LISTS index. */
  pushSids(values: readonly string[]): number {
    const at = this.lists.length;
    for (const v of values) this.lists.push(this.strings.id(v));
    return at;
  }

  pushMiddleware(calls: readonly NormMiddlewareCall[]): void {
    for (const c of calls) {
      const rec = new Array<number>(fmt.MW_STRIDE);
      rec[fmt.MW_NAME] = this.strings.id(c.name);
      rec[fmt.MW_CONFIG_TYPE] = this.strings.id(c.configType);
      rec[fmt.MW_CONFIG] = this.strings.opt(c.config);
      rec[fmt.MW_CONFIG_ID] = this.strings.opt(c.configId);
      this.middleware.push(...rec);
    }
  }

  /** The twelve sections, hash index included. */
  sections(hashIndex: Uint32Array): fmt.SectionPayload[] {
    return [
      { id: fmt.SectionId.STR_BYTES, bytes: this.strings.bytes() },
      { id: fmt.SectionId.STR_OFFSETS, bytes: this.strings.offsets() },
      { id: fmt.SectionId.PROVIDERS, bytes: this.providers.bytes() },
      { id: fmt.SectionId.CATALOG, bytes: this.catalog.bytes() },
      { id: fmt.SectionId.VMS, bytes: this.vms.bytes() },
      { id: fmt.SectionId.TARGETS, bytes: this.targets.bytes() },
      { id: fmt.SectionId.WEIGHTS, bytes: this.weights.bytes() },
      { id: fmt.SectionId.STATUS_SETS, bytes: this.statusSets.bytes() },
      { id: fmt.SectionId.LISTS, bytes: this.lists.bytes() },
      { id: fmt.SectionId.CUM_WEIGHTS, bytes: this.cum.bytes() },
      { id: fmt.SectionId.HASH_INDEX, bytes: new Uint8Array(hashIndex.buffer) },
      { id: fmt.SectionId.MIDDLEWARE, bytes: this.middleware.bytes() },
    ];
  }
}

/** PROVIDERS and CATALOG records; returns provider name → index. */
function lowerProviders(w: TableWriter, providers: readonly NormProvider[]): Map<string, number> {
  const providerIndex = new Map<string, number>();
  providers.forEach((p, i) => {
    providerIndex.set(p.name, i);
    const first = w.catalog.length / fmt.CATALOG_STRIDE;
    for (const m of p.models) {
      const rec = new Array<number>(fmt.CATALOG_STRIDE);
      rec[fmt.CF_PROVIDER] = i;
      rec[fmt.CF_MODEL] = w.strings.id(m);
      rec[fmt.CF_LABEL] = w.strings.id(`${p.name}/${m}`);
      w.catalog.push(...rec);
    }
    const rec = new Array<number>(fmt.PROVIDER_STRIDE);
    rec[fmt.PF_NAME] = w.strings.id(p.name);
    rec[fmt.PF_TYPE] = providerTypeCode(p.type);
    rec[fmt.PF_BASE_URL] = w.strings.id(p.baseUrl);
    rec[fmt.PF_API_KEY_ENV] = w.strings.opt(p.apiKeyEnv);
    rec[fmt.PF_TIMEOUT_MS] = p.timeoutMs;
    rec[fmt.PF_CATALOG_FIRST] = first;
    rec[fmt.PF_CATALOG_COUNT] = p.models.length;
    rec[fmt.PF_OPTIONS] = p.options === undefined ? fmt.NONE : w.strings.id(canonicalJson(p.options));
    w.providers.push(...rec);
  });
  return providerIndex;
}

/** One TARGETS record and its weight. */
function lowerTarget(w: TableWriter, t: NormTarget, vmIndex: number, providerIndex: ReadonlyMap<string, number>): void {
  const pIdx = providerIndex.get(t.provider);
  if (pIdx === undefined) throw new Error(`lower: unknown provider ${t.provider} (normalize must reject this)`);
  const label = `${t.provider}/${t.model}`;
  const rec = new Array<number>(fmt.TARGET_STRIDE);
  rec[fmt.TF_PROVIDER] = pIdx;
  rec[fmt.TF_MODEL] = w.strings.id(t.model);
  rec[fmt.TF_LABEL] = w.strings.id(label);
  rec[fmt.TF_VM] = vmIndex;
  rec[fmt.TF_PRIORITY] = t.priority;
  rec[fmt.TF_RETRY_ATTEMPTS] = t.retry.attempts;
  rec[fmt.TF_RETRY_DELAY_MS] = t.retry.delayMs;
  rec[fmt.TF_RETRY_SET] = w.statusSets.id(t.retry.onStatus);
  rec[fmt.TF_FALLBACK_SET] = w.statusSets.id(t.fallbackOn);
  rec[fmt.TF_FLAGS] =
    (t.fallbackCandidate ? fmt.TGF_FALLBACK_CANDIDATE : 0) |
    ((t.backendFormat ? BACKEND_CODE[t.backendFormat] : 0) << fmt.TGF_BACKEND_SHIFT);
  rec[fmt.TF_OVERRIDE_PARAMS] = w.strings.opt(t.overrideParams);
  rec[fmt.TF_HEADERS_SET] = w.pushPairs(t.headersSet);
  rec[fmt.TF_HEADERS_SET_COUNT] = t.headersSet.length;
  rec[fmt.TF_HEADERS_REMOVE] = w.pushSids(t.headersRemove);
  rec[fmt.TF_HEADERS_REMOVE_COUNT] = t.headersRemove.length;
  rec[fmt.TF_METADATA] = w.pushPairs(t.metadataMatch);
  rec[fmt.TF_METADATA_COUNT] = t.metadataMatch.length;
  rec[fmt.TF_MAX_TTFT_MS] = t.maxTtftMs;
  rec[fmt.TF_MAX_TPOT_MS] = t.maxTimePerOutputTokenMs;
  rec[fmt.TF_LABEL_HASH] = fmt.fnv1aString(label);
  w.targets.push(...rec);
  w.weights.push(t.weight);
}

/**
 * The strategy's build-time order into LISTS and the cumulative weights of its precomputed
 * pick set into CUM_WEIGHTS (the rules: runtime/table/strategies/<name>.ts).
 */
function lowerStrategyOrder(w: TableWriter, vm: NormVirtualModel): { orderAt: number; primaryCount: number; cumAt: number } {
  const rules = strategyByName(vm.strategy);
  const order = rules.order(vm.targets);
  const primaryCount = rules.precomputedPickCount(vm.targets, order);
  const orderAt = w.lists.length;
  for (const i of order) w.lists.push(i);
  const cumAt = w.cum.length;
  let acc = 0;
  for (let k = 0; k < primaryCount; k++) {
    acc += vm.targets[order[k]].weight;
    w.cum.push(acc);
  }
  return { orderAt, primaryCount, cumAt };
}

/** One VMS record with its targets, order, sticky keys and middleware. */
function lowerVirtualModel(
  w: TableWriter,
  vm: NormVirtualModel,
  implicit: boolean,
  vmIndex: number,
  providerIndex: ReadonlyMap<string, number>,
): void {
  const firstTarget = w.targets.length / fmt.TARGET_STRIDE;
  for (const t of vm.targets) lowerTarget(w, t, vmIndex, providerIndex);
  const hasMetadata = vm.targets.some((t) => t.metadataMatch.length > 0);
  const { orderAt, primaryCount, cumAt } = lowerStrategyOrder(w, vm);

  const stickyAt = w.lists.length;
  for (const k of vm.sticky?.keys ?? []) w.lists.push(fmt.STICKY_SOURCE_CODES.indexOf(k.source), w.strings.id(k.key));

  const mwAt = w.middleware.length / fmt.MW_STRIDE;
  w.pushMiddleware(vm.middleware.request);
  w.pushMiddleware(vm.middleware.response);
  w.pushMiddleware(vm.middleware.postResponse);

  const rec = new Array<number>(fmt.VM_STRIDE);
  rec[fmt.VF_NAME] = w.strings.id(vm.name);
  rec[fmt.VF_SLUG] = w.strings.opt(vm.slug);
  rec[fmt.VF_DESCRIPTION] = w.strings.id(vm.description);
  rec[fmt.VF_FLAGS] =
    (vm.enabled ? fmt.VMF_ENABLED : 0) |
    (implicit ? fmt.VMF_IMPLICIT : 0) |
    (hasMetadata ? fmt.VMF_HAS_METADATA : 0) |
    (vm.sticky ? fmt.VMF_STICKY : 0) |
    (strategyByName(vm.strategy).code << fmt.VMF_STRATEGY_SHIFT) |
    (fmt.KIND_CODES.indexOf(vm.kind) << fmt.VMF_KIND_SHIFT);
  rec[fmt.VF_FIRST_TARGET] = firstTarget;
  rec[fmt.VF_TARGET_COUNT] = vm.targets.length;
  rec[fmt.VF_USER_PATHS] = w.pushSids(vm.userPaths);
  rec[fmt.VF_USER_PATH_COUNT] = vm.userPaths.length;
  rec[fmt.VF_MODEL_TYPES] = w.pushSids(vm.modelTypes);
  rec[fmt.VF_MODEL_TYPE_COUNT] = vm.modelTypes.length;
  rec[fmt.VF_STICKY_TTL] = vm.sticky?.ttlSeconds ?? 0;
  rec[fmt.VF_STICKY_KEYS] = stickyAt;
  rec[fmt.VF_STICKY_KEY_COUNT] = vm.sticky?.keys.length ?? 0;
  rec[fmt.VF_MIDDLEWARE] = mwAt;
  rec[fmt.VF_MW_COUNTS] = vm.middleware.request.length | (vm.middleware.response.length << 8) | (vm.middleware.postResponse.length << 16);
  rec[fmt.VF_ORDER] = orderAt;
  rec[fmt.VF_PRIMARY_COUNT] = primaryCount;
  rec[fmt.VF_CUM] = cumAt;
  w.vms.push(...rec);
}

/** HASH_INDEX: open addressing, linear probing, load factor ≤ 0.5. Keys must already be interned. */
function lowerHashIndex(strings: StringPool, keys: readonly { key: string; vm: number }[]): Uint32Array {
  const slots = fmt.hashSlotCount(keys.length);
  const index = new Uint32Array(1 + slots * fmt.HASH_SLOT_STRIDE);
  index[0] = slots;
  for (let s = 0; s < slots; s++) index[1 + s * fmt.HASH_SLOT_STRIDE + fmt.HS_VM] = fmt.NONE;
  const seen = new Set<string>();
  for (const { key, vm } of keys) {
    if (seen.has(key)) throw new Error(`lower: duplicate index key ${JSON.stringify(key)} (validate must reject this)`);
    seen.add(key);
    const h = fmt.fnv1aString(key);
    let s = h & (slots - 1);
    while (index[1 + s * fmt.HASH_SLOT_STRIDE + fmt.HS_VM] !== fmt.NONE) s = (s + 1) & (slots - 1);
    const at = 1 + s * fmt.HASH_SLOT_STRIDE;
    const span = strings.span(strings.id(key));
    index[at + fmt.HS_HASH] = h;
    index[at + fmt.HS_KEY_OFFSET] = span.offset;
    index[at + fmt.HS_KEY_LENGTH] = span.length;
    index[at + fmt.HS_VM] = vm;
  }
  return index;
}

/** Lower a normalized config into routing table bytes. Throws only on compiler bugs. */
export function lowerTable(config: NormConfig): Uint8Array {
  const w = new TableWriter();
  const providerIndex = lowerProviders(w, config.providers);
  const indexKeys: { key: string; vm: number }[] = [];
  tableVirtualModels(config).forEach(({ vm, implicit }, vmIndex) => {
    lowerVirtualModel(w, vm, implicit, vmIndex, providerIndex);
    // access policies gate passthrough: without it they are not reachable (tableVirtualModels)
    if (vm.kind !== 'policy' || config.settings.passthrough) {
      indexKeys.push({ key: vm.name, vm: vmIndex });
      if (vm.slug !== null) indexKeys.push({ key: vm.slug, vm: vmIndex });
    }
  });
  const flags =
    (config.settings.passthrough ? fmt.FLAG_PASSTHROUGH : 0) |
    (config.settings.modelsEndpoint === 'virtual_only' ? fmt.FLAG_VIRTUAL_ONLY : 0);
  return fmt.encodeTable(flags, w.sections(lowerHashIndex(w.strings, indexKeys)));
}
