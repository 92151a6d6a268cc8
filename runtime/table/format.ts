/**
 * The vmc routing table: binary format, defined once (SPEC §4, STYLE.md "The binary
 * table format is defined once"). The compiler (compiler/lower.ts) writes it through
 * `encodeTable`; the runtime (runtime/table/reader.ts) reads it through `decodeSections`.
 * Nothing else may know byte offsets.
 *
 * All integers are little-endian. Every section starts 8-byte aligned (so Float64Array
 * views need no copy) and is zero-padded to a multiple of 8.
 *
 *  offset  size  field
 *  ┌──────────────────────────────────────────────────────────────────────────────┐
 *  │ 0      4     MAGIC "VMCT" (56 4D 43 54)                                      │
 *  │ 4      2     FORMAT_VERSION (u16) — readers reject any other value           │
 *  │ 6      2     flags (u16): bit0 passthrough, bit1 models_endpoint=virtual_only│
 *  │ 8      32    SHA-256 of bytes [HEADER_SIZE, total length)  (content hash)    │
 *  │ 40     4     total length in bytes (u32)                                     │
 *  │ 44     4     section count N (u32)                                           │
 *  │ 48     16    reserved, zero                                                  │
 *  ├──────────────────────────────────────────────────────────────────────────────┤
 *  │ 64     12·N  section directory: { id u32, offset u32, length u32 } × N,      │
 *  │              sorted by id; offset from file start; length in bytes (unpadded)│
 *  ├──────────────────────────────────────────────────────────────────────────────┤
 *  │ …            sections, in directory order                                    │
 *  └──────────────────────────────────────────────────────────────────────────────┘
 *
 * Sections (id → content). "sid" = string id: index into STR_OFFSETS; NONE = 0xFFFFFFFF.
 *
 *   1 STR_BYTES     UTF-8 bytes of all strings, concatenated (interned, first use first)
 *   2 STR_OFFSETS   u32[strCount + 1]: string i is STR_BYTES[off[i], off[i+1])
 *   3 PROVIDERS     u32 × PROVIDER_STRIDE per provider (PF_* fields), sorted by name;
 *                   PF_OPTIONS is the sid of the provider's SPEC §13 settings as canonical
 *                   JSON (auth placement, `headers`/`query` with `${ENV}` templates,
 *                   azure/bedrock/vertex keys — env var names only) or NONE
 *   4 CATALOG       u32 × CATALOG_STRIDE per catalogued model (CF_*), by provider, model
 *   5 VMS           u32 × VM_STRIDE per virtual model (VF_*): configured ones sorted by
 *                   name first, then the implicit passthrough entries sorted by name
 *   6 TARGETS       u32 × TARGET_STRIDE per target (TF_*); a vm's targets are contiguous
 *   7 WEIGHTS       f64[targetCount]: target weights
 *   8 STATUS_SETS   u32 × STATUS_SET_WORDS per set: bit (code − 100) set ⇔ code ∈ set
 *   9 LISTS         u32 pool: user paths, model types (sids), pairs (sid, sid) for
 *                   headers/metadata, sticky keys (source, sid), target orders (target
 *                   index relative to the vm's first target)
 *  10 CUM_WEIGHTS   f64 pool: per vm, cumulative weights over its precomputed primary pool
 *  11 HASH_INDEX    u32[0] = slot count S (power of two), then S × HASH_SLOT_STRIDE u32:
 *                   { hash u32, key byte offset in STR_BYTES, key byte length, vm u32
 *                   (NONE = empty slot) }; linear probing, load factor ≤ 0.5; keys are vm
 *                   names, slugs and implicit names. The key's bytes are addressed directly
 *                   (not through STR_OFFSETS) to save a dependent memory read per probe.
 *  12 MIDDLEWARE    u32 × MW_STRIDE per middleware call (MW_*), grouped per vm
 *
 * The hash function is FNV-1a 32 over the UTF-8 bytes of the name (`fnv1a`), chosen
 * because it can be computed straight from request body bytes without building a string.
 *
 * The table holds no file names, paths, positions or secrets (only env var NAMES and
 * `${ENV}` templates, resolved by the gateway at start).
 */

import { createHash } from 'node:crypto';
import { STRATEGY_FIELD_BITS, STRATEGY_NAMES } from './strategies/index.js';

/** File name of the table in a build directory (`vmc build --out DIR`). */
export const TABLE_FILE = 'table.vmct';

