/**
 * One-pass JSON validator and `model` locator for request bodies (SPEC §3.1).
 *
 * The gateway must (a) reject malformed JSON with 400 and (b) find the top-level `"model"`
 * value, but it never needs the parsed document: the routing table is probed with the raw
 * bytes of the model name and the upstream body is the client's body with those bytes
 * spliced. So instead of `JSON.parse` (which allocates the whole tree) we walk the bytes once,
 * check the RFC 8259 grammar, and record where the model value sits.
 *
 * Speed (issue 13): the body is copied once into an aligned scratch buffer with a sentinel
 * byte after its end, so that no inner loop tests for the end of the input (the sentinel, a
 * control byte, ends every run: string, whitespace, number), and string contents — most of
 * a chat body — are skipped four bytes per load (`Int32Array`, SWAR tests for a quote, a
 * backslash or a control byte; the first such byte of a word is found by `Math.clz32`, with
 * no byte loop); where WebAssembly SIMD is available, sixteen bytes per load in a 160-byte
 * module (runtime/json-scan-simd.wat) whose memory holds the mirror. The scan is one
 * function with one loop per token kind, so
 * that V8 compiles it without a call per token. `bench/resolve.mjs` measures it against
 * `JSON.parse`.
 *
 * Agreement with `JSON.parse` (property-tested in test/runtime/json-scan.test.ts):
 * - a body is accepted exactly when `JSON.parse` of its UTF-8 text accepts it, except that
 *   nesting deeper than `maxDepth` is rejected and invalid UTF-8 inside strings is not
 *   checked (bytes ≥ 0x80 are passed through to the upstream untouched);
 * - when `"model"` appears more than once at the top level the body is ambiguous — JSON.parse
 *   keeps the last, other parsers (and upstreams) the first — so the scan reports
 *   {@link MODEL_DUPLICATE} and the gateway refuses it (400): routing must never check one
 *   model while the upstream serves another. A key spelled with escapes (`"mod\u0065l"`)
 *   counts as `model`.
 */

import { JSON_SCAN_SIMD_WASM } from './json-scan-simd.js';

/** Outcome codes stored in {@link BodyScan.status}. */
export const SCAN_OK = 0;
/** Not valid JSON; {@link BodyScan.errorOffset} is the byte where the scan stopped. */
export const SCAN_MALFORMED = 1;
/** Valid so far but nested deeper than the limit. */
export const SCAN_TOO_DEEP = 2;
/** Valid JSON whose top-level value is not an object. */
export const SCAN_NOT_OBJECT = 3;

/** {@link BodyScan.modelKind}: no top-level `model` member. */
export const MODEL_ABSENT = 0;
/** `model` is a string; its span is recorded. */
export const MODEL_STRING = 1;
/** `model` is present but not a string. */
export const MODEL_OTHER = 2;
/** `model` appears more than once at the top level (any values). */
export const MODEL_DUPLICATE = 3;

/** Default nesting limit; chat bodies nest 5–8 levels, tool schemas a few more. */
export const DEFAULT_MAX_DEPTH = 128;

/** BodyScan.words before the first scan. */
const NO_WORDS = new Int32Array(2);

/**
 * Reusable result of {@link scanJsonBody}. One instance per in-flight request (or a single
 * one when the caller finishes with it before the next scan): the scan writes fields, it
 * never allocates.
 */
export class BodyScan {
  /** One of `SCAN_*`. */
  status = SCAN_OK;
  /** Byte offset where a malformed body stopped the scan. */
  errorOffset = 0;
  /** One of `MODEL_*`. */
  modelKind = MODEL_ABSENT;
  /** Byte offset of the first byte of the model string's contents (after the opening quote). */
  modelStart = 0;
  /** Byte offset of the closing quote of the model string (exclusive end of the contents). */
  modelEnd = 0;
  /** True when the model string contains a backslash escape: its bytes are not the name. */
  modelEscaped = false;
  /**
   * The body as the scan read it: a word-aligned copy (word i holds bytes 4i … 4i+3,
   * little-endian) with at least two words past the body's end, for `RoutingTable.lookupWords`.
   * The module's shared mirror for most bodies: valid until the next scan.
   */
  words: Int32Array = NO_WORDS;

