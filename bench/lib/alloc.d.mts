/** Types of bench/lib/alloc.mjs for the TypeScript tests. */
export declare function countAllocatedBytes<T>(run: () => T): { result: T; allocated: number; gcs: number };
