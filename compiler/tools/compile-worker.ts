/**
 * Entry module of the admin compile thread (compiler/tools/admin-compile.ts `CompileThread`):
 * compiles base table + admin overlay off the gateway's event loop. One message in
 * (`{id, base, upserts, deletes, docPath}`), one reply out (`{id, bytes}` with the bytes
 * transferred, `{id, diagnostics}` or `{id, error}`).
 */
import { parentPort } from 'node:worker_threads';
import { compileOverlay, type CompileReply, type OverlayInput } from './admin-compile.js';

const port = parentPort;
if (port === null) throw new Error('compile-worker.js runs as a worker thread (see admin-compile.ts)');

port.on('message', (m: OverlayInput & { id: number }) => {
  compileOverlay(m).then(
    (out) => {
      if ('bytes' in out) {
        // A view over a pooled or larger buffer cannot be transferred alone: send a standalone copy then.
        const b = out.bytes;
        const bytes = b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b : b.slice();
        port.postMessage({ id: m.id, bytes } satisfies CompileReply, [bytes.buffer as ArrayBuffer]);
      } else port.postMessage({ id: m.id, diagnostics: out.diagnostics } satisfies CompileReply);
    },
    (err: unknown) => port.postMessage({ id: m.id, error: err instanceof Error ? err.message : String(err) } satisfies CompileReply),
  );
});