  reset(): void {
    this.status = SCAN_OK;
    this.errorOffset = 0;
    this.modelKind = MODEL_ABSENT;
    this.modelStart = 0;
    this.modelEnd = 0;
    this.modelEscaped = false;
  }
}

const OBJ = 1;
const ARR = 2;

// Container kinds by depth. Module-level scratch: the scan is synchronous, so one buffer
// serves every request; it only grows when a caller asks for a deeper limit.
let stack = new Uint8Array(DEFAULT_MAX_DEPTH);

/**
 * Bodies up to this size are scanned from the module's mirror (grown to the largest body
 * seen, never beyond this); a larger body gets a mirror of its own for the one scan (an
 * allocation the size of a body that already took that much memory to arrive).
 */
export const MIRROR_MAX_BYTES = 1 << 20;
/** Room after the body: the sentinel, and whole words for the word loop (it reads up to two words past the sentinel's). */
const SLACK = 12;
/** Memory the SIMD skipper may read past the sentinel (one 16-byte load that starts at it). */
const SIMD_SLACK = 16;

/** The SIMD string skipper (runtime/json-scan-simd.wat): its memory, and `special(p)`. */
interface SimdSkipper {
  memory: WebAssembly.Memory;
  special: (p: number) => number;
}

/**
 * The SIMD string skipper, or null where WebAssembly or its SIMD is unavailable (`--jitless`,
 * old engines): the word loop then does its work. Compiled synchronously: 160 bytes.
 */
function loadSimd(): SimdSkipper | null {
  if (typeof WebAssembly === 'undefined') return null;
  try {
    if (!WebAssembly.validate(JSON_SCAN_SIMD_WASM)) return null;
    const { memory, special } = new WebAssembly.Instance(new WebAssembly.Module(JSON_SCAN_SIMD_WASM)).exports as unknown as SimdSkipper;
    return { memory, special };
  } catch {
    return null;
  }
}
const simd = loadSimd();
// (the identity is never called: scanSimd stays false without the module)
const simdSpecial = simd === null ? (p: number): number => p : simd.special;
/** Scans of bodies in the shared mirror skip string contents with SIMD (see {@link setJsonScanSimd}). */
let simdOn = simd !== null;
/** Whether the scan in progress uses the SIMD skipper (its body is in the shared mirror). */
let scanSimd = false;

/**
 * Turns the SIMD string skipper on or off (tests and benchmarks run the word loop with it
 * off); returns whether it is on (never where WebAssembly SIMD is unavailable).
 */
export function setJsonScanSimd(on: boolean): boolean {
  simdOn = on && simd !== null;
  return simdOn;
}

/**
 * The module's mirror of the body: in the SIMD skipper's WebAssembly memory (from offset 0,
 * with SIMD_SLACK bytes of memory after it) when there is one, else a plain buffer.
 */
let mirror = new Uint8Array(0);
let mirror32 = new Int32Array(0);
allocMirror(4096);

/** (Re)allocates the mirror with `size` bytes (a multiple of 4). Cold. */
function allocMirror(size: number): void {
  if (simd !== null) {
    const have = simd.memory.buffer.byteLength;
    if (have < size + SIMD_SLACK) simd.memory.grow(Math.ceil((size + SIMD_SLACK - have) / 65536));
    mirror = new Uint8Array(simd.memory.buffer, 0, size);
  } else mirror = new Uint8Array(size);
  mirror32 = new Int32Array(mirror.buffer, 0, size >> 2);
}

// Side result of scanString (a second return value without allocating).
let stringEscaped = false;

const CH_QUOTE = 0x22;
const CH_BACKSLASH = 0x5c;
const CH_LBRACE = 0x7b;
const CH_RBRACE = 0x7d;
const CH_LBRACKET = 0x5b;
const CH_RBRACKET = 0x5d;
const CH_COMMA = 0x2c;
const CH_COLON = 0x3a;
const CH_MINUS = 0x2d;
/** After the body: a control byte, which no token may contain, so every run stops there. */
const SENTINEL = 0;

// SWAR constants: four bytes of a little-endian word.
const ONES = 0x01010101;
const HIGHS = 0x80808080 | 0;
const QUOTES = 0x22222222;
const BACKSLASHES = 0x5c5c5c5c;
const SPACES = 0x20202020;

