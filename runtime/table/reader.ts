/**
 * Routing table reader: decodes the bytes of runtime/table/format.ts into typed-array views
 * and answers the runtime's questions. Name lookup works on raw request-body bytes and
 * allocates nothing; the rest are cold accessors (they may build strings).
 */

import { endianness } from 'node:os';
import {
  CATALOG_STRIDE,
  CF_LABEL,
  CF_MODEL,
  CF_PROVIDER,
  FLAG_PASSTHROUGH,
  FLAG_VIRTUAL_ONLY,
  HASH_SLOT_STRIDE,
  HS_HASH,
  HS_KEY_LENGTH,
  HS_KEY_OFFSET,
  HS_VM,
  KIND_CODES,
  MW_CONFIG,
  MW_CONFIG_ID,
  MW_CONFIG_TYPE,
  MW_NAME,
  MW_STRIDE,
  NONE,
  PF_API_KEY_ENV,
  PF_BASE_URL,
  PF_CATALOG_COUNT,
  PF_CATALOG_FIRST,
  PF_NAME,
  PF_OPTIONS,
  PF_TIMEOUT_MS,
  PF_TYPE,
  PROVIDER_STRIDE,
  STATUS_MIN,
  STATUS_SET_WORDS,
  STICKY_SOURCE_CODES,
  STRATEGY_CODES,
  SectionId,
  TARGET_STRIDE,
  TF_FALLBACK_SET,
  TF_FLAGS,
  TF_HEADERS_REMOVE,
  TF_HEADERS_REMOVE_COUNT,
  TF_HEADERS_SET,
  TF_HEADERS_SET_COUNT,
  TF_LABEL,
  TF_LABEL_HASH,
  TF_MAX_TPOT_MS,
  TF_MAX_TTFT_MS,
  TF_METADATA,
  TF_METADATA_COUNT,
  TF_MODEL,
  TF_OVERRIDE_PARAMS,
  TF_PRIORITY,
  TF_PROVIDER,
  TF_RETRY_ATTEMPTS,
  TF_RETRY_DELAY_MS,
  TF_RETRY_SET,
  TGF_BACKEND_SHIFT,
  TGF_FALLBACK_CANDIDATE,
  TableFormatError,
  VF_DESCRIPTION,
  VF_FIRST_TARGET,
  VF_FLAGS,
  VF_MIDDLEWARE,
  VF_MODEL_TYPES,
  VF_MODEL_TYPE_COUNT,
  VF_MW_COUNTS,
  VF_CUM,
  VF_NAME,
  VF_ORDER,
  VF_PRIMARY_COUNT,
  VF_SLUG,
  VF_STICKY_KEYS,
  VF_STICKY_KEY_COUNT,
  VF_STICKY_TTL,
  VF_TARGET_COUNT,
  VF_USER_PATHS,
  VF_USER_PATH_COUNT,
  VM_STRIDE,
  VMF_ENABLED,
  VMF_HAS_METADATA,
  VMF_IMPLICIT,
  VMF_KIND_SHIFT,
  VMF_STICKY,
  VMF_STRATEGY_MASK,
  VMF_STRATEGY_SHIFT,
  decodeSections,
  f64View,
  fnv1a,
  u32View,
} from './format.js';
import type {
  BackendFormat,
  NormConfig,
  NormMiddleware,
  NormMiddlewareCall,
  NormProvider,
  NormProviderOptions,
  NormTarget,
  NormVirtualModel,
  ProviderType,
  Strategy,
  StickySource,
  VirtualModelKind,
} from './normalized.js';

import { Hot } from './hot.js';
import { PROVIDER_TYPE_CODES } from './provider-types.js';
import { isObject } from './util.js';
import type { StrategyTable } from './strategies/types.js';
import { PRIORITY_CODE, WEIGHTED_CODE } from './strategies/index.js';
import { pathAdmits } from './user-path.js';

export { TableFormatError } from './format.js';

if (endianness() !== 'LE') throw new Error('vmc routing tables are read through native typed arrays: little-endian hosts only');

const BACKENDS: BackendFormat[] = [null, 'openai', 'anthropic'];
const utf8 = new TextDecoder('utf-8', { fatal: true });

// ── the hot index (issue 13) ───────────────────────────────────────────────────
// Built by the reader when a table is decoded; runtime memory, not part of the file format.
// What one request's name → planned target touches, gathered per virtual model into one
// 128-byte record (two cache lines, 64-byte aligned): the plan fields first (flags, first
// target, counts, the strategy order as 4-bit indices — for pools of 2–4 targets each pick's
// whole try order — fallback-candidate bits, cumulative weights of the primary pool), then
// the name's bytes (layout: runtime/table/hot.ts). Keys (names and slugs) are found
// through a compact open-addressing array of (hash, vm) pairs, eight per cache line. At
// 100,000 virtual models the file's layout spread one lookup + pick over eight or more lines
// in six regions (hash slot, key bytes, vm record, order list, cumulative weights, target
// records), which is what a random name costs in cache and TLB misses.

/**
 * A zeroed, 64-byte aligned buffer of `bytes` bytes. ArrayBuffer backing stores are only
 * 16-byte aligned (malloc), which would spread a 128-byte record over three lines; a
 * WebAssembly memory is page aligned. Plain ArrayBuffer where WebAssembly is unavailable
 * (`--jitless`).
 */
