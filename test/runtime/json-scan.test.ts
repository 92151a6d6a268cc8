import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  BodyScan,
  MODEL_ABSENT,
  MODEL_DUPLICATE,
  MODEL_OTHER,
  MODEL_STRING,
  SCAN_MALFORMED,
  SCAN_NOT_OBJECT,
  SCAN_OK,
  SCAN_TOO_DEEP,
  modelName,
  scanJsonBody,
  setJsonScanSimd,
} from '../../runtime/json-scan.js';
import { JSON_SCAN_SIMD_WASM } from '../../runtime/json-scan-simd.js';
import { assemble } from '../../scripts/wasm.mjs';

const enc = new TextEncoder();

function scan(text: string, maxDepth?: number): BodyScan {
  const out = new BodyScan();
  scanJsonBody(enc.encode(text), out, maxDepth);
  return out;
}

/** What JSON.parse says: validity and the top-level model. */
function reference(text: string): { valid: boolean; isObject: boolean; model: unknown; hasModel: boolean } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { valid: false, isObject: false, model: undefined, hasModel: false };
  }
  const isObject = typeof v === 'object' && v !== null && !Array.isArray(v);
  const hasModel = isObject && Object.prototype.hasOwnProperty.call(v, 'model');
  return { valid: true, isObject, model: hasModel ? (v as Record<string, unknown>).model : undefined, hasModel };
}

/**
 * Top-level keys spelled `model` in a valid JSON object text (JSON.parse keeps only the last,
 * so it cannot tell): a plain walk over strings and brackets.
 */
function topLevelModelKeys(text: string): number {
  let depth = 0;
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
    else if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const literal = text.slice(i, j + 1);
      let k = j + 1;
      while (/\s/.test(text[k] ?? '')) k++;
      if (depth === 1 && text[k] === ':' && JSON.parse(literal) === 'model') count++;
      i = j;
    }
  }
  return count;
}

function check(text: string): void {
  const bytes = enc.encode(text);
  const out = new BodyScan();
  const ok = scanJsonBody(bytes, out, 100_000);
  const ref = reference(text);
  if (!ref.valid) {
    expect(out.status, text).toBe(SCAN_MALFORMED);
    expect(ok).toBe(false);
    return;
  }
  if (!ref.isObject) {
    expect(out.status, text).toBe(SCAN_NOT_OBJECT);
    return;
  }
  expect(out.status, text).toBe(SCAN_OK);
  expect(ok).toBe(true);
  if (topLevelModelKeys(text) > 1) expect(out.modelKind, text).toBe(MODEL_DUPLICATE);
  else if (!ref.hasModel) expect(out.modelKind).toBe(MODEL_ABSENT);
  else if (typeof ref.model === 'string') {
    expect(out.modelKind).toBe(MODEL_STRING);
    expect(modelName(bytes, out)).toBe(ref.model);
  } else expect(out.modelKind).toBe(MODEL_OTHER);
}