// HOT PATH: allocation-free — change with care

/**
 * Scans `body` as a JSON request body, filling `out`. Returns true when the body is a valid
 * JSON object (`out.status === SCAN_OK`); the model fields are meaningful only then.
 */
export function scanJsonBody(body: Uint8Array, out: BodyScan, maxDepth: number = DEFAULT_MAX_DEPTH): boolean {
  out.reset();
  if (stack.length < maxDepth) stack = new Uint8Array(maxDepth); // cold: unusual limit
  const end = body.length;
  let m = mirror;
  if (m.length < end + SLACK) {
    // cold: a body larger than any before (grow the mirror), or above the mirror's bound
    if (end <= MIRROR_MAX_BYTES) {
      growMirror(end + SLACK);
      m = mirror;
    } else m = new Uint8Array((end + SLACK + 3) & ~3); // whole words: an Int32Array views it
  }
  const m32 = m === mirror ? mirror32 : new Int32Array(m.buffer);
  scanSimd = simdOn && m === mirror;
  out.words = m32;
  m.set(body);
  m[end] = SENTINEL;

  let depth = 0;
  let modelPending = false;
  let modelKeys = 0;
  let pos = 0;
  let c = m[0];
  while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = m[++pos];
  const topIsObject = c === CH_LBRACE;

  for (;;) {
    // ---- a value starts at pos (c = m[pos], whitespace skipped) ----
    const isModel = modelPending;
    modelPending = false;
    if (c === CH_QUOTE) {
      const start = pos + 1;
      pos = scanString(m, m32, start, end);
      if (pos < 0) return fail(out, SCAN_MALFORMED, -pos - 1);
      if (isModel) {
        out.modelKind = MODEL_STRING;
        out.modelStart = start;
        out.modelEnd = pos - 1;
        out.modelEscaped = stringEscaped;
      }
    } else if (c === CH_LBRACE || c === CH_LBRACKET) {
      if (isModel) out.modelKind = MODEL_OTHER;
      if (depth >= maxDepth) return fail(out, SCAN_TOO_DEEP, pos);
      const isObj = c === CH_LBRACE;
      stack[depth++] = isObj ? OBJ : ARR;
      c = m[++pos];
      while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = m[++pos];
      if (c === (isObj ? CH_RBRACE : CH_RBRACKET)) {
        pos++; // empty container: closed at once
        depth--;
      } else if (isObj) {
        // the first member's key
        pos = scanKey(m, m32, pos, end, depth);
        if (pos < 0) return fail(out, SCAN_MALFORMED, -pos - 1);
        if (keyIsModel) {
          modelPending = true;
          modelKeys++;
        }
        c = m[pos];
        while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = m[++pos];
        continue; // the member's value follows
      } else {
        if (pos >= end) return fail(out, SCAN_MALFORMED, pos);
        continue; // the first element follows
      }
    } else {
      if (isModel) out.modelKind = MODEL_OTHER;
      pos = scanScalar(m, pos, end, c);
      if (pos < 0) return fail(out, SCAN_MALFORMED, -pos - 1);
    }

    // ---- a value just ended: close containers until a separator asks for the next value ----
    for (;;) {
      c = m[pos];
      while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = m[++pos];
      if (depth === 0) {
        if (pos !== end) return fail(out, SCAN_MALFORMED, pos);
        if (!topIsObject) {
          out.status = SCAN_NOT_OBJECT;
          out.modelKind = MODEL_ABSENT;
          return false;
        }
        if (modelKeys > 1) out.modelKind = MODEL_DUPLICATE;
        return true;
      }
      const kind = stack[depth - 1];
      if (c === CH_COMMA) {
        c = m[++pos];
        while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = m[++pos];
        if (kind === OBJ) {
          pos = scanKey(m, m32, pos, end, depth);
          if (pos < 0) return fail(out, SCAN_MALFORMED, -pos - 1);
          if (keyIsModel) {
            modelPending = true;
            modelKeys++;
          }
          c = m[pos];
          while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = m[++pos];
        }
        break;
      }
      if (c === (kind === OBJ ? CH_RBRACE : CH_RBRACKET)) {
        pos++;
        depth--;
        continue;
      }
      return fail(out, SCAN_MALFORMED, pos);
    }
  }
}

