/**
 * Helpers for the HTTP-layer tests, which run against both engines (SPEC §10): which engines
 * run here, a server on 127.0.0.1 with a handler, raw-socket exchanges.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import type { HttpEngineName, HttpHandler, HttpServer, HttpServerOptions } from '../../../runtime/http/adapter.js';
import { listenHttp } from '../../../runtime/http/listen.js';
import { tryLoadUws } from '../../../runtime/http/uws.js';

const uws = tryLoadUws();

/**
 * The engines to test: both where a native uWS build loads, else node only (Node 22/24 here).
 * `VMC_HTTP_ENGINE` narrows it to one (the CI's node run).
 */
export const ENGINES: HttpEngineName[] = (() => {
  const forced = process.env.VMC_HTTP_ENGINE;
  if (forced === 'node' || forced === 'uws') return [forced];
  return uws.ok ? ['uws', 'node'] : ['node'];
})();

/**
 * True for the uWS 20.30 build of `@trufflesuite/uws-js-unofficial`, whose HTTP parser has the
 * gaps listed in docs/runtime.md ("HTTP engines": HTTP/1.0, > 48 headers, malformed heads,
 * heads over ~128 KiB, chunk extensions, pipelining behind an unanswered request). Tests of
 * those items are expected to FAIL on it (`it.fails`): if a build fixes one, its test says so.
 */
export const UWS_PARSER_GAPS = uws.ok && /@trufflesuite\/uws-js-unofficial@20\./.test(uws.source);

/** `it` or `it.fails` for a behaviour the engine's build is known not to have. */
export function gapIf<T>(known: boolean, it: T & { fails: T }): T {
  return known ? it.fails : it;
}

export const TOO_LARGE = Buffer.from('{"error":{"type":"invalid_request_error","message":"too large","status_code":413}}');
export const INTERNAL = Buffer.from('{"error":"internal"}');

/** Starts `engine` with `handler` on an ephemeral port. */
export function startEngine(
  engine: HttpEngineName,
  handler: HttpHandler,
  opts: Partial<Omit<HttpServerOptions, 'handler'>> = {},
): Promise<HttpServer> {
  return listenHttp({
    host: '127.0.0.1',
    port: 0,
    maxBodyBytes: 1024,
    payloadTooLargeBody: TOO_LARGE,
    internalErrorBody: INTERNAL,
    ...opts,
    handler,
    engine,
  });
}

export interface RawReply {
  /** Everything received (latin1). */
  text: string;
  /** How the exchange ended: the server closed, reset, or our wait ran out. */
  end: 'close' | 'reset' | 'timeout' | 'matched';
  ms: number;
}

/**
 * Sends raw bytes and collects the reply until the server closes, resets, `until` matches, or
 * `timeoutMs` passes (then we close). `data` may be a list of pieces sent 20 ms apart.
 */
export function raw(port: number, data: string | Buffer | (string | Buffer)[], until?: RegExp, timeoutMs = 3000): Promise<RawReply> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const pieces = Array.isArray(data) ? data : [data];
    const sock = net.connect(port, '127.0.0.1', async () => {
      for (let i = 0; i < pieces.length; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 20));
        if (!sock.destroyed) sock.write(pieces[i]);
      }
    });
    let text = '';
    let done = false;
    const finish = (end: RawReply['end']): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ text, end, ms: performance.now() - t0 });
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    sock.on('data', (d) => {
      text += d.toString('latin1');
      if (until?.test(text)) finish('matched');
    });
    sock.on('end', () => finish('close'));
    sock.on('close', () => finish('close'));
    sock.on('error', (e: NodeJS.ErrnoException) => finish(e.code === 'ECONNRESET' ? 'reset' : 'close'));
  });
}

/** Splits a raw reply into responses: `[{status, headers (lower-case), body}]` (Content-Length or chunked framing). */
export function parseResponses(text: string): { status: number; headers: Record<string, string>; body: string }[] {
  const out: { status: number; headers: Record<string, string>; body: string }[] = [];
  let rest = text;
  while (rest.startsWith('HTTP/1.')) {
    const headEnd = rest.indexOf('\r\n\r\n');
    if (headEnd < 0) break;
    const lines = rest.slice(0, headEnd).split('\r\n');
    const status = Number(lines[0].split(' ')[1]);
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const c = l.indexOf(':');
      headers[l.slice(0, c).toLowerCase()] = l.slice(c + 1).trim();
    }
    rest = rest.slice(headEnd + 4);
    let body = '';
    if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      body = rest.slice(0, n);
      rest = rest.slice(n);
    } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      for (;;) {
        const nl = rest.indexOf('\r\n');
        if (nl < 0) break;
        const size = parseInt(rest.slice(0, nl), 16);
        if (!(size >= 0)) break;
        body += rest.slice(nl + 2, nl + 2 + size);
        rest = rest.slice(nl + 2 + size + 2);
        if (size === 0) break;
      }
    }
    out.push({ status, headers, body });
  }
  return out;
}

/** Resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every 5 ms; throws after `timeoutMs` (a bound, not a speed assertion). */
export async function waitFor(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

export const ROOT = join(import.meta.dirname, '..', '..', '..');

function newestTs(dir: string): number {
  let t = 0;
  if (!existsSync(dir)) return t;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    t = Math.max(t, st.isDirectory() ? newestTs(p) : name.endsWith('.ts') ? st.mtimeMs : 0);
  }
  return t;
}

/**
 * Child processes run the built code in dist/: rebuild (tsc without a clean, so other readers
 * of dist/ keep working) when a runtime source is newer. A type error elsewhere does not stop
 * the emit.
 */
export function ensureDist(): void {
  const out = join(ROOT, 'dist', 'runtime', 'http', 'listen.js');
  if (existsSync(out) && statSync(out).mtimeMs >= Math.max(newestTs(join(ROOT, 'runtime')), newestTs(join(ROOT, 'bin')))) return;
  spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], {
    cwd: ROOT,
    stdio: 'ignore',
  });
  if (!existsSync(out)) throw new Error('build failed: dist/runtime/http/listen.js missing');
}