export const MAGIC = 0x54434d56; // "VMCT" read as little-endian u32
// 2: hash slots carry the key's byte offset and length; 3: PROVIDERS records carry PF_OPTIONS
export const FORMAT_VERSION = 3;
export const HEADER_SIZE = 64;
export const DIR_ENTRY_SIZE = 12;
export const NONE = 0xffffffff;

export const FLAG_PASSTHROUGH = 1 << 0;
export const FLAG_VIRTUAL_ONLY = 1 << 1;

export const SectionId = {
  STR_BYTES: 1,
  STR_OFFSETS: 2,
  PROVIDERS: 3,
  CATALOG: 4,
  VMS: 5,
  TARGETS: 6,
  WEIGHTS: 7,
  STATUS_SETS: 8,
  LISTS: 9,
  CUM_WEIGHTS: 10,
  HASH_INDEX: 11,
  MIDDLEWARE: 12,
} as const;
export type SectionId = (typeof SectionId)[keyof typeof SectionId];
export const SECTION_COUNT = 12;

// ── PROVIDERS record ────────────────────────────────────────────────────────────
export const PF_NAME = 0; // sid
export const PF_TYPE = 1; // provider type code: index in PROVIDER_TYPE_CODES (provider-types.ts)
export const PF_BASE_URL = 2; // sid
export const PF_API_KEY_ENV = 3; // sid or NONE
export const PF_TIMEOUT_MS = 4; // u32, 0 = runtime default
export const PF_CATALOG_FIRST = 5; // index into CATALOG
export const PF_CATALOG_COUNT = 6;
export const PF_OPTIONS = 7; // sid (canonical JSON of NormProviderOptions: SPEC §13 settings, no secrets) or NONE
export const PROVIDER_STRIDE = 8;

// ── CATALOG record ──────────────────────────────────────────────────────────────
export const CF_PROVIDER = 0; // provider index
export const CF_MODEL = 1; // sid (model name without provider)
export const CF_LABEL = 2; // sid "provider/model"
export const CATALOG_STRIDE = 3;

// ── VMS record ──────────────────────────────────────────────────────────────────
export const VF_NAME = 0; // sid
export const VF_SLUG = 1; // sid or NONE
export const VF_DESCRIPTION = 2; // sid
export const VF_FLAGS = 3; // VMF_* bits, strategy and kind fields
export const VF_FIRST_TARGET = 4; // global target index
export const VF_TARGET_COUNT = 5;
export const VF_USER_PATHS = 6; // LISTS index of sids
export const VF_USER_PATH_COUNT = 7;
export const VF_MODEL_TYPES = 8; // LISTS index of sids
export const VF_MODEL_TYPE_COUNT = 9;
export const VF_STICKY_TTL = 10; // seconds
export const VF_STICKY_KEYS = 11; // LISTS index of (source, sid) pairs
export const VF_STICKY_KEY_COUNT = 12;
export const VF_MIDDLEWARE = 13; // MIDDLEWARE record index
export const VF_MW_COUNTS = 14; // request | response << 8 | post_response << 16
export const VF_ORDER = 15; // LISTS index: targetCount relative target indices, strategy order
export const VF_PRIMARY_COUNT = 16; // size of the precomputed primary pool (prefix of ORDER)
export const VF_CUM = 17; // CUM_WEIGHTS index: VF_PRIMARY_COUNT cumulative weights
export const VM_STRIDE = 18;

export const VMF_ENABLED = 1 << 0;
export const VMF_IMPLICIT = 1 << 1; // passthrough entry for a catalogued model
export const VMF_HAS_METADATA = 1 << 2; // some target has a metadata_match
export const VMF_STICKY = 1 << 3;
export const VMF_STRATEGY_SHIFT = 8; // STRATEGY_FIELD_BITS (2) bits: strategy code
export const VMF_STRATEGY_MASK = (1 << STRATEGY_FIELD_BITS) - 1; // of the field, after the shift
export const VMF_KIND_SHIFT = 10; // 2 bits: Kind code
/** Strategy names by code: derived from the registry (./strategies/index.ts), never listed here. */
export const STRATEGY_CODES = STRATEGY_NAMES;
if (VMF_STRATEGY_SHIFT + STRATEGY_FIELD_BITS > VMF_KIND_SHIFT) throw new Error('VMF_FLAGS: the strategy field overlaps the kind field');
export const KIND_CODES = ['redirect', 'pool', 'policy'] as const;
export const STICKY_SOURCE_CODES = ['header', 'metadata'] as const;