function alignedBuffer(bytes: number): ArrayBuffer {
  const W = (globalThis as { WebAssembly?: { Memory: new (d: { initial: number }) => { buffer: ArrayBuffer } } }).WebAssembly;
  if (W !== undefined) {
    try {
      return new W.Memory({ initial: Math.max(1, Math.ceil(bytes / 65536)) }).buffer;
    } catch {
      /* no memory of that size: fall back */
    }
  }
  return new ArrayBuffer(bytes);
}

/**
 * The hash of the last {@link hashKey}, as an int32. A typed array, not a return value: a
 * hash ≥ 2^30 returned from a call V8 did not inline is boxed as a HeapNumber, and whether
 * hashKey is inlined into the lookup depends on the order in which V8 optimizes them
 * (measured: 2 runs in 6 of bench/resolve.mjs's 1,000-vm lookup case allocated 7.8 B/call).
 */
const keyHash = new Int32Array(1);

/**
 * HOT PATH: allocation-free. The hot index's hash of key bytes [start, start + len) of the
 * byte sequence `m` views (word i holds bytes 4i … 4i+3, little-endian), left in
 * `keyHash[0]`. Reads the key a word at a time: each key word is the high bytes of one
 * aligned word and the low bytes of the next, and each aligned word is loaded once. Four
 * bytes per multiply (the file's FNV-1a takes one per byte). A multiply carries every input
 * bit upwards only, so the slot index is taken from the hash's high bits (`h >>> keyShift`),
 * after one xor-shift-multiply that spreads the last word's bits (without it, sequential short
 * names cluster: 1.78 probes per key at load 0.38 instead of 1.31). The last key word holds
 * the len & 3 bytes left, zero padded (a zero word when len is a multiple of 4). `m` must
 * hold word ((start + len) >> 2) + 1.
 */
function hashKey(m: Int32Array, start: number, len: number): void {
  let p = start >> 2;
  const lo = (start & 3) << 3; // the key's first bit in its first word
  const hi = 31 - lo; // (x << 1) << hi = x << (32 − lo), and 0 when lo = 0 (a shift by 32 is one by 0)
  const stop = p + (len >> 2);
  let h = Math.imul(len, 0x9e3779b1);
  let cur = m[p];
  while (p < stop) {
    const next = m[++p];
    h = Math.imul(h ^ ((cur >>> lo) | ((next << 1) << hi)), 0x5bd1e995); // a bijection of h per word
    cur = next;
  }
  h = Math.imul(h ^ (((cur >>> lo) | ((m[p + 1] << 1) << hi)) & ((1 << ((len & 3) << 3)) - 1)), 0x5bd1e995);
  keyHash[0] = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
}

/** Byte p of the byte sequence the little-endian words `m` view (see {@link hashKey}). */
function wordByte(m: Int32Array, p: number): number {
  return (m[p >> 2] >>> ((p & 3) << 3)) & 255;
}

/** A decoded routing table. Immutable; a reload builds a new one. */
export class RoutingTable implements StrategyTable {
  readonly hashHex: string;
  readonly bytes: Uint8Array;
  readonly passthrough: boolean;
  readonly modelsEndpoint: 'all' | 'virtual_only';
  readonly vmCount: number;
  readonly targetCount: number;
  readonly providerCount: number;
  /** Largest target count of any vm (size for per-request scratch arrays). */
  readonly maxTargets: number;

  // Typed-array views into `bytes` (no copies). Exposed read-only to the router.
  readonly strBytes: Uint8Array;
  readonly strOffsets: Uint32Array;
  readonly providers: Uint32Array;
  readonly catalog: Uint32Array;
  readonly vms: Uint32Array;
  readonly targets: Uint32Array;
  readonly weights: Float64Array;
  readonly statusSets: Uint32Array;
  readonly lists: Uint32Array;
  readonly cumWeights: Float64Array;
  readonly hashIndex: Uint32Array;
  readonly hashMask: number;
  readonly middleware: Uint32Array;
  /** The hot index's per-vm records ({@link Hot.STRIDE} words each; `Hot` fields), and the same bytes as f64 (cumulative weights). */
  readonly hot: Int32Array;
  readonly hotF64: Float64Array;
  /** Key slots of the hot index: (hash, vm + 1) pairs (0: empty), a power of two of them, load ≤ 0.5. */
  readonly #keySlots: Int32Array;
  readonly #keyMask: number;
  readonly #keyShift: number;
  /** Longest key in bytes: a longer name cannot be in the table (and is not hashed). */
  readonly #maxKeyLen: number;
  /** Scratch of {@link lookup}: a key's bytes copied to word-aligned memory (and its words). */
  readonly #keyBytes: Uint8Array;
  readonly #keyBytes32: Int32Array;

  #strings: (string | undefined)[];
  /** Parsed PF_OPTIONS by provider (null = none), decoded and checked once by #validate. */
  #providerOptions: (NormProviderOptions | null)[] = [];