function fail(out: BodyScan, status: number, pos: number): false {
  out.status = status;
  out.errorOffset = pos;
  out.modelKind = MODEL_ABSENT;
  return false;
}

/** Grows the module's mirror to at least `n` bytes (doubling, up to the bound). Cold. */
function growMirror(n: number): void {
  let size = mirror.length;
  while (size < n) size *= 2;
  allocMirror(Math.min(size, (MIRROR_MAX_BYTES + SLACK + 3) & ~3));
}

/**
 * Scans string contents starting after the opening quote. Returns the offset after the
 * closing quote, or `-(offset + 1)` of the offending byte. Sets `stringEscaped`.
 *
 * Sixteen bytes per load when the body is in the shared mirror and WebAssembly SIMD is
 * available: the SIMD skipper's `special` (runtime/json-scan-simd.wat) returns the first
 * quote, backslash or control byte at or after pos. Otherwise the word loop:
 *
 * Four bytes per load, with no byte loop (issue 13): {@link specialBytes} flags, in one
 * aligned word, the bytes that end or interrupt a run of string contents; the bytes of the
 * first word that come before `pos` are masked out, and the lowest flag (`Math.clz32` of the
 * lowest set bit) is the first such byte. Words go two per iteration. The sentinel after
 * the body is a control byte, so no loop needs a bounds test.
 */
function scanString(m: Uint8Array, m32: Int32Array, pos: number, end: number): number {
  let escaped = false;
  for (;;) {
    if (scanSimd) pos = simdSpecial(pos);
    else {
      let wi = pos >> 2;
      let t = specialBytes(m32[wi]) & (-1 << ((pos & 3) << 3));
      while (t === 0) {
        const w = m32[wi + 1];
        const x = m32[wi + 2]; // within the mirror: SLACK covers the word after the sentinel's
        t = specialBytes(w);
        if (t !== 0) {
          wi++;
          break;
        }
        t = specialBytes(x);
        wi += 2;
      }
      pos = (wi << 2) + ((31 - Math.clz32(t & -t)) >> 3);
    }
    const c = m[pos];
    if (c === CH_QUOTE) {
      stringEscaped = escaped;
      return pos + 1;
    }
    if (c === CH_BACKSLASH) {
      escaped = true;
      pos = scanEscape(m, pos, end);
      if (pos < 0) return pos;
      continue;
    }
    if (c < 0x20) return pos >= end ? -end - 1 : -pos - 1; // raw control characters are not allowed; the sentinel: unterminated
    pos++; // an ordinary byte flagged by a borrow from a masked byte before pos (see specialBytes)
  }
}

/**
 * The high bit of each byte of the little-endian word `w` that is a `"`, a `\` or below 0x20
 * (the classic "has a zero byte" test on `w ^ 0x22…` and `w ^ 0x5c…`, "has a byte below
 * 0x20" on `w`; the three share the `& ~w` because xor with 0x22 or 0x5c keeps a byte's high
 * bit, and no byte ≥ 0x80 is special). A borrow only moves upwards, from a byte that is
 * special, so the lowest flag is always a special byte; flags above it may be false. When the
 * caller masks out the low bytes of a word, a special byte among them can lend a false flag
 * to the byte above: scanString then steps over that ordinary byte.
 */
function specialBytes(w: number): number {
  return (((w ^ QUOTES) - ONES) | ((w ^ BACKSLASHES) - ONES) | (w - SPACES)) & ~w & HIGHS;
}

/** The escape sequence at `pos` (a backslash): the offset after it, or `-(offset + 1)` of the error. */
function scanEscape(m: Uint8Array, pos: number, end: number): number {
  if (pos + 1 >= end) return -(pos + 1) - 1;
  const e = m[pos + 1];
  if (e === 0x75 /* u */) {
    if (pos + 5 >= end) return -end - 1;
    if (!isHex(m[pos + 2]) || !isHex(m[pos + 3]) || !isHex(m[pos + 4]) || !isHex(m[pos + 5])) return -(pos + 2) - 1;
    return pos + 6;
  }
  // \" \\ \/ \b \f \n \r \t
  if (e !== CH_QUOTE && e !== CH_BACKSLASH && e !== 0x2f && e !== 0x62 && e !== 0x66 && e !== 0x6e && e !== 0x72 && e !== 0x74) {
    return -(pos + 1) - 1;
  }
  return pos + 2;
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
}

