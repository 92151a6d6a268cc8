/**
 * One-pass JSON validator and `model` locator for request bodies (SPEC §3.1).
 *
 * The gateway must (a) reject malformed JSON with 400 and (b) find the top-level `"model"`
 * value, but it never needs the parsed document: the routing table is probed with the raw
 * bytes of the model name and the upstream body is the client's body with those bytes
 * spliced. So instead of `JSON.parse` (which allocates the whole tree) we walk the bytes once,
 * check the RFC 8259 grammar, and record where the model value sits.
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

// Side results of the helpers below (multiple return values without allocating).
let stringEscaped = false;
let keyIsModel = false;

const CH_QUOTE = 0x22;
const CH_BACKSLASH = 0x5c;
const CH_LBRACE = 0x7b;
const CH_RBRACE = 0x7d;
const CH_LBRACKET = 0x5b;
const CH_RBRACKET = 0x5d;
const CH_COMMA = 0x2c;
const CH_COLON = 0x3a;
const CH_MINUS = 0x2d;

// HOT PATH: allocation-free — change with care

/**
 * Scans `buf` as a JSON request body, filling `out`. Returns true when the body is a valid
 * JSON object (`out.status === SCAN_OK`); the model fields are meaningful only then.
 */
export function scanJsonBody(buf: Uint8Array, out: BodyScan, maxDepth: number = DEFAULT_MAX_DEPTH): boolean {
  out.reset();
  if (stack.length < maxDepth) stack = new Uint8Array(maxDepth); // cold: unusual limit
  const end = buf.length;
  let depth = 0;
  let modelPending = false;
  let modelKeys = 0;
  let pos = skipWs(buf, 0, end);
  const topIsObject = pos < end && buf[pos] === CH_LBRACE;

  for (;;) {
    // ---- one value starts at pos (whitespace allowed) ----
    pos = skipWs(buf, pos, end);
    if (pos >= end) return fail(out, SCAN_MALFORMED, pos);
    let c = buf[pos];
    const isModel = modelPending;
    modelPending = false;

    if (c === CH_LBRACE || c === CH_LBRACKET) {
      if (isModel) out.modelKind = MODEL_OTHER;
      if (depth >= maxDepth) return fail(out, SCAN_TOO_DEEP, pos);
      stack[depth++] = c === CH_LBRACE ? OBJ : ARR;
      pos = skipWs(buf, pos + 1, end);
      if (pos >= end) return fail(out, SCAN_MALFORMED, pos);
      if (c === CH_LBRACE) {
        if (buf[pos] !== CH_RBRACE) {
          pos = scanKey(buf, pos, end, depth);
          if (pos < 0) return fail(out, SCAN_MALFORMED, -pos - 1);
          modelPending = keyIsModel;
          if (keyIsModel) modelKeys++;
          continue; // the member's value follows
        }
      } else if (buf[pos] !== CH_RBRACKET) {
        continue; // the first element follows
      }
      pos++; // empty container: closed at once
      depth--;
    } else if (c === CH_QUOTE) {
      const start = pos + 1;
      pos = scanString(buf, start, end);
      if (pos < 0) return fail(out, SCAN_MALFORMED, -pos - 1);
      if (isModel) {
        out.modelKind = MODEL_STRING;
        out.modelStart = start;
        out.modelEnd = pos - 1;
        out.modelEscaped = stringEscaped;
      }
    } else {
      if (isModel) out.modelKind = MODEL_OTHER;
      pos = scanScalar(buf, pos, end, c);
      if (pos < 0) return fail(out, SCAN_MALFORMED, -pos - 1);
    }

    // ---- a value just ended: close containers until a separator asks for the next value ----
    for (;;) {
      pos = skipWs(buf, pos, end);
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
      if (pos >= end) return fail(out, SCAN_MALFORMED, pos);
      c = buf[pos];
      const kind = stack[depth - 1];
      if (c === CH_COMMA) {
        pos++;
        if (kind === OBJ) {
          pos = skipWs(buf, pos, end);
          pos = scanKey(buf, pos, end, depth);
          if (pos < 0) return fail(out, SCAN_MALFORMED, -pos - 1);
          modelPending = keyIsModel;
          if (keyIsModel) modelKeys++;
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

function skipWs(buf: Uint8Array, pos: number, end: number): number {
  while (pos < end) {
    const c = buf[pos];
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
    pos++;
  }
  return pos;
}

/**
 * Scans string contents starting after the opening quote. Returns the offset after the
 * closing quote, or `-(offset + 1)` of the offending byte. Sets `stringEscaped`.
 */
function scanString(buf: Uint8Array, pos: number, end: number): number {
  let escaped = false;
  while (pos < end) {
    const c = buf[pos];
    if (c === CH_QUOTE) {
      stringEscaped = escaped;
      return pos + 1;
    }
    if (c === CH_BACKSLASH) {
      escaped = true;
      if (pos + 1 >= end) return -(pos + 1) - 1;
      const e = buf[pos + 1];
      if (e === 0x75 /* u */) {
        if (pos + 5 >= end) return -end - 1;
        if (!isHex(buf[pos + 2]) || !isHex(buf[pos + 3]) || !isHex(buf[pos + 4]) || !isHex(buf[pos + 5])) {
          return -(pos + 2) - 1;
        }
        pos += 6;
        continue;
      }
      // \" \\ \/ \b \f \n \r \t
      if (e !== CH_QUOTE && e !== CH_BACKSLASH && e !== 0x2f && e !== 0x62 && e !== 0x66 && e !== 0x6e && e !== 0x72 && e !== 0x74) {
        return -(pos + 1) - 1;
      }
      pos += 2;
      continue;
    }
    if (c < 0x20) return -pos - 1; // raw control characters are not allowed in strings
    pos++;
  }
  return -end - 1;
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
}

/**
 * Scans an object key (`"…"`, whitespace, `:`) at `pos`. Returns the offset after the colon,
 * or `-(offset + 1)` on error. Sets `keyIsModel` when this is a top-level `model` key.
 */
function scanKey(buf: Uint8Array, pos: number, end: number, depth: number): number {
  if (pos >= end || buf[pos] !== CH_QUOTE) return -pos - 1;
  const start = pos + 1;
  pos = scanString(buf, start, end);
  if (pos < 0) return pos;
  keyIsModel = false;
  if (depth === 1) {
    const len = pos - 1 - start;
    if (!stringEscaped) {
      keyIsModel =
        len === 5 &&
        buf[start] === 0x6d &&
        buf[start + 1] === 0x6f &&
        buf[start + 2] === 0x64 &&
        buf[start + 3] === 0x65 &&
        buf[start + 4] === 0x6c; // "model"
    } else if (len <= 30) {
      keyIsModel = decodeJsonString(buf, start, pos - 1) === 'model'; // cold: escaped key
    }
  }
  pos = skipWs(buf, pos, end);
  if (pos >= end || buf[pos] !== CH_COLON) return -pos - 1;
  return pos + 1;
}

/** Scans a number or literal starting with byte `c` at `pos`; same return convention. */
function scanScalar(buf: Uint8Array, pos: number, end: number, c: number): number {
  if (c === 0x74) return matchLiteral(buf, pos, end, 0x74, 0x72, 0x75, 0x65, 0); // true
  if (c === 0x66) return matchLiteral(buf, pos, end, 0x66, 0x61, 0x6c, 0x73, 0x65); // false
  if (c === 0x6e) return matchLiteral(buf, pos, end, 0x6e, 0x75, 0x6c, 0x6c, 0); // null
  // number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  if (c === CH_MINUS) {
    pos++;
    if (pos >= end) return -pos - 1;
    c = buf[pos];
  }
  if (c === 0x30) {
    pos++;
  } else if (c >= 0x31 && c <= 0x39) {
    pos++;
    while (pos < end && isDigit(buf[pos])) pos++;
  } else {
    return -pos - 1;
  }
  if (pos < end && buf[pos] === 0x2e) {
    pos++;
    if (pos >= end || !isDigit(buf[pos])) return -pos - 1;
    while (pos < end && isDigit(buf[pos])) pos++;
  }
  if (pos < end && (buf[pos] === 0x65 || buf[pos] === 0x45)) {
    pos++;
    if (pos < end && (buf[pos] === 0x2b || buf[pos] === CH_MINUS)) pos++;
    if (pos >= end || !isDigit(buf[pos])) return -pos - 1;
    while (pos < end && isDigit(buf[pos])) pos++;
  }
  return pos;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** Matches a 4- or 5-byte literal (`e` = 0 for 4 bytes). */
function matchLiteral(buf: Uint8Array, pos: number, end: number, a: number, b: number, c: number, d: number, e: number): number {
  const n = e === 0 ? 4 : 5;
  if (pos + n > end) return -pos - 1;
  if (buf[pos] !== a || buf[pos + 1] !== b || buf[pos + 2] !== c || buf[pos + 3] !== d) return -pos - 1;
  if (e !== 0 && buf[pos + 4] !== e) return -pos - 1;
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