  private constructor(bytes: Uint8Array) {
    const { header, sections } = decodeSections(bytes);
    this.bytes = bytes;
    this.hashHex = header.hashHex;
    this.passthrough = (header.flags & FLAG_PASSTHROUGH) !== 0;
    this.modelsEndpoint = header.flags & FLAG_VIRTUAL_ONLY ? 'virtual_only' : 'all';
    const sec = (id: SectionId): Uint8Array => sections.get(id)!;
    this.strBytes = sec(SectionId.STR_BYTES);
    this.strOffsets = u32View(sec(SectionId.STR_OFFSETS));
    this.providers = u32View(sec(SectionId.PROVIDERS));
    this.catalog = u32View(sec(SectionId.CATALOG));
    this.vms = u32View(sec(SectionId.VMS));
    this.targets = u32View(sec(SectionId.TARGETS));
    this.weights = f64View(sec(SectionId.WEIGHTS));
    this.statusSets = u32View(sec(SectionId.STATUS_SETS));
    this.lists = u32View(sec(SectionId.LISTS));
    this.cumWeights = f64View(sec(SectionId.CUM_WEIGHTS));
    this.hashIndex = u32View(sec(SectionId.HASH_INDEX));
    this.middleware = u32View(sec(SectionId.MIDDLEWARE));
    this.vmCount = this.vms.length / VM_STRIDE;
    this.targetCount = this.targets.length / TARGET_STRIDE;
    this.providerCount = this.providers.length / PROVIDER_STRIDE;
    this.#strings = new Array(Math.max(0, this.strOffsets.length - 1));
    this.hashMask = (this.hashIndex[0] ?? 0) - 1;
    this.#validate();
    let max = 0;
    for (let vm = 0; vm < this.vmCount; vm++) max = Math.max(max, this.vms[vm * VM_STRIDE + VF_TARGET_COUNT]);
    this.maxTargets = max;
    const hotBuffer = alignedBuffer(Math.max(1, this.vmCount) * Hot.STRIDE * 4);
    this.hot = new Int32Array(hotBuffer, 0, this.vmCount * Hot.STRIDE);
    this.hotF64 = new Float64Array(hotBuffer, 0, (this.vmCount * Hot.STRIDE) / 2);
    const hot8 = new Uint8Array(hotBuffer);
    // key slots: every key of the file's hash index, load factor ≤ 0.5
    let keys = 0;
    let maxKeyLen = 0;
    const fileSlots = this.hashIndex[0];
    for (let s = 0; s < fileSlots; s++) {
      const at = 1 + s * HASH_SLOT_STRIDE;
      if (this.hashIndex[at + HS_VM] === NONE) continue;
      keys++;
      maxKeyLen = Math.max(maxKeyLen, this.hashIndex[at + HS_KEY_LENGTH]);
    }
    let slots = 16;
    while (slots < keys * 2) slots *= 2;
    this.#keySlots = new Int32Array(alignedBuffer(slots * 8), 0, slots * 2);
    this.#keyMask = slots - 1;
    this.#keyShift = 32 - Math.log2(slots);
    this.#maxKeyLen = maxKeyLen;
    this.#keyBytes = new Uint8Array(((maxKeyLen >> 2) + 2) * 4);
    this.#keyBytes32 = new Int32Array(this.#keyBytes.buffer);
    // names' offsets and hashes by vm, computed in vm order (the names sit in the string table
    // in about that order): the key loop below then reads them from two small arrays instead
    // of reading each key's bytes at a random place
    const nameOff = new Int32Array(this.vmCount);
    const nameHash = new Int32Array(this.vmCount);
    for (let vm = 0; vm < this.vmCount; vm++) {
      this.#buildHot(vm, hot8);
      const sid = this.vms[vm * VM_STRIDE + VF_NAME];
      const off = this.strOffsets[sid];
      nameOff[vm] = off;
      nameHash[vm] = this.#hashKey(this.strBytes, off, this.strOffsets[sid + 1]);
    }
    for (let s = 0; s < fileSlots; s++) {
      const at = 1 + s * HASH_SLOT_STRIDE;
      const vm = this.hashIndex[at + HS_VM];
      if (vm === NONE) continue;
      // (whether the key is the vm's name or its slug is decided when it is looked up: asking
      // here would cost two more random reads per key, and a slug lookup is rare)
      const off = this.hashIndex[at + HS_KEY_OFFSET];
      const len = this.hashIndex[at + HS_KEY_LENGTH];
      // (interned strings: the name's offset is the name; a wrong guess would only cost a miss)
      let hash = nameHash[vm];
      if (off !== nameOff[vm]) hash = this.#hashKey(this.strBytes, off, off + len);
      let k = hash >>> this.#keyShift;
      while (this.#keySlots[2 * k + 1] !== 0) k = (k + 1) & this.#keyMask;
      this.#keySlots[2 * k] = hash;
      this.#keySlots[2 * k + 1] = vm + 1;
    }
  }

  /** Fills vm's record of the hot index (see Hot.STRIDE). */
  #buildHot(vm: number, hot8: Uint8Array): void {
    const r = vm * VM_STRIDE;
    const h = vm * Hot.STRIDE;
    const hot = this.hot;
    const flags = this.vms[r + VF_FLAGS];
    const first = this.vms[r + VF_FIRST_TARGET];
    const n = this.vms[r + VF_TARGET_COUNT];
    const primary = this.vms[r + VF_PRIMARY_COUNT];
    hot[h + Hot.FLAGS] = flags;
    hot[h + Hot.FIRST] = first;
    hot[h + Hot.COUNT] = n;
    hot[h + Hot.PRIMARY] = primary;
    hot[h + Hot.USER_PATHS] = this.vms[r + VF_USER_PATH_COUNT];
    const strategy = (flags >>> VMF_STRATEGY_SHIFT) & VMF_STRATEGY_MASK;
    const orderAt = this.vms[r + VF_ORDER];
    let plan = 0;
    if (
      (strategy === WEIGHTED_CODE || strategy === PRIORITY_CODE) &&
      (flags & VMF_HAS_METADATA) === 0 &&
      n <= Hot.MAX_TARGETS &&
      primary >= 1 &&
      primary <= Hot.MAX_PRIMARY
    ) {
      plan = Hot.INLINE;
      let lo = 0;
      let hi = 0;
      for (let k = 0; k < n; k++) {
        const i = this.lists[orderAt + k];
        if (k < 8) lo |= i << (4 * k);
        else hi |= i << (4 * (k - 8));
        if (this.targets[(first + i) * TARGET_STRIDE + TF_FLAGS] & TGF_FALLBACK_CANDIDATE) plan |= 1 << (16 + k);
      }
      if (n <= Hot.MAX_PRIMARY) {
        // small: each pick's whole try order, so that planning it is four stores (Hot.ORDER)
        plan = (plan & 0xffff) | Hot.SMALL;
        lo = hi = 0;
        for (let k = 0; k < primary; k++) {
          let seq = this.lists[orderAt + k];
          let len = 1;
          for (let j = 0; j < n; j++) {
            const i = this.lists[orderAt + j];
            if (j === k || !(this.targets[(first + i) * TARGET_STRIDE + TF_FLAGS] & TGF_FALLBACK_CANDIDATE)) continue;
            seq |= i << (4 * len++);
          }
          if (k < 2) lo |= seq << (16 * k);
          else hi |= seq << (16 * (k - 2));
          plan |= (len - 1) << (16 + 2 * k);
        }
      }
      hot[h + Hot.ORDER] = lo;
      hot[h + Hot.ORDER + 1] = hi;
      const cumAt = this.vms[r + VF_CUM];
      for (let k = 0; k < primary; k++) this.hotF64[h / 2 + Hot.CUM_F64 + k] = this.cumWeights[cumAt + k];
      for (let k = primary; k < Hot.MAX_PRIMARY; k++) this.hotF64[h / 2 + Hot.CUM_F64 + k] = Infinity; // pickCumulative4's padding
    }
    hot[h + Hot.PLAN] = plan;
    const sid = this.vms[r + VF_NAME];
    const off = this.strOffsets[sid];
    const len = this.strOffsets[sid + 1] - off;
    hot[h + Hot.NAME_LEN] = len;
    const inline = Math.min(len, Hot.NAME_BYTES);
    const to = (h + Hot.NAME) * 4;
    for (let i = 0; i < inline; i++) hot8[to + i] = this.strBytes[off + i];
  }

