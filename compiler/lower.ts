/**
 * Phase: lower. NormConfig → routing table bytes (format: runtime/table/format.ts).
 *
 * Everything the runtime would otherwise compute per request is precomputed here:
 * strategy orders, the primary pool of the metadata-free case, cumulative weights,
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
  type NormTarget,
  type NormVirtualModel,
  type Strategy,
} from '../runtime/table/normalized.js';

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
    return Buffer.concat(this.#strings.map((x) => Buffer.from(x, 'utf8')), this.#size);
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
 * The order in which a vm's targets are considered, and how many of them form the primary
 * pool when no metadata condition applies (SPEC §3.5, §3.7):
 *   weighted — weight desc, then configured order; the pool is every target;
 *   priority — priority asc, weight desc, configured order; the pool is the lowest tier;
 *   latency  — priority asc, weight desc, configured order (the runtime re-sorts the pool
 *              by measured latency); the pool is every target.
 * Exported so the reference router and `vmc explain` share the one definition.
 */
export function strategyOrder(strategy: Strategy, targets: readonly Pick<NormTarget, 'weight' | 'priority'>[]): { order: number[]; primaryCount: number } {
  const idx = targets.map((_, i) => i);
  const byWeight = (a: number, b: number): number => targets[b].weight - targets[a].weight || a - b;
  if (strategy === 'weighted') {
    idx.sort(byWeight);
    return { order: idx, primaryCount: idx.length };
  }
  idx.sort((a, b) => targets[a].priority - targets[b].priority || byWeight(a, b));
  if (strategy === 'latency') return { order: idx, primaryCount: idx.length };
  const top = targets[idx[0]].priority;
  let n = 0;
  while (n < idx.length && targets[idx[n]].priority === top) n++;
  return { order: idx, primaryCount: n };
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
    implicit.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const vm of implicit) out.push({ vm, implicit: true });
  }
  return out;
}

const BACKEND_CODE = { openai: 1, anthropic: 2 } as const;