/** Set by scanKey: the key just scanned is a top-level `model`. */
let keyIsModel = false;

/**
 * Scans an object key (`"…"`, whitespace, `:`) at `pos`. Returns the offset after the colon,
 * or `-(offset + 1)` on error. Sets `keyIsModel` when this is a top-level `model` key.
 */
function scanKey(m: Uint8Array, m32: Int32Array, pos: number, end: number, depth: number): number {
  if (m[pos] !== CH_QUOTE) return -pos - 1;
  const start = pos + 1;
  pos = scanString(m, m32, start, end);
  if (pos < 0) return pos;
  keyIsModel = false;
  if (depth === 1) {
    const len = pos - 1 - start;
    if (!stringEscaped) {
      keyIsModel =
        len === 5 && m[start] === 0x6d && m[start + 1] === 0x6f && m[start + 2] === 0x64 && m[start + 3] === 0x65 && m[start + 4] === 0x6c; // "model"
    } else if (len <= 30) {
      keyIsModel = decodeJsonString(m, start, pos - 1) === 'model'; // cold: escaped key
    }
  }
  let c = m[pos];
  while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = m[++pos];
  if (c !== CH_COLON) return -pos - 1;
  return pos + 1;
}

/** Scans a number or literal starting with byte `c` at `pos`; same return convention. */
function scanScalar(m: Uint8Array, pos: number, end: number, c: number): number {
  if (c === 0x74) return matchLiteral(m, pos, end, 0x74, 0x72, 0x75, 0x65, 0); // true
  if (c === 0x66) return matchLiteral(m, pos, end, 0x66, 0x61, 0x6c, 0x73, 0x65); // false
  if (c === 0x6e) return matchLiteral(m, pos, end, 0x6e, 0x75, 0x6c, 0x6c, 0); // null
  // number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?  (the sentinel is no digit)
  if (c === CH_MINUS) c = m[++pos];
  if (c === 0x30) {
    pos++;
  } else if (c >= 0x31 && c <= 0x39) {
    c = m[++pos];
    while (c >= 0x30 && c <= 0x39) c = m[++pos];
  } else {
    return -pos - 1;
  }
  c = m[pos];
  if (c === 0x2e) {
    c = m[++pos];
    if (!(c >= 0x30 && c <= 0x39)) return -pos - 1;
    while (c >= 0x30 && c <= 0x39) c = m[++pos];
  }
  if (c === 0x65 || c === 0x45) {
    c = m[++pos];
    if (c === 0x2b || c === CH_MINUS) c = m[++pos];
    if (!(c >= 0x30 && c <= 0x39)) return -pos - 1;
    while (c >= 0x30 && c <= 0x39) c = m[++pos];
  }
  return pos;
}

/** Matches a 4- or 5-byte literal (`e` = 0 for 4 bytes). */
function matchLiteral(m: Uint8Array, pos: number, end: number, a: number, b: number, c: number, d: number, e: number): number {
  const n = e === 0 ? 4 : 5;
  if (pos + n > end) return -pos - 1;
  if (m[pos] !== a || m[pos + 1] !== b || m[pos + 2] !== c || m[pos + 3] !== d) return -pos - 1;
  if (e !== 0 && m[pos + 4] !== e) return -pos - 1;
  return pos + n;
}

// ---- cold paths ----

const utf8 = new TextDecoder();

/** Decodes the JSON string whose contents are `buf[start, end)` (quotes excluded). Cold. */
export function decodeJsonString(buf: Uint8Array, start: number, end: number): string {
  return JSON.parse(utf8.decode(buf.subarray(start - 1, end + 1))) as string;
}

/** The model name of a successful scan as a JS string (cold: escaped names, logs). */
export function modelName(buf: Uint8Array, scan: BodyScan): string {
  return scan.modelEscaped
    ? decodeJsonString(buf, scan.modelStart, scan.modelEnd)
    : utf8.decode(buf.subarray(scan.modelStart, scan.modelEnd));
}
