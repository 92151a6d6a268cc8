/** Types of bench/lib/alloc.mjs for the TypeScript tests. */
export declare function countAllocatedBytes<T>(run: () => T): { result: T; allocated: number; gcs: number };
export declare function quietestBytesPerCall(
  op: (i: number) => number,
  calls: number,
  windows: number,
  gc: () => void,
): { bytesPerCall: number; sinks: number[] };
