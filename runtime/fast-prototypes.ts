/**
 * String.prototype back in V8's fast mode after a dependency subclassed String (issue 13).
 *
 * `class X extends String` (ioredis 6's VerbatimString, loaded with the Redis state store)
 * makes V8 turn String.prototype into a dictionary-mode object ("prototype setup mode"). V8
 * turns a prototype fast again only when an inline cache looks a property up through it from
 * an object receiver, and lookups on primitive strings never do; so it stayed a dictionary
 * for the life of the process. TurboFan cannot resolve a method of a string (`s.charCodeAt`,
 * `s.indexOf`, `s.toLowerCase`, …) through a dictionary-mode prototype: every such load in
 * optimized code became a call of V8's generic LoadIC builtin, on every request (the content
 * type check, the head builders, the HTTP/1.1 client's parser; measured ~1 µs of CPU per
 * proxied request, `Builtins_LoadIC` in `node bench/stages.mjs`). Property loads through an
 * instance of a subclass make the whole chain fast again, as loads on ioredis's own
 * subclassed strings would. Checked by test/runtime/fast-prototypes.test.ts.
 */
export function refastStringPrototype(): void {
  class Probe extends String {}
  const probe = new Probe('');
  // enough calls for loadThrough to get a feedback vector (V8 allocates it lazily) and for its
  // load inline cache to run
  for (let i = 0; i < 64; i++) loadThrough(probe);
}

function loadThrough(o: object): unknown {
  return (o as { charCodeAt?: unknown }).charCodeAt;
}
