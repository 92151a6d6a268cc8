/** Types of scripts/wasm.mjs (used by test/runtime/json-scan.test.ts). */
export function assemble(): Promise<Uint8Array>;
export function tsSource(bytes: Uint8Array): string;
export function bytesInTs(text?: string): Uint8Array;