// ── TARGETS record ──────────────────────────────────────────────────────────────
export const TF_PROVIDER = 0; // provider index
export const TF_MODEL = 1; // sid: upstream model name
export const TF_LABEL = 2; // sid: "provider/model"
export const TF_VM = 3; // owning vm index
export const TF_PRIORITY = 4;
export const TF_RETRY_ATTEMPTS = 5;
export const TF_RETRY_DELAY_MS = 6;
export const TF_RETRY_SET = 7; // STATUS_SETS index
export const TF_FALLBACK_SET = 8; // STATUS_SETS index
export const TF_FLAGS = 9; // TGF_* bits
export const TF_OVERRIDE_PARAMS = 10; // sid (canonical JSON) or NONE
export const TF_HEADERS_SET = 11; // LISTS index of (sid, sid) pairs
export const TF_HEADERS_SET_COUNT = 12;
export const TF_HEADERS_REMOVE = 13; // LISTS index of sids
export const TF_HEADERS_REMOVE_COUNT = 14;
export const TF_METADATA = 15; // LISTS index of (sid, sid) pairs
export const TF_METADATA_COUNT = 16;
export const TF_MAX_TTFT_MS = 17;
export const TF_MAX_TPOT_MS = 18;
export const TF_LABEL_HASH = 19; // fnv1a(label): seeds sticky rendezvous hashing
export const TARGET_STRIDE = 20;

export const TGF_FALLBACK_CANDIDATE = 1 << 0;
export const TGF_BACKEND_SHIFT = 2; // 2 bits: 0 provider's type, 1 openai, 2 anthropic

// ── STATUS_SETS ─────────────────────────────────────────────────────────────────
export const STATUS_MIN = 100;
export const STATUS_SET_WORDS = 16; // 512 bits cover 100..611

// ── HASH_INDEX ──────────────────────────────────────────────────────────────────
export const HASH_SLOT_STRIDE = 4;
export const HS_HASH = 0;
export const HS_KEY_OFFSET = 1; // byte offset of the key in STR_BYTES
export const HS_KEY_LENGTH = 2; // byte length of the key
export const HS_VM = 3; // vm index; NONE marks an empty slot

// ── MIDDLEWARE record ───────────────────────────────────────────────────────────
export const MW_NAME = 0; // sid
export const MW_CONFIG_TYPE = 1; // sid
export const MW_CONFIG = 2; // sid (canonical JSON) or NONE
export const MW_CONFIG_ID = 3; // sid or NONE
export const MW_STRIDE = 4;

export const FNV_OFFSET = 0x811c9dc5;
export const FNV_PRIME = 0x01000193;

/** FNV-1a 32 over bytes [start, end). HOT PATH: allocation-free. */
export function fnv1a(bytes: Uint8Array, start: number, end: number): number {
  let h = FNV_OFFSET;
  for (let i = start; i < end; i++) {
    h ^= bytes[i];
    h = Math.imul(h, FNV_PRIME);
  }
  return h >>> 0;
}

/** FNV-1a 32 over the UTF-8 encoding of a JS string, without materializing the bytes. */
export function fnv1aString(s: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      h = Math.imul(h ^ c, FNV_PRIME);
      continue;
    }
    if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d < 0xe000) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c >= 0xd800 && c < 0xe000) c = 0xfffd; // lone surrogate: what TextEncoder writes
    if (c < 0x800) {
      h = Math.imul(h ^ (0xc0 | (c >> 6)), FNV_PRIME);
    } else if (c < 0x10000) {
      h = Math.imul(h ^ (0xe0 | (c >> 12)), FNV_PRIME);
      h = Math.imul(h ^ (0x80 | ((c >> 6) & 63)), FNV_PRIME);
    } else {
      h = Math.imul(h ^ (0xf0 | (c >> 18)), FNV_PRIME);
      h = Math.imul(h ^ (0x80 | ((c >> 12) & 63)), FNV_PRIME);
      h = Math.imul(h ^ (0x80 | ((c >> 6) & 63)), FNV_PRIME);
    }
    h = Math.imul(h ^ (0x80 | (c & 63)), FNV_PRIME);
  }
  return h >>> 0;
}

/** Smallest power of two ≥ 2·n (load factor ≤ 0.5), at least 8. */
export function hashSlotCount(n: number): number {
  let s = 8;
  while (s < n * 2) s *= 2;
  return s;
}

export class TableFormatError extends Error {
  override name = 'TableFormatError';
}

/** One section's payload, as the writer hands it over. */
export interface SectionPayload {
  id: SectionId;
  bytes: Uint8Array;
}

export interface TableHeader {
  version: number;
  flags: number;
  hashHex: string;
  totalLength: number;
}

