/**
 * Layout of the routing table's hot index (issue 13): one 128-byte record per virtual model
 * (two cache lines, 64-byte aligned) that the reader (runtime/table/reader.ts) builds when it
 * decodes a table and the router (runtime/routing/router.ts) plans from. Runtime memory, not
 * part of the file format. Offsets are in 32-bit words.
 *
 * A `const enum`: the compiler writes each use as a number literal. An exported `const` is an
 * imported binding in every other module (and in its own), which V8 (Node 20–24) does not
 * fold: each use loads the binding's cell and checks it for the hole, and the extra bytecode
 * counts against TurboFan's inlining budget (docs/architecture.md "Hot-path rules").
 */
export const enum Hot {
  /** Words (u32/i32) per virtual model in `RoutingTable.hot`: 128 bytes. */
  STRIDE = 32,
  /** VF_FLAGS of the vm. */
  FLAGS = 0,
  /** First target (global id). */
  FIRST = 1,
  /** Target count. */
  COUNT = 2,
  /** Size of the precomputed primary pool (VF_PRIMARY_COUNT). */
  PRIMARY = 3,
  /**
   * Bit 0 ({@link Hot.INLINE}): the inline plan applies (weighted or priority strategy, no
   * metadata conditions, at most {@link Hot.MAX_TARGETS} targets, a primary pool of at most
   * {@link Hot.MAX_PRIMARY}). Bit 1 ({@link Hot.SMALL}): and the vm has 2–4 targets. Bits
   * 16–31: for an inline plan, the fallback-candidate bit of the target at each order
   * position; for a small one, two bits per pick k ∈ [0, 4): the length of its try order − 1.
   */
  PLAN = 4,
  /**
   * Two words. An inline plan: the strategy order (VF_ORDER) as 4-bit relative target
   * indices, position 0 in the low nibble. A small one: for each pick k ∈ [0, 4), its whole
   * try order as four 4-bit relative target indices in bits 16k … 16k+15 (the pick, then the
   * other fallback candidates in strategy order; padding past its length).
   */
  ORDER = 5,
  /** Number of user paths (0: every caller may use the vm). */
  USER_PATHS = 7,
  /** Cumulative weights of the primary pool: f64 index `vm * STRIDE / 2 + CUM_F64`; the slots past the pool hold +Infinity. */
  CUM_F64 = 4,
  /** Name length in bytes. */
  NAME_LEN = 16,
  /** The name's first {@link Hot.NAME_BYTES} bytes, little-endian words, zero padded. */
  NAME = 17,
  NAME_BYTES = (STRIDE - NAME) * 4,
  MAX_TARGETS = 16,
  MAX_PRIMARY = 4,
  /** {@link Hot.PLAN} bit: the inline plan applies. */
  INLINE = 1,
  /** {@link Hot.PLAN} bit: the small inline plan applies (try orders precomputed per pick). */
  SMALL = 2,
}
