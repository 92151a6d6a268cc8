/**
 * The layers of docs/architecture.md, checked on the import graph of the source:
 *
 *   contract  runtime/table/       the table format, reader, normalized form, strategies, codes
 *   routing   runtime/routing/     resolution: router, health, the one resolve function
 *   runtime   runtime/             the gateway
 *   compiler  compiler/            the phases
 *   tools     compiler/tools/      tools that read tables (explain, diff, fmt, admin backend)
 *   sim       bench/sim/           simulated providers (and the runtime's HTTP adapter, to serve on it)
 *   harness   bench/harness/       `vmc bench`: scenarios, load generator, checks, reports
 *   cli       bin/                 the command line
 *
 * An import is allowed only along the matrix below, and no file may take part in an import
 * cycle (type-only imports included: they couple the files as much as value imports do).
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, resolve } from 'node:path';

type Layer = 'contract' | 'routing' | 'runtime' | 'compiler' | 'tools' | 'sim' | 'harness' | 'cli';

/** Folder prefix → layer; the longest matching prefix wins. */
const LAYERS: [string, Layer][] = [
  ['runtime/table/', 'contract'],
  ['runtime/routing/', 'routing'],
  ['runtime/', 'runtime'],
  ['compiler/tools/', 'tools'],
  ['compiler/', 'compiler'],
  ['bench/sim/', 'sim'],
  ['bench/harness/', 'harness'],
  ['bin/', 'cli'],
];

/** importer → layers it may import. */
const ALLOWED: Record<Layer, Layer[]> = {
  contract: ['contract'],
  routing: ['contract', 'routing'],
  runtime: ['contract', 'routing', 'runtime'],
  compiler: ['contract', 'compiler'],
  tools: ['contract', 'routing', 'runtime', 'compiler', 'tools'],
  sim: ['contract', 'sim'],
  harness: ['contract', 'routing', 'runtime', 'compiler', 'tools', 'sim', 'harness'],
  cli: ['contract', 'routing', 'runtime', 'compiler', 'tools', 'sim', 'harness', 'cli'],
};

/**
 * Single files a layer may import beyond its matrix row: simulated providers serve on the
 * gateway's own HTTP adapter (the uWS engine where it loads), so the baseline measures the
 * gateway and not a slower simulator.
 */
const EXTRA: Partial<Record<Layer, string[]>> = {
  sim: ['runtime/http/listen.ts', 'runtime/http/adapter.ts'],
};

const ROOT = resolve('.');
const SOURCE_DIRS = ['runtime', 'compiler', 'bench/sim', 'bench/harness', 'bin'];

function tsFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

const rel = (abs: string): string => relative(ROOT, abs).split('\\').join('/');

function layerOf(file: string): Layer | null {
  let best: [string, Layer] | null = null;
  for (const entry of LAYERS) if (file.startsWith(entry[0]) && (best === null || entry[0].length > best[0].length)) best = entry;
  return best?.[1] ?? null;
}

/** Relative import specifiers of a file (static, dynamic, re-exports, type-only), resolved to .ts files. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [
    ...text.matchAll(
      /(?:^|\n)\s*(?:import|export)\s[^'";]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s+['"]([^'"]+)['"]/g,
    ),
  ].map((m) => m[1] ?? m[2] ?? m[3]);
  return specs.filter((s) => s.startsWith('.')).map((s) => rel(normalize(join(dirname(resolve(file)), s))).replace(/\.js$/, '.ts'));
}

const files = SOURCE_DIRS.flatMap(tsFiles).map((f) => rel(resolve(f)));
const graph = new Map(files.map((f) => [f, importsOf(f).filter((t) => t.endsWith('.ts'))]));

describe('architecture (docs/architecture.md)', () => {
  it('every source file belongs to a layer', () => {
    expect(files.filter((f) => layerOf(f) === null)).toEqual([]);
  });

  it('imports follow the layer matrix', () => {
    const offenders: string[] = [];
    for (const [from, targets] of graph) {
      const a = layerOf(from)!;
      for (const to of targets) {
        const b = layerOf(to);
        if (b === null) continue; // schemas/*.json, package.json
        if (!ALLOWED[a].includes(b) && !(EXTRA[a] ?? []).includes(to)) offenders.push(`${from} (${a}) → ${to} (${b})`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('no import cycle anywhere in the source', () => {
    // Tarjan's strongly connected components; any component of size > 1 (or a self-import) is a cycle.
    let index = 0;
    const idx = new Map<string, number>();
    const low = new Map<string, number>();
    const stack: string[] = [];
    const onStack = new Set<string>();
    const cycles: string[][] = [];
    const visit = (v: string): void => {
      idx.set(v, index);
      low.set(v, index);
      index++;
      stack.push(v);
      onStack.add(v);
      for (const w of graph.get(v) ?? []) {
        if (!graph.has(w)) continue;
        if (!idx.has(w)) {
          visit(w);
          low.set(v, Math.min(low.get(v)!, low.get(w)!));
        } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
      }
      if (low.get(v) === idx.get(v)) {
        const scc: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          scc.push(w);
        } while (w !== v);
        if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(scc.sort());
      }
    };
    for (const f of graph.keys()) if (!idx.has(f)) visit(f);
    expect(cycles).toEqual([]);
  });

  it('the test sees real files (the graph is not empty and resolves imports)', () => {
    expect(files.length).toBeGreaterThan(40);
    const edges = [...graph.values()].flat();
    expect(edges.length).toBeGreaterThan(100);
    expect(edges.filter((e) => e.endsWith('.ts') && !graph.has(e))).toEqual([]);
  });

  it('only the HTTP adapter imports uWebSockets.js', () => {
    const offenders = files.filter(
      (f) => /uws-js-unofficial|uWebSockets\.js/.test(readFileSync(f, 'utf8')) && !f.startsWith('runtime/http/'),
    );
    expect(offenders).toEqual([]);
  });
});