const pad8 = (n: number): number => (n + 7) & ~7;

/** Frame sections into a table: header, directory, aligned sections, content hash. */
export function encodeTable(flags: number, sections: SectionPayload[]): Uint8Array {
  const sorted = [...sections].sort((a, b) => a.id - b.id);
  const dirEnd = HEADER_SIZE + DIR_ENTRY_SIZE * sorted.length;
  let offset = pad8(dirEnd);
  const offsets: number[] = [];
  for (const s of sorted) {
    offsets.push(offset);
    offset = pad8(offset + s.bytes.byteLength);
  }
  const total = offset;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint16(4, FORMAT_VERSION, true);
  view.setUint16(6, flags, true);
  view.setUint32(40, total, true);
  view.setUint32(44, sorted.length, true);
  sorted.forEach((s, i) => {
    const at = HEADER_SIZE + i * DIR_ENTRY_SIZE;
    view.setUint32(at, s.id, true);
    view.setUint32(at + 4, offsets[i], true);
    view.setUint32(at + 8, s.bytes.byteLength, true);
    out.set(s.bytes, offsets[i]);
  });
  out.set(createHash('sha256').update(out.subarray(HEADER_SIZE)).digest(), 8);
  return out;
}

/**
 * Validate the frame and return each section as a view into `bytes` (no copies; the
 * caller keeps `bytes` alive). Throws TableFormatError on any inconsistency: wrong magic,
 * other version, truncated or trailing data, hash mismatch, overlapping sections.
 */
export function decodeSections(bytes: Uint8Array): { header: TableHeader; sections: Map<SectionId, Uint8Array> } {
  if (bytes.byteLength < HEADER_SIZE) throw new TableFormatError(`table too short (${bytes.byteLength} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC) throw new TableFormatError('not a vmc routing table (bad magic)');
  const version = view.getUint16(4, true);
  if (version !== FORMAT_VERSION) {
    throw new TableFormatError(`table format version ${version} is not supported (this runtime reads ${FORMAT_VERSION})`);
  }
  const total = view.getUint32(40, true);
  if (total !== bytes.byteLength) throw new TableFormatError(`table length ${bytes.byteLength} ≠ declared ${total}`);
  const digest = createHash('sha256').update(bytes.subarray(HEADER_SIZE)).digest();
  for (let i = 0; i < 32; i++) {
    if (digest[i] !== bytes[8 + i]) throw new TableFormatError('table content hash mismatch (corrupt table)');
  }
  const count = view.getUint32(44, true);
  if (HEADER_SIZE + count * DIR_ENTRY_SIZE > total) throw new TableFormatError('section directory out of bounds');
  const sections = new Map<SectionId, Uint8Array>();
  let prevEnd = HEADER_SIZE + count * DIR_ENTRY_SIZE;
  for (let i = 0; i < count; i++) {
    const at = HEADER_SIZE + i * DIR_ENTRY_SIZE;
    const id = view.getUint32(at, true) as SectionId;
    const off = view.getUint32(at + 4, true);
    const len = view.getUint32(at + 8, true);
    if (off < prevEnd || off % 8 !== 0 || off + len > total) throw new TableFormatError(`section ${id} out of bounds`);
    if (sections.has(id)) throw new TableFormatError(`section ${id} appears twice`);
    sections.set(id, bytes.subarray(off, off + len));
    prevEnd = off + len;
  }
  for (let id = 1; id <= SECTION_COUNT; id++) {
    if (!sections.has(id as SectionId)) throw new TableFormatError(`section ${id} missing`);
  }
  const hashHex = Buffer.from(bytes.subarray(8, 40)).toString('hex');
  return { header: { version, flags: view.getUint16(6, true), hashHex, totalLength: total }, sections };
}

/** u32 view of a section (copies only if unaligned, which a valid table never is). */
export function u32View(section: Uint8Array): Uint32Array {
  if (section.byteLength % 4 !== 0) throw new TableFormatError('u32 section length not a multiple of 4');
  if (section.byteOffset % 4 === 0) return new Uint32Array(section.buffer, section.byteOffset, section.byteLength / 4);
  return new Uint32Array(section.slice().buffer);
}

/** f64 view of a section. */
export function f64View(section: Uint8Array): Float64Array {
  if (section.byteLength % 8 !== 0) throw new TableFormatError('f64 section length not a multiple of 8');
  if (section.byteOffset % 8 === 0) return new Float64Array(section.buffer, section.byteOffset, section.byteLength / 8);
  return new Float64Array(section.slice().buffer);
}