/** Every case below runs twice: with the SIMD string skipper, and with the word loop alone. */
function cases(): void {
  describe('scanJsonBody: table of cases', () => {
    const cases: [string, { given: string; status: number; kind?: number; model?: string; escaped?: boolean }][] = [
      ['plain model', { given: '{"model":"gpt-4o","messages":[]}', status: SCAN_OK, kind: MODEL_STRING, model: 'gpt-4o', escaped: false }],
      [
        'whitespace everywhere',
        { given: ' \n{ "model" :\t"a/b" , "x" : [ 1 , 2 ] }\r\n', status: SCAN_OK, kind: MODEL_STRING, model: 'a/b' },
      ],
      [
        'model not first',
        { given: '{"messages":[{"role":"user","content":"hi"}],"model":"m"}', status: SCAN_OK, kind: MODEL_STRING, model: 'm' },
      ],
      ['nested model is not top-level', { given: '{"a":{"model":"inner"}}', status: SCAN_OK, kind: MODEL_ABSENT }],
      ['model inside array ignored', { given: '{"a":[{"model":"x"}],"model":"y"}', status: SCAN_OK, kind: MODEL_STRING, model: 'y' }],
      // ambiguous: JSON.parse keeps the last, other parsers the first (issue 8) → refused
      ['duplicate model', { given: '{"model":"a","model":"b"}', status: SCAN_OK, kind: MODEL_DUPLICATE }],
      ['duplicate model (non-string)', { given: '{"model":"a","x":[],"model":1}', status: SCAN_OK, kind: MODEL_DUPLICATE }],
      ['duplicate model (escaped key)', { given: '{"model":"a","mod\\u0065l":"b"}', status: SCAN_OK, kind: MODEL_DUPLICATE }],
      ['nested duplicate is not top-level', { given: '{"model":"a","b":{"model":"c"}}', status: SCAN_OK, kind: MODEL_STRING, model: 'a' }],
      ['numeric model', { given: '{"model":42}', status: SCAN_OK, kind: MODEL_OTHER }],
      ['null model', { given: '{"model":null}', status: SCAN_OK, kind: MODEL_OTHER }],
      ['object model', { given: '{"model":{"a":1}}', status: SCAN_OK, kind: MODEL_OTHER }],
      ['array model', { given: '{"model":[]}', status: SCAN_OK, kind: MODEL_OTHER }],
      ['missing model', { given: '{"messages":[]}', status: SCAN_OK, kind: MODEL_ABSENT }],
      ['empty object', { given: '{}', status: SCAN_OK, kind: MODEL_ABSENT }],
      ['escaped model', { given: '{"model":"a\\/b"}', status: SCAN_OK, kind: MODEL_STRING, model: 'a/b', escaped: true }],
      ['unicode escape model', { given: '{"model":"\\u0067pt"}', status: SCAN_OK, kind: MODEL_STRING, model: 'gpt', escaped: true }],
      ['escaped key', { given: '{"mod\\u0065l":"x"}', status: SCAN_OK, kind: MODEL_STRING, model: 'x' }],
      ['utf-8 model', { given: '{"model":"modèle-😀"}', status: SCAN_OK, kind: MODEL_STRING, model: 'modèle-😀', escaped: false }],
      ['modelx key is not model', { given: '{"modelx":"a","mode":"b"}', status: SCAN_OK, kind: MODEL_ABSENT }],
      ['numbers', { given: '{"a":-0.5e+10,"b":0,"c":1E5,"d":-12.25,"model":"m"}', status: SCAN_OK, kind: MODEL_STRING, model: 'm' }],
      ['literals', { given: '{"a":true,"b":false,"c":null}', status: SCAN_OK, kind: MODEL_ABSENT }],
      ['empty body', { given: '', status: SCAN_MALFORMED }],
      ['whitespace only', { given: '  ', status: SCAN_MALFORMED }],
      ['truncated', { given: '{"model":"gpt', status: SCAN_MALFORMED }],
      ['trailing comma object', { given: '{"model":"a",}', status: SCAN_MALFORMED }],
      ['trailing comma array', { given: '{"a":[1,]}', status: SCAN_MALFORMED }],
      ['leading zero', { given: '{"a":01}', status: SCAN_MALFORMED }],
      ['bare dot', { given: '{"a":1.}', status: SCAN_MALFORMED }],
      ['plus sign', { given: '{"a":+1}', status: SCAN_MALFORMED }],
      ['single quotes', { given: "{'model':'a'}", status: SCAN_MALFORMED }],
      ['unquoted key', { given: '{model:"a"}', status: SCAN_MALFORMED }],
      ['bad escape', { given: '{"model":"a\\x"}', status: SCAN_MALFORMED }],
      ['short unicode escape', { given: '{"model":"\\u12"}', status: SCAN_MALFORMED }],
      ['raw newline in string', { given: '{"model":"a\nb"}', status: SCAN_MALFORMED }],
      ['trailing garbage', { given: '{"model":"a"} x', status: SCAN_MALFORMED }],
      ['two documents', { given: '{}{}', status: SCAN_MALFORMED }],
      ['mismatched close', { given: '{"a":[}', status: SCAN_MALFORMED }],
      ['missing colon', { given: '{"model" "a"}', status: SCAN_MALFORMED }],
      ['tru', { given: '{"a":tru}', status: SCAN_MALFORMED }],
      ['NaN', { given: '{"a":NaN}', status: SCAN_MALFORMED }],
      ['top-level array', { given: '[{"model":"a"}]', status: SCAN_NOT_OBJECT, kind: MODEL_ABSENT }],
      ['top-level string', { given: '"model"', status: SCAN_NOT_OBJECT }],
      ['top-level number', { given: '1', status: SCAN_NOT_OBJECT }],
    ];
    it.each(cases)('%s', (_name, { given, status, kind, model, escaped }) => {
      const bytes = enc.encode(given);
      const out = new BodyScan();
      expect(scanJsonBody(bytes, out)).toBe(status === SCAN_OK);
      expect(out.status).toBe(status);
      if (kind !== undefined) expect(out.modelKind).toBe(kind);
      if (model !== undefined) expect(modelName(bytes, out)).toBe(model);
      if (escaped !== undefined) expect(out.modelEscaped).toBe(escaped);
      // every case agrees with JSON.parse
      check(given);
    });
  });

  describe('scanJsonBody: depth limit', () => {
    it('accepts nesting up to the limit and rejects one more', () => {
      const nest = (n: number) => '{"a":' + '['.repeat(n - 1) + ']'.repeat(n - 1) + '}';
      expect(scan(nest(8), 8).status).toBe(SCAN_OK);
      expect(scan(nest(9), 8).status).toBe(SCAN_TOO_DEEP);
    });
    it('rejects hostile nesting without recursion', () => {
      const text = '{"a":' + '['.repeat(1_000_000);
      expect(scan(text).status).toBe(SCAN_TOO_DEEP);
    });
  });

  describe('scanJsonBody: span is spliceable', () => {
    it('modelStart/modelEnd delimit the string contents', () => {
      const text = '{"x":1, "model" : "virtual/name" ,"y":2}';
      const bytes = enc.encode(text);
      const out = new BodyScan();
      scanJsonBody(bytes, out);
      const spliced = text.slice(0, out.modelStart) + 'gpt-4o' + text.slice(out.modelEnd);
      expect(JSON.parse(spliced)).toEqual({ x: 1, model: 'gpt-4o', y: 2 });
    });
    it('one result object serves many scans', () => {
      const out = new BodyScan();
      scanJsonBody(enc.encode('{"model":"a"}'), out);
      scanJsonBody(enc.encode('{"b":1}'), out);
      expect(out.modelKind).toBe(MODEL_ABSENT);
    });
  });

  describe('scanJsonBody: agrees with JSON.parse (property)', () => {
    const body = fc.record(
      { model: fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.jsonValue()), rest: fc.dictionary(fc.string(), fc.jsonValue()) },
      { requiredKeys: ['rest'] },
    );

    it('valid documents: same verdict and same model', () => {
      fc.assert(
        fc.property(body, fc.boolean(), ({ model, rest }, modelFirst) => {
          const obj: Record<string, unknown> = modelFirst && model !== undefined ? { model, ...rest } : { ...rest };
          if (!modelFirst && model !== undefined) obj.model = model;
          check(JSON.stringify(obj));
          check(JSON.stringify(obj, null, 2));
        }),
        { numRuns: 500 },
      );
    });

    it('a second top-level model key anywhere → MODEL_DUPLICATE', () => {
      fc.assert(
        fc.property(
          fc.dictionary(
            fc.string().filter((k) => k !== 'model'),
            fc.jsonValue(),
            { maxKeys: 5 },
          ),
          fc.jsonValue(),
          fc.jsonValue(),
          fc.nat(),
          fc.nat(),
          (rest, a, b, i, j) => {
            const members = Object.entries(rest).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`);
            members.splice(i % (members.length + 1), 0, `"model":${JSON.stringify(a)}`);
            members.splice(j % (members.length + 1), 0, `"model":${JSON.stringify(b)}`);
            const out = scan(`{${members.join(',')}}`);
            expect(out.status).toBe(SCAN_OK);
            expect(out.modelKind).toBe(MODEL_DUPLICATE);
          },
        ),
        { numRuns: 300 },
      );
    });

    it('arbitrary JSON values', () => {
      fc.assert(
        fc.property(fc.jsonValue(), (v) => check(JSON.stringify(v))),
        { numRuns: 500 },
      );
    });

    it('mutated documents: same verdict as JSON.parse', () => {
      const alphabet = ['{', '}', '[', ']', ',', ':', '"', '\\', ' ', '\n', '0', '1', '-', '.', 'e', 't', 'n', 'u', 'x', '\u0001'];
      fc.assert(
        fc.property(
          fc.jsonValue().map((v) => JSON.stringify({ model: 'm', v })),
          fc.array(fc.tuple(fc.nat(), fc.constantFrom(...alphabet), fc.constantFrom('insert', 'replace', 'delete')), { maxLength: 3 }),
          (text, edits) => {
            let s = text;
            for (const [at, ch, op] of edits) {
              const i = at % (s.length + 1);
              if (op === 'insert') s = s.slice(0, i) + ch + s.slice(i);
              else if (op === 'replace') s = s.slice(0, i) + ch + s.slice(i + 1);
              else s = s.slice(0, i) + s.slice(i + 1);
            }
            check(s);
          },
        ),
        { numRuns: 2000 },
      );
    });

    it('random short strings over the JSON alphabet', () => {
      const chars = fc.constantFrom(
        '{',
        '}',
        '[',
        ']',
        ',',
        ':',
        '"',
        '\\',
        ' ',
        '0',
        '1',
        '-',
        '.',
        'e',
        'E',
        '+',
        'a',
        'm',
        'o',
        'd',
        'l',
        'u',
        'null',
        'true',
        'model',
      );
      fc.assert(
        fc.property(fc.array(chars, { maxLength: 24 }), (parts) => check('{' + parts.join(''))),
        { numRuns: 3000 },
      );
      fc.assert(
        fc.property(fc.array(chars, { maxLength: 24 }), (parts) => check(parts.join(''))),
        { numRuns: 3000 },
      );
    });
  });

  describe('scanJsonBody: the word loop (four bytes per load, first special byte by clz32)', () => {
    it('every special byte at every offset of a word, after every kind of byte, agrees with JSON.parse', () => {
      // A special byte just before the string's first byte lends a borrow to the next byte of the
      // word; the scan masks those bytes out and must step over the falsely flagged neighbour.
      const specials = ['"', '\\n', '\\', '\u0001', '\u001f', '#', ']', 'a', 'é', ' '];
      const before = ['', '"', '#', '!', '\u0001'];
      for (let pad = 0; pad < 8; pad++) {
        for (let run = 0; run < 9; run++) {
          for (const sp of specials) {
            for (const b of before) {
              const prefix = ' '.repeat(pad);
              check(`${prefix}{"model":"${'x'.repeat(run)}${sp}${'y'.repeat(run)}","k":${b === '' ? 1 : JSON.stringify(b)}}`);
              check(`${prefix}{"k":"${b}${'x'.repeat(run)}${sp}","model":"m"}`);
            }
          }
        }
      }
    });

    it('bodies larger than the shared mirror, of every length modulo 4', () => {
      const big = 'a'.repeat((1 << 20) + 16);
      for (let extra = 0; extra < 4; extra++) {
        const text = `{"model":"m${'x'.repeat(extra)}","c":"${big}"}`;
        const out = scan(text);
        expect(out.status, `length ${text.length}`).toBe(SCAN_OK);
        expect(out.modelEnd - out.modelStart).toBe(1 + extra);
        expect(scan(text.slice(0, -2)).status).toBe(SCAN_MALFORMED);
      }
    });
  });
}

describe.each([
  ['the SIMD string skipper', true],
  ['the word loop', false],
])('with %s', (_name, simd) => {
  beforeAll(() => {
    expect(setJsonScanSimd(simd)).toBe(simd);
  });
  afterAll(() => {
    setJsonScanSimd(true);
  });
  cases();
});

describe('the SIMD string skipper (runtime/json-scan-simd.wat)', () => {
  it('the bytes in json-scan-simd.ts are the .wat assembled (node scripts/wasm.mjs)', async () => {
    expect(Buffer.from(JSON_SCAN_SIMD_WASM).equals(Buffer.from(await assemble()))).toBe(true);
  });

  it('without WebAssembly (node --jitless) the word loop scans alone', () => {
    const mod = new URL('../../dist/runtime/json-scan.js', import.meta.url).href;
    const script = `const { BodyScan, scanJsonBody, setJsonScanSimd } = await import(${JSON.stringify(mod)});
      const s = new BodyScan();
      const ok = scanJsonBody(Buffer.from('{"model":"gpt-4o","m":"' + 'x'.repeat(5000) + '"}'), s);
      const bad = scanJsonBody(Buffer.from('{"model":"gpt-4o","m":"' + 'x'.repeat(5000) + String.fromCharCode(92) + 'u00"}'), new BodyScan());
      console.log(JSON.stringify({ wasm: typeof WebAssembly, simd: setJsonScanSimd(true), ok, start: s.modelStart, end: s.modelEnd, bad }));`;
    const r = spawnSync(process.execPath, ['--jitless', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      cwd: fileURLToPath(new URL('.', import.meta.url)),
    });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ wasm: 'undefined', simd: false, ok: true, start: 10, end: 16, bad: false });
  });
});
