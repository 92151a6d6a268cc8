;; The JSON scanner's string skipper in WebAssembly SIMD (runtime/json-scan.ts, issue 13):
;; sixteen bytes per load where the JavaScript word loop reads four. The scanner's mirror
;; of the request body lives in this module's memory, from offset 0.
;;
;; Regenerate runtime/json-scan-simd.ts after editing: node scripts/wasm.mjs
;; (test/runtime/json-scan.test.ts checks that the two agree).
(module
  (memory (export "memory") 1)
  ;; The offset of the first byte at or after $p that is a quote (0x22), a backslash (0x5c)
  ;; or a control byte (below 0x20). The caller guarantees one: the scanner writes a
  ;; control byte (0) after the body, and keeps 16 bytes of memory past it for the last load.
  (func (export "special") (param $p i32) (result i32)
    (local $v v128)
    (local $mask i32)
    (loop $next
      (local.set $v (v128.load align=1 (local.get $p)))
      (local.set $mask
        (i8x16.bitmask
          (v128.or
            (v128.or
              (i8x16.eq (local.get $v) (v128.const i8x16 0x22 0x22 0x22 0x22 0x22 0x22 0x22 0x22 0x22 0x22 0x22 0x22 0x22 0x22 0x22 0x22))
              (i8x16.eq (local.get $v) (v128.const i8x16 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c)))
            (i8x16.lt_u (local.get $v) (v128.const i8x16 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20)))))
      (if (i32.eqz (local.get $mask))
        (then
          (local.set $p (i32.add (local.get $p) (i32.const 16)))
          (br $next))))
    (i32.add (local.get $p) (i32.ctz (local.get $mask))))
)
