/**
 * Engine choice (runtime/http/listen.ts, SPEC §10): an explicit engine or VMC_HTTP_ENGINE
 * forces one; otherwise a native uWS build when one loads for this Node ABI and C library
 * (never a JS fallback), else the node engine with the reason; /health-style reporting fields
 * on the server.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { chooseEngine, listenHttp } from '../../../runtime/http/listen.js';
import { cLibrary, findUws, tryLoadUws, type UwsLoad } from '../../../runtime/http/uws.js';
import { INTERNAL, TOO_LARGE } from './engines.js';

const ABI = process.versions.modules;
const BINARY = `uws_${process.platform}_${process.arch}_${ABI}.node`;
const NONE: () => UwsLoad = () => ({ ok: false, reason: `no native uWebSockets.js build for Node ABI ${ABI} / ${cLibrary()} (test)` });

describe('chooseEngine', () => {
  const saved = process.env.VMC_HTTP_ENGINE;
  afterEach(() => {
    if (saved === undefined) delete process.env.VMC_HTTP_ENGINE;
    else process.env.VMC_HTTP_ENGINE = saved;
  });

  it('an explicit engine wins over VMC_HTTP_ENGINE', () => {
    process.env.VMC_HTTP_ENGINE = 'uws';
    expect(chooseEngine('node')).toEqual({ engine: 'node', reason: 'engine option' });
  });

  it('VMC_HTTP_ENGINE=node forces node; auto or empty means the automatic choice; other values are an error', () => {
    process.env.VMC_HTTP_ENGINE = 'node';
    expect(chooseEngine()).toEqual({ engine: 'node', reason: 'VMC_HTTP_ENGINE=node' });
    process.env.VMC_HTTP_ENGINE = 'auto';
    expect(chooseEngine(undefined, NONE).engine).toBe('node');
    process.env.VMC_HTTP_ENGINE = 'fast';
    expect(() => chooseEngine()).toThrow(/VMC_HTTP_ENGINE must be "uws", "node" or "auto", not "fast"/);
  });

  it('without a native build: the node engine, and the reason names the ABI and C library', () => {
    delete process.env.VMC_HTTP_ENGINE;
    const c = chooseEngine(undefined, NONE);
    expect(c.engine).toBe('node');
    expect(c.reason).toMatch(
      new RegExp(`^no native uWebSockets\\.js build for Node ABI ${ABI} / (glibc \\d+\\.\\d+|musl|${process.platform})`),
    );
  });

  it('VMC_HTTP_ENGINE=uws without a native build is an error, not a silent fallback', () => {
    process.env.VMC_HTTP_ENGINE = 'uws';
    expect(() => chooseEngine(undefined, NONE)).toThrow(/VMC_HTTP_ENGINE=uws, but no native uWebSockets\.js build/);
  });

  it('on this Node: uWS exactly when a native build loads', () => {
    delete process.env.VMC_HTTP_ENGINE;
    const load = tryLoadUws();
    const c = chooseEngine();
    expect(c.engine).toBe(load.ok ? 'uws' : 'node');
    if (load.ok) expect(c.reason).toContain(load.source);
    else expect(c.reason).toBe(load.reason);
  });
});

describe('findUws (loading a native build)', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('VMC_UWS_MODULE naming a JS fallback is refused', () => {
    const r = findUws('@trufflesuite/uws-js-unofficial/dist/index.js');
    expect(r).toEqual({ ok: false, reason: expect.stringMatching(/is not a native uWebSockets\.js build \(a JS fallback is refused\)/) });
  });

  it('VMC_UWS_MODULE that does not load: the reason says so', () => {
    const r = findUws('vmc-no-such-uws-package');
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toMatch(/^VMC_UWS_MODULE=vmc-no-such-uws-package does not load: /);
  });

  it('packages are tried in order by binary file name; each miss is in the reason', () => {
    dir = mkdtempSync(join(tmpdir(), 'vmc-uws-'));
    const btc = join(dir, 'node_modules', '@btc-vision', 'uwebsockets.js');
    mkdirSync(btc, { recursive: true });
    writeFileSync(join(btc, 'package.json'), '{"name":"@btc-vision/uwebsockets.js","version":"20.57.0","main":"uws.js"}');
    writeFileSync(join(btc, 'uws.js'), 'throw new Error("the JS entry must never be loaded")');
    writeFileSync(join(btc, BINARY), 'not an ELF file'); // a build that does not load here (like glibc < 2.38)
    const truffle = join(dir, 'node_modules', '@trufflesuite', 'uws-js-unofficial');
    mkdirSync(join(truffle, 'binaries'), { recursive: true });
    writeFileSync(join(truffle, 'package.json'), '{"name":"@trufflesuite/uws-js-unofficial","version":"20.30.0-unofficial.0"}');
    const r = findUws(undefined, join(dir, 'index.js'));
    expect(r.ok).toBe(false);
    const reason = r.ok ? '' : r.reason;
    expect(reason).toMatch(new RegExp(`@btc-vision/uwebsockets\\.js: ${BINARY.replace(/\./g, '\\.')} does not load \\(`));
    expect(reason).toContain(`@trufflesuite/uws-js-unofficial: no ${BINARY}`);
  });

  it('the installed trufflesuite build loads here exactly when it ships this ABI (115: Node 20)', () => {
    const r = findUws(undefined);
    if (ABI === '115' && process.platform === 'linux' && process.arch === 'x64') {
      expect(r.ok).toBe(true);
      expect(r.ok && r.source).toMatch(/^@trufflesuite\/uws-js-unofficial@20\.30\.0-unofficial\.0 \(uws_linux_x64_115\.node\)$/);
    } else if (!r.ok) expect(r.reason).toMatch(/^no native uWebSockets\.js build for Node ABI/);
  });
});

describe('listenHttp reports the engine', () => {
  it('engine and engineReason on the server', async () => {
    const s = await listenHttp({
      host: '127.0.0.1',
      port: 0,
      maxBodyBytes: 10,
      handler: (_req, res) => res.respond(200, [], 'ok'),
      payloadTooLargeBody: TOO_LARGE,
      internalErrorBody: INTERNAL,
      engine: 'node',
    });
    try {
      expect(s.engine).toBe('node');
      expect(s.engineReason).toBe('engine option');
      expect(await (await fetch(`http://127.0.0.1:${s.port}/`)).text()).toBe('ok');
    } finally {
      s.closeAll();
    }
  });

  it('a port in use is a clear error', async () => {
    const base = { host: '127.0.0.1', maxBodyBytes: 10, handler: () => {}, payloadTooLargeBody: TOO_LARGE, internalErrorBody: INTERNAL };
    const a = await listenHttp({ ...base, port: 0, engine: 'node' });
    try {
      await expect(listenHttp({ ...base, port: a.port, engine: 'node' })).rejects.toThrow(/cannot listen on 127\.0\.0\.1:\d+/);
    } finally {
      a.closeAll();
    }
  });
});