/** Lower a normalized config into routing table bytes. Throws only on compiler bugs. */
export function lowerTable(config: NormConfig): Uint8Array {
  const strings = new StringPool();
  strings.id(''); // sid 0 is always the empty string
  const statusSets = new StatusSets();
  const lists = new U32Builder();
  const cum = new F64Builder();
  const providers = new U32Builder();
  const catalog = new U32Builder();
  const vms = new U32Builder();
  const targets = new U32Builder();
  const weights = new F64Builder();
  const middleware = new U32Builder();

  const providerIndex = new Map<string, number>();
  config.providers.forEach((p, i) => {
    providerIndex.set(p.name, i);
    const first = catalog.length / fmt.CATALOG_STRIDE;
    for (const m of p.models) {
      const rec = new Array<number>(fmt.CATALOG_STRIDE);
      rec[fmt.CF_PROVIDER] = i;
      rec[fmt.CF_MODEL] = strings.id(m);
      rec[fmt.CF_LABEL] = strings.id(`${p.name}/${m}`);
      catalog.push(...rec);
    }
    const rec = new Array<number>(fmt.PROVIDER_STRIDE);
    rec[fmt.PF_NAME] = strings.id(p.name);
    rec[fmt.PF_TYPE] = providerTypeCode(p.type);
    rec[fmt.PF_BASE_URL] = strings.id(p.baseUrl);
    rec[fmt.PF_API_KEY_ENV] = strings.opt(p.apiKeyEnv);
    rec[fmt.PF_TIMEOUT_MS] = p.timeoutMs;
    rec[fmt.PF_CATALOG_FIRST] = first;
    rec[fmt.PF_CATALOG_COUNT] = p.models.length;
    providers.push(...rec);
  });

  const pushPairs = (pairs: readonly (readonly [string, string])[]): number => {
    const at = lists.length;
    for (const [k, v] of pairs) lists.push(strings.id(k), strings.id(v));
    return at;
  };
  const pushSids = (values: readonly string[]): number => {
    const at = lists.length;
    for (const v of values) lists.push(strings.id(v));
    return at;
  };
  const pushMiddleware = (calls: readonly NormMiddlewareCall[]): void => {
    for (const c of calls) {
      const rec = new Array<number>(fmt.MW_STRIDE);
      rec[fmt.MW_NAME] = strings.id(c.name);
      rec[fmt.MW_CONFIG_TYPE] = strings.id(c.configType);
      rec[fmt.MW_CONFIG] = strings.opt(c.config);
      rec[fmt.MW_CONFIG_ID] = strings.opt(c.configId);
      middleware.push(...rec);
    }
  };

  const entries = tableVirtualModels(config);
  const indexKeys: { key: string; vm: number }[] = [];
  entries.forEach(({ vm, implicit }, vmIndex) => {
    const firstTarget = targets.length / fmt.TARGET_STRIDE;
    let hasMetadata = false;
    for (const t of vm.targets) {
      const pIdx = providerIndex.get(t.provider);
      if (pIdx === undefined) throw new Error(`lower: unknown provider ${t.provider} (normalize must reject this)`);
      const label = `${t.provider}/${t.model}`;
      if (t.metadataMatch.length > 0) hasMetadata = true;
      const rec = new Array<number>(fmt.TARGET_STRIDE);
      rec[fmt.TF_PROVIDER] = pIdx;
      rec[fmt.TF_MODEL] = strings.id(t.model);
      rec[fmt.TF_LABEL] = strings.id(label);
      rec[fmt.TF_VM] = vmIndex;
      rec[fmt.TF_PRIORITY] = t.priority;
      rec[fmt.TF_RETRY_ATTEMPTS] = t.retry.attempts;
      rec[fmt.TF_RETRY_DELAY_MS] = t.retry.delayMs;
      rec[fmt.TF_RETRY_SET] = statusSets.id(t.retry.onStatus);
      rec[fmt.TF_FALLBACK_SET] = statusSets.id(t.fallbackOn);
      rec[fmt.TF_FLAGS] =
        (t.fallbackCandidate ? fmt.TGF_FALLBACK_CANDIDATE : 0) |
        ((t.backendFormat ? BACKEND_CODE[t.backendFormat] : 0) << fmt.TGF_BACKEND_SHIFT);
      rec[fmt.TF_OVERRIDE_PARAMS] = strings.opt(t.overrideParams);
      rec[fmt.TF_HEADERS_SET] = pushPairs(t.headersSet);
      rec[fmt.TF_HEADERS_SET_COUNT] = t.headersSet.length;
      rec[fmt.TF_HEADERS_REMOVE] = pushSids(t.headersRemove);
      rec[fmt.TF_HEADERS_REMOVE_COUNT] = t.headersRemove.length;
      rec[fmt.TF_METADATA] = pushPairs(t.metadataMatch);
      rec[fmt.TF_METADATA_COUNT] = t.metadataMatch.length;
      rec[fmt.TF_MAX_TTFT_MS] = t.maxTtftMs;
      rec[fmt.TF_MAX_TPOT_MS] = t.maxTimePerOutputTokenMs;
      rec[fmt.TF_LABEL_HASH] = fmt.fnv1aString(label);
      targets.push(...rec);
      weights.push(t.weight);
    }

    const { order, primaryCount } = strategyOrder(vm.strategy, vm.targets);
    const orderAt = lists.length;
    for (const i of order) lists.push(i);
    const cumAt = cum.length;
    let acc = 0;
    for (let k = 0; k < primaryCount; k++) {
      acc += vm.targets[order[k]].weight;
      cum.push(acc);
    }

    const stickyAt = lists.length;
    for (const k of vm.sticky?.keys ?? []) lists.push(fmt.STICKY_SOURCE_CODES.indexOf(k.source), strings.id(k.key));

    const mwAt = middleware.length / fmt.MW_STRIDE;
    pushMiddleware(vm.middleware.request);
    pushMiddleware(vm.middleware.response);
    pushMiddleware(vm.middleware.postResponse);

    const rec = new Array<number>(fmt.VM_STRIDE);
    rec[fmt.VF_NAME] = strings.id(vm.name);
    rec[fmt.VF_SLUG] = strings.opt(vm.slug);
    rec[fmt.VF_DESCRIPTION] = strings.id(vm.description);
    rec[fmt.VF_FLAGS] =
      (vm.enabled ? fmt.VMF_ENABLED : 0) |
      (implicit ? fmt.VMF_IMPLICIT : 0) |
      (hasMetadata ? fmt.VMF_HAS_METADATA : 0) |
      (vm.sticky ? fmt.VMF_STICKY : 0) |
      (fmt.STRATEGY_CODES.indexOf(vm.strategy) << fmt.VMF_STRATEGY_SHIFT) |
      (fmt.KIND_CODES.indexOf(vm.kind) << fmt.VMF_KIND_SHIFT);
    rec[fmt.VF_FIRST_TARGET] = firstTarget;
    rec[fmt.VF_TARGET_COUNT] = vm.targets.length;
    rec[fmt.VF_USER_PATHS] = pushSids(vm.userPaths);
    rec[fmt.VF_USER_PATH_COUNT] = vm.userPaths.length;
    rec[fmt.VF_MODEL_TYPES] = pushSids(vm.modelTypes);
    rec[fmt.VF_MODEL_TYPE_COUNT] = vm.modelTypes.length;
    rec[fmt.VF_STICKY_TTL] = vm.sticky?.ttlSeconds ?? 0;
    rec[fmt.VF_STICKY_KEYS] = stickyAt;
    rec[fmt.VF_STICKY_KEY_COUNT] = vm.sticky?.keys.length ?? 0;
    rec[fmt.VF_MIDDLEWARE] = mwAt;
    rec[fmt.VF_MW_COUNTS] =
      vm.middleware.request.length | (vm.middleware.response.length << 8) | (vm.middleware.postResponse.length << 16);
    rec[fmt.VF_ORDER] = orderAt;
    rec[fmt.VF_PRIMARY_COUNT] = primaryCount;
    rec[fmt.VF_CUM] = cumAt;
    vms.push(...rec);

    const reachable = vm.kind !== 'policy' || config.settings.passthrough;
    if (reachable) {
      indexKeys.push({ key: vm.name, vm: vmIndex });
      if (vm.slug !== null) indexKeys.push({ key: vm.slug, vm: vmIndex });
    }
  });

  // Hash index: open addressing, linear probing, load factor ≤ 0.5.
  const slots = fmt.hashSlotCount(indexKeys.length);
  const index = new Uint32Array(1 + slots * fmt.HASH_SLOT_STRIDE);
  index[0] = slots;
  for (let s = 0; s < slots; s++) index[1 + s * fmt.HASH_SLOT_STRIDE + fmt.HS_VM] = fmt.NONE;
  const seen = new Set<string>();
  for (const { key, vm } of indexKeys) {
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

  const flags =
    (config.settings.passthrough ? fmt.FLAG_PASSTHROUGH : 0) | (config.settings.modelsEndpoint === 'virtual_only' ? fmt.FLAG_VIRTUAL_ONLY : 0);
  const sections: fmt.SectionPayload[] = [
    { id: fmt.SectionId.STR_BYTES, bytes: strings.bytes() },
    { id: fmt.SectionId.STR_OFFSETS, bytes: strings.offsets() },
    { id: fmt.SectionId.PROVIDERS, bytes: providers.bytes() },
    { id: fmt.SectionId.CATALOG, bytes: catalog.bytes() },
    { id: fmt.SectionId.VMS, bytes: vms.bytes() },
    { id: fmt.SectionId.TARGETS, bytes: targets.bytes() },
    { id: fmt.SectionId.WEIGHTS, bytes: weights.bytes() },
    { id: fmt.SectionId.STATUS_SETS, bytes: statusSets.bytes() },
    { id: fmt.SectionId.LISTS, bytes: lists.bytes() },
    { id: fmt.SectionId.CUM_WEIGHTS, bytes: cum.bytes() },
    { id: fmt.SectionId.HASH_INDEX, bytes: new Uint8Array(index.buffer) },
    { id: fmt.SectionId.MIDDLEWARE, bytes: middleware.bytes() },
  ];
  return fmt.encodeTable(flags, sections);
}