  /** Decode and validate a table. Throws TableFormatError on anything inconsistent. */
  static decode(bytes: Uint8Array): RoutingTable {
    return new RoutingTable(bytes);
  }

  /** Structural checks beyond the frame: every index the hot path follows is in bounds. */
  #validate(): void {
    const fail = (what: string): never => {
      throw new TableFormatError(`corrupt table: ${what}`);
    };
    const strCount = this.strOffsets.length - 1;
    if (strCount < 1 || this.strOffsets[strCount] !== this.strBytes.length) fail('string offsets');
    for (let i = 0; i < strCount; i++) if (this.strOffsets[i] > this.strOffsets[i + 1]) fail('string offsets order');
    const sid = (v: number, nullable = false): void => {
      if (v === NONE ? !nullable : v >= strCount) fail('string id out of range');
    };
    if (this.vms.length % VM_STRIDE || this.targets.length % TARGET_STRIDE || this.providers.length % PROVIDER_STRIDE) fail('record sizes');
    if (this.weights.length !== this.targetCount) fail('weights length');
    const slots = this.hashIndex[0];
    if (!slots || slots & (slots - 1) || this.hashIndex.length !== 1 + slots * HASH_SLOT_STRIDE) fail('hash index size');
    for (let s = 0; s < slots; s++) {
      const at = 1 + s * HASH_SLOT_STRIDE;
      if (this.hashIndex[at + HS_VM] === NONE) continue;
      if (this.hashIndex[at + HS_VM] >= this.vmCount) fail('hash index vm');
      if (this.hashIndex[at + HS_KEY_OFFSET] + this.hashIndex[at + HS_KEY_LENGTH] > this.strBytes.length) fail('hash index key');
    }
    for (let p = 0; p < this.providerCount; p++) {
      const r = p * PROVIDER_STRIDE;
      if (this.providers[r + PF_TYPE] >= PROVIDER_TYPE_CODES.length) fail('provider type code');
      sid(this.providers[r + PF_NAME]);
      sid(this.providers[r + PF_BASE_URL]);
      sid(this.providers[r + PF_API_KEY_ENV], true);
      const o = this.providers[r + PF_OPTIONS];
      sid(o, true);
      let options: NormProviderOptions | null = null;
      if (o !== NONE) {
        try {
          const v: unknown = JSON.parse(this.str(o));
          if (isObject(v)) options = v as NormProviderOptions;
        } catch {
          /* reported below */
        }
        if (options === null) fail('provider options');
      }
      this.#providerOptions.push(options);
    }
    const setCount = this.statusSets.length / STATUS_SET_WORDS;
    for (let t = 0; t < this.targetCount; t++) {
      const r = t * TARGET_STRIDE;
      if (this.targets[r + TF_PROVIDER] >= this.providerCount) fail('target provider');
      sid(this.targets[r + TF_MODEL]);
      sid(this.targets[r + TF_LABEL]);
      sid(this.targets[r + TF_OVERRIDE_PARAMS], true);
      if (this.targets[r + TF_RETRY_SET] >= setCount || this.targets[r + TF_FALLBACK_SET] >= setCount) fail('status set');
      if (this.targets[r + TF_RETRY_ATTEMPTS] < 1) fail('retry attempts');
    }
    for (let vm = 0; vm < this.vmCount; vm++) {
      const r = vm * VM_STRIDE;
      sid(this.vms[r + VF_NAME]);
      sid(this.vms[r + VF_SLUG], true);
      const first = this.vms[r + VF_FIRST_TARGET];
      const n = this.vms[r + VF_TARGET_COUNT];
      if (n < 1 || first + n > this.targetCount) fail('vm targets');
      // the router's strategy switch trusts the code
      if (((this.vms[r + VF_FLAGS] >>> VMF_STRATEGY_SHIFT) & VMF_STRATEGY_MASK) >= STRATEGY_CODES.length) fail('strategy code');
    }
  }

  /** String by id, decoded once and cached. Cold path. */
  str(id: number): string {
    let s = this.#strings[id];
    if (s === undefined) {
      s = utf8.decode(this.strBytes.subarray(this.strOffsets[id], this.strOffsets[id + 1]));
      this.#strings[id] = s;
    }
    return s;
  }

  #optStr(id: number): string | null {
    return id === NONE ? null : this.str(id);
  }

  /** Copies key bytes buf[start, end) (at most #maxKeyLen) to word-aligned scratch. Allocation-free. */
  #alignKey(buf: Uint8Array, start: number, end: number): void {
    const kb = this.#keyBytes;
    for (let i = start; i < end; i++) kb[i - start] = buf[i];
  }

  /** The hot index's hash of key bytes buf[start, end) (cold: building the key slots). */
  #hashKey(buf: Uint8Array, start: number, end: number): number {
    this.#alignKey(buf, start, end);
    hashKey(this.#keyBytes32, 0, end - start);
    return keyHash[0];
  }

  /**
   * Allocation-free. Name bytes buf[start, end) → vm id, or -1: {@link lookupWords} on a
   * word-aligned copy of the name. For names that are not in a scanned body (`lookupString`:
   * escaped model names, caller keys' allow-lists, explain, admin); a request body's model
   * goes through lookupWords on the scan's words.
   */
  lookup(buf: Uint8Array, start: number, end: number): number {
    const len = end - start;
    if (len > this.#maxKeyLen || len < 0) return -1;
    this.#alignKey(buf, start, end);
    return this.lookupWords(this.#keyBytes32, 0, len);
  }

  /**
   * HOT PATH: allocation-free — change with care.
   * Name bytes [start, end) of the byte sequence the little-endian words `m` view (word i
   * holds bytes 4i … 4i+3: json-scan's `BodyScan.words`, the body's aligned copy) → vm id,
   * or -1. `m` must hold word (end >> 2) + 1. Reads the name a word at a time
   * and hashes it, probes the hot index's key slots and compares against the name stored in
   * the vm's record (slugs: against the string table); never builds a string.
   */
  lookupWords(m: Int32Array, start: number, end: number): number {
    const len = end - start;
    if (len > this.#maxKeyLen || len < 0) return -1;
    hashKey(m, start, len);
    const h = keyHash[0];
    const slots = this.#keySlots;
    const mask = this.#keyMask;
    let s = h >>> this.#keyShift;
    for (;;) {
      const e = slots[2 * s + 1];
      if (e === 0) return -1;
      if (slots[2 * s] === h) {
        const vm = e - 1;
        if (this.#nameEquals(vm, m, start, len)) return vm;
        if (this.#slugEquals(vm, m, start, len)) return vm; // cold: slugs, and hash collisions
      }
      s = (s + 1) & mask;
    }
  }

  /**
   * HOT PATH: allocation-free. vm's name equals the key (bytes [start, start + len) of the
   * words m): against the name's words inline in the vm's record, a word at a time as in
   * {@link hashKey}, and the string table past Hot.NAME_BYTES.
   */
  #nameEquals(vm: number, m: Int32Array, start: number, len: number): boolean {
    const hot = this.hot;
    const rec = vm * Hot.STRIDE;
    if (hot[rec + Hot.NAME_LEN] !== len) return false;
    const inline = len < Hot.NAME_BYTES ? len : Hot.NAME_BYTES;
    let p = start >> 2;
    const lo = (start & 3) << 3;
    const hi = 31 - lo;
    const full = inline >> 2;
    let cur = m[p];
    for (let i = 0; i < full; i++) {
      const next = m[++p];
      if (hot[rec + Hot.NAME + i] !== ((cur >>> lo) | ((next << 1) << hi))) return false;
      cur = next;
    }
    // the record's words are zero padded past the name: its last partial word, masked
    const tail = inline & 3;
    if (tail !== 0 && hot[rec + Hot.NAME + full] !== (((cur >>> lo) | ((m[p + 1] << 1) << hi)) & ((1 << (tail << 3)) - 1))) return false;
    return len <= Hot.NAME_BYTES || this.#bytesEqual(this.strOffsets[this.vms[vm * VM_STRIDE + VF_NAME]], m, start, Hot.NAME_BYTES, len);
  }

  /** String bytes [off + from, off + len) equal bytes [start + from, start + len) of the words m. */
  #bytesEqual(off: number, m: Int32Array, start: number, from: number, len: number): boolean {
    const sb = this.strBytes;
    for (let i = from; i < len; i++) if (sb[off + i] !== wordByte(m, start + i)) return false;
    return true;
  }

  /** vm's slug equals the key. */
  #slugEquals(vm: number, m: Int32Array, start: number, len: number): boolean {
    const sid = this.vms[vm * VM_STRIDE + VF_SLUG];
    if (sid === NONE) return false;
    const off = this.strOffsets[sid];
    return this.strOffsets[sid + 1] - off === len && this.#bytesEqual(off, m, start, 0, len);
  }

  /** The file's own hash index (FNV-1a over the key bytes): the lookup {@link lookup} replaces, kept as a cross-check for tests. */
  lookupFileIndex(buf: Uint8Array, start: number, end: number): number {
    const h = fnv1a(buf, start, end);
    const index = this.hashIndex;
    const mask = this.hashMask;
    const len = end - start;
    let s = h & mask;
    const sb = this.strBytes;
    for (;;) {
      const at = 1 + s * HASH_SLOT_STRIDE;
      const vm = index[at + HS_VM];
      if (vm === NONE) return -1;
      if (index[at + HS_HASH] === h && index[at + HS_KEY_LENGTH] === len) {
        const off = index[at + HS_KEY_OFFSET];
        let i = 0;
        while (i < len && sb[off + i] === buf[start + i]) i++;
        if (i === len) return vm;
      }
      s = (s + 1) & mask;
    }
  }

  /** Name → vm id or -1 (cold convenience for admin, explain and tests). */
  lookupString(name: string): number {
    const b = Buffer.from(name, 'utf8');
    return this.lookup(b, 0, b.length);
  }

  // ── virtual models ───────────────────────────────────────────────────────────
  vmFlags(vm: number): number {
    return this.hot[vm * Hot.STRIDE + Hot.FLAGS];
  }
  vmName(vm: number): string {
    return this.str(this.vms[vm * VM_STRIDE + VF_NAME]);
  }
  vmSlug(vm: number): string | null {
    return this.#optStr(this.vms[vm * VM_STRIDE + VF_SLUG]);
  }
  vmDescription(vm: number): string {
    return this.str(this.vms[vm * VM_STRIDE + VF_DESCRIPTION]);
  }
  vmIsImplicit(vm: number): boolean {
    return (this.vmFlags(vm) & VMF_IMPLICIT) !== 0;
  }
  vmEnabled(vm: number): boolean {
    return (this.vmFlags(vm) & VMF_ENABLED) !== 0;
  }
  vmStrategy(vm: number): Strategy {
    return STRATEGY_CODES[this.vmStrategyCode(vm)];
  }
  /** Table code of the vm's strategy (index into STRATEGY_CODES; ./strategies/index.ts). */
  vmStrategyCode(vm: number): number {
    return (this.vmFlags(vm) >>> VMF_STRATEGY_SHIFT) & VMF_STRATEGY_MASK;
  }
  vmKind(vm: number): VirtualModelKind {
    return KIND_CODES[(this.vmFlags(vm) >>> VMF_KIND_SHIFT) & 3];
  }
  vmFirstTarget(vm: number): number {
    return this.vms[vm * VM_STRIDE + VF_FIRST_TARGET];
  }
  vmTargetCount(vm: number): number {
    return this.hot[vm * Hot.STRIDE + Hot.COUNT];
  }
  #sidList(at: number, n: number): string[] {
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(this.str(this.lists[at + i]));
    return out;
  }
  #pairList(at: number, n: number): [string, string][] {
    const out: [string, string][] = [];
    for (let i = 0; i < n; i++) out.push([this.str(this.lists[at + 2 * i]), this.str(this.lists[at + 2 * i + 1])]);
    return out;
  }
  vmUserPaths(vm: number): string[] {
    const r = vm * VM_STRIDE;
    return this.#sidList(this.vms[r + VF_USER_PATHS], this.vms[r + VF_USER_PATH_COUNT]);
  }
  vmModelTypes(vm: number): string[] {
    const r = vm * VM_STRIDE;
    return this.#sidList(this.vms[r + VF_MODEL_TYPES], this.vms[r + VF_MODEL_TYPE_COUNT]);
  }

  /**
   * SPEC §3.3: with user paths, the caller's path must equal one of them or lie under it
   * at a segment boundary (`/team` admits `/team/x`, not `/teams`). Allocation-free.
   */
  vmAllowsUserPath(vm: number, userPath: string): boolean {
    if (this.hot[vm * Hot.STRIDE + Hot.USER_PATHS] === 0) return true; // the resolution's line, not the file's record
    const r = vm * VM_STRIDE;
    const n = this.vms[r + VF_USER_PATH_COUNT];
    const at = this.vms[r + VF_USER_PATHS];
    for (let i = 0; i < n; i++) {
      if (pathAdmits(this.str(this.lists[at + i]), userPath)) return true;
    }
    return false;
  }

  vmStickyKeys(vm: number): { source: StickySource; key: string }[] {
    const r = vm * VM_STRIDE;
    const at = this.vms[r + VF_STICKY_KEYS];
    const out: { source: StickySource; key: string }[] = [];
    for (let i = 0; i < this.vms[r + VF_STICKY_KEY_COUNT]; i++) {
      out.push({ source: STICKY_SOURCE_CODES[this.lists[at + 2 * i]], key: this.str(this.lists[at + 2 * i + 1]) });
    }
    return out;
  }
  vmIsSticky(vm: number): boolean {
    return (this.vmFlags(vm) & VMF_STICKY) !== 0;
  }
  vmStickyTtlSeconds(vm: number): number {
    return this.vms[vm * VM_STRIDE + VF_STICKY_TTL];
  }
  vmMiddleware(vm: number): NormMiddleware {
    const r = vm * VM_STRIDE;
    const counts = this.vms[r + VF_MW_COUNTS];
    let at = this.vms[r + VF_MIDDLEWARE];
    const take = (n: number): NormMiddlewareCall[] => {
      const out: NormMiddlewareCall[] = [];
      for (let i = 0; i < n; i++, at++) {
        const m = at * MW_STRIDE;
        out.push({
          name: this.str(this.middleware[m + MW_NAME]),
          configType: this.str(this.middleware[m + MW_CONFIG_TYPE]),
          config: this.#optStr(this.middleware[m + MW_CONFIG]),
          configId: this.#optStr(this.middleware[m + MW_CONFIG_ID]),
        });
      }
      return out;
    };
    const request = take(counts & 0xff);
    const response = take((counts >>> 8) & 0xff);
    const postResponse = take((counts >>> 16) & 0xff);
    return { request, response, postResponse };
  }

  // ── targets ──────────────────────────────────────────────────────────────────
  targetProvider(t: number): number {
    return this.targets[t * TARGET_STRIDE + TF_PROVIDER];
  }
  targetModel(t: number): string {
    return this.str(this.targets[t * TARGET_STRIDE + TF_MODEL]);
  }
  targetLabel(t: number): string {
    return this.str(this.targets[t * TARGET_STRIDE + TF_LABEL]);
  }
  targetWeight(t: number): number {
    return this.weights[t];
  }
  targetPriority(t: number): number {
    return this.targets[t * TARGET_STRIDE + TF_PRIORITY];
  }
  /** FNV-1a of the target's label (precomputed by lowering; sticky rendezvous hashing). */
  targetLabelHash(t: number): number {
    return this.targets[t * TARGET_STRIDE + TF_LABEL_HASH];
  }
  targetRetryAttempts(t: number): number {
    return this.targets[t * TARGET_STRIDE + TF_RETRY_ATTEMPTS];
  }
  targetRetryDelayMs(t: number): number {
    return this.targets[t * TARGET_STRIDE + TF_RETRY_DELAY_MS];
  }
  #inSet(set: number, status: number): boolean {
    const bit = status - STATUS_MIN;
    if (bit < 0 || bit >= STATUS_SET_WORDS * 32) return false;
    return (this.statusSets[set * STATUS_SET_WORDS + (bit >>> 5)] & (1 << (bit & 31))) !== 0;
  }
  #setCodes(set: number): number[] {
    const out: number[] = [];
    for (let bit = 0; bit < STATUS_SET_WORDS * 32; bit++) {
      if (this.statusSets[set * STATUS_SET_WORDS + (bit >>> 5)] & (1 << (bit & 31))) out.push(bit + STATUS_MIN);
    }
    return out;
  }
  targetRetriesOn(t: number, status: number): boolean {
    return this.#inSet(this.targets[t * TARGET_STRIDE + TF_RETRY_SET], status);
  }
  targetFallsBackOn(t: number, status: number): boolean {
    return this.#inSet(this.targets[t * TARGET_STRIDE + TF_FALLBACK_SET], status);
  }
  /** `retry.on_status` of target t, ascending (cold). */
  targetRetryStatuses(t: number): number[] {
    return this.#setCodes(this.targets[t * TARGET_STRIDE + TF_RETRY_SET]);
  }
  /** `fallback_on` of target t, ascending (cold). */
  targetFallbackStatuses(t: number): number[] {
    return this.#setCodes(this.targets[t * TARGET_STRIDE + TF_FALLBACK_SET]);
  }
  targetIsFallbackCandidate(t: number): boolean {
    return (this.targets[t * TARGET_STRIDE + TF_FLAGS] & TGF_FALLBACK_CANDIDATE) !== 0;
  }
  targetOverrideParams(t: number): string | null {
    return this.#optStr(this.targets[t * TARGET_STRIDE + TF_OVERRIDE_PARAMS]);
  }
  targetHeadersSet(t: number): [string, string][] {
    const r = t * TARGET_STRIDE;
    return this.#pairList(this.targets[r + TF_HEADERS_SET], this.targets[r + TF_HEADERS_SET_COUNT]);
  }
  targetHeadersRemove(t: number): string[] {
    const r = t * TARGET_STRIDE;
    return this.#sidList(this.targets[r + TF_HEADERS_REMOVE], this.targets[r + TF_HEADERS_REMOVE_COUNT]);
  }
  targetMetadataMatch(t: number): [string, string][] {
    const r = t * TARGET_STRIDE;
    return this.#pairList(this.targets[r + TF_METADATA], this.targets[r + TF_METADATA_COUNT]);
  }
  targetHasMetadata(t: number): boolean {
    return this.targets[t * TARGET_STRIDE + TF_METADATA_COUNT] > 0;
  }
  /**
   * Does `metadata` satisfy target t's metadata_match (every key present with an equal
   * value)? No allocation: compares against cached strings.
   */
  targetMatchesMetadata(t: number, metadata: Record<string, string> | null): boolean {
    const r = t * TARGET_STRIDE;
    const n = this.targets[r + TF_METADATA_COUNT];
    if (n === 0) return true;
    if (metadata === null) return false;
    const at = this.targets[r + TF_METADATA];
    for (let i = 0; i < n; i++) {
      const v = metadata[this.str(this.lists[at + 2 * i])];
      if (v !== this.str(this.lists[at + 2 * i + 1])) return false;
    }
    return true;
  }
  targetMaxTtftMs(t: number): number {
    return this.targets[t * TARGET_STRIDE + TF_MAX_TTFT_MS];
  }
  targetMaxTimePerOutputTokenMs(t: number): number {
    return this.targets[t * TARGET_STRIDE + TF_MAX_TPOT_MS];
  }
  targetBackendFormat(t: number): BackendFormat {
    return BACKENDS[(this.targets[t * TARGET_STRIDE + TF_FLAGS] >>> TGF_BACKEND_SHIFT) & 3];
  }
  /** The wire format spoken to this target: backend_format, else the provider's type. */
  targetWireFormat(t: number): ProviderType {
    return this.targetBackendFormat(t) ?? this.providerType(this.targetProvider(t));
  }

  // ── providers and catalog ────────────────────────────────────────────────────
  providerName(p: number): string {
    return this.str(this.providers[p * PROVIDER_STRIDE + PF_NAME]);
  }
  providerType(p: number): ProviderType {
    return PROVIDER_TYPE_CODES[this.providers[p * PROVIDER_STRIDE + PF_TYPE]];
  }
  providerBaseUrl(p: number): string {
    return this.str(this.providers[p * PROVIDER_STRIDE + PF_BASE_URL]);
  }
  providerApiKeyEnv(p: number): string | null {
    return this.#optStr(this.providers[p * PROVIDER_STRIDE + PF_API_KEY_ENV]);
  }
  providerTimeoutMs(p: number): number {
    return this.providers[p * PROVIDER_STRIDE + PF_TIMEOUT_MS];
  }
  /**
   * The provider's SPEC §13 settings (auth placement, `headers`/`query` templates, azure,
   * bedrock and vertex keys), or null when it has none. The object is shared: do not mutate.
   */
  providerOptions(p: number): NormProviderOptions | null {
    return this.#providerOptions[p];
  }
  providerModels(p: number): string[] {
    const r = p * PROVIDER_STRIDE;
    const out: string[] = [];
    for (let i = 0; i < this.providers[r + PF_CATALOG_COUNT]; i++) {
      out.push(this.str(this.catalog[(this.providers[r + PF_CATALOG_FIRST] + i) * CATALOG_STRIDE + CF_MODEL]));
    }
    return out;
  }
  /** Every catalogued model as "provider/model", in table order. */
  catalogLabels(): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.catalog.length / CATALOG_STRIDE; i++) out.push(this.str(this.catalog[i * CATALOG_STRIDE + CF_LABEL]));
    return out;
  }
  /** Provider index of catalog entry i. */
  catalogProvider(i: number): number {
    return this.catalog[i * CATALOG_STRIDE + CF_PROVIDER];
  }

  // ── round trip ───────────────────────────────────────────────────────────────
  #target(t: number): NormTarget {
    const r = t * TARGET_STRIDE;
    return {
      provider: this.providerName(this.targetProvider(t)),
      model: this.targetModel(t),
      weight: this.weights[t],
      priority: this.targets[r + TF_PRIORITY],
      retry: {
        attempts: this.targetRetryAttempts(t),
        delayMs: this.targetRetryDelayMs(t),
        onStatus: this.targetRetryStatuses(t),
      },
      fallbackOn: this.targetFallbackStatuses(t),
      fallbackCandidate: this.targetIsFallbackCandidate(t),
      overrideParams: this.targetOverrideParams(t),
      headersSet: this.targetHeadersSet(t),
      headersRemove: this.targetHeadersRemove(t),
      metadataMatch: this.targetMetadataMatch(t),
      maxTtftMs: this.targetMaxTtftMs(t),
      maxTimePerOutputTokenMs: this.targetMaxTimePerOutputTokenMs(t),
      backendFormat: this.targetBackendFormat(t),
    };
  }

  /** Decode one configured virtual model back into its normalized form. */
  virtualModel(vm: number): NormVirtualModel {
    const targets: NormTarget[] = [];
    const first = this.vmFirstTarget(vm);
    for (let i = 0; i < this.vmTargetCount(vm); i++) targets.push(this.#target(first + i));
    return {
      name: this.vmName(vm),
      slug: this.vmSlug(vm),
      description: this.vmDescription(vm),
      kind: this.vmKind(vm),
      enabled: this.vmEnabled(vm),
      userPaths: this.vmUserPaths(vm),
      modelTypes: this.vmModelTypes(vm),
      strategy: this.vmStrategy(vm),
      sticky: this.vmIsSticky(vm) ? { ttlSeconds: this.vmStickyTtlSeconds(vm), keys: this.vmStickyKeys(vm) } : null,
      targets,
      middleware: this.vmMiddleware(vm),
    };
  }

  /** Decode the whole table back into the normalized config it was lowered from. */
  toNormalized(): NormConfig {
    const providers: NormProvider[] = [];
    for (let p = 0; p < this.providerCount; p++) {
      const provider: NormProvider = {
        name: this.providerName(p),
        type: this.providerType(p),
        baseUrl: this.providerBaseUrl(p),
        apiKeyEnv: this.providerApiKeyEnv(p),
        models: this.providerModels(p),
        timeoutMs: this.providerTimeoutMs(p),
      };
      const options = this.providerOptions(p);
      // a fresh copy: callers (admin, diff) may edit the config they get
      if (options !== null) provider.options = JSON.parse(JSON.stringify(options)) as NormProviderOptions;
      providers.push(provider);
    }
    const virtualModels: NormVirtualModel[] = [];
    for (let vm = 0; vm < this.vmCount; vm++) if (!this.vmIsImplicit(vm)) virtualModels.push(this.virtualModel(vm));
    return {
      version: 1,
      settings: { passthrough: this.passthrough, modelsEndpoint: this.modelsEndpoint },
      providers,
      virtualModels,
    };
  }
}
