/**
 * The reader's hot index (runtime/table/reader.ts, issue 13): the lookup that replaced the
 * file's FNV-1a hash index must answer exactly what that index answers, for every key kind
 * (names, slugs, implicit passthrough entries, names longer than the inline part of a record,
 * names that differ only in their last bytes) and for names that are not keys; the records'
 * plan fields must say what the file's records say.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { lowerTable } from '../../../compiler/lower.js';
import { Hot } from '../../../runtime/table/hot.js';
import { RoutingTable } from '../../../runtime/table/reader.js';
import { VF_FLAGS, VM_STRIDE } from '../../../runtime/table/format.js';
import { config, target, vm } from '../../support/norm.js';

const long = (n: number, tail: string) => 'x'.repeat(n) + tail;

/**
 * The hot lookup on `name` placed at an odd offset inside a larger buffer (as in a request
 * body), and the file index's answer. The hot lookup is asked twice: on the bytes
 * (`lookup`), and on words at each of the four alignments of the name, between bytes that
 * are not the name's (`lookupWords`, as on a scanned body's aligned copy); all must agree.
 */
function both(table: RoutingTable, name: string): [number, number] {
  const body = Buffer.from(`{"model":"${name}","z":1}`);
  const start = 10;
  const end = start + Buffer.byteLength(name);
  const hot = table.lookup(body, start, end);
  for (let shift = 0; shift < 4; shift++) {
    const len = end - start;
    const bytes = new Uint8Array((8 + shift + len + 8 + 3) & ~3).fill(0xa5);
    bytes.set(body.subarray(start, end), 8 + shift);
    expect(table.lookupWords(new Int32Array(bytes.buffer), 8 + shift, 8 + shift + len)).toBe(hot);
  }
  return [hot, table.lookupFileIndex(body, start, end)];
}

describe('hot index lookup ≡ the file index', () => {
  const names = [
    'a',
    'ab',
    'abc',
    'abcd',
    'abcde',
    'team-001/chat-000001',
    'team-001/chat-000002',
    'team-002/chat-000001',
    long(Hot.NAME_BYTES - 1, 'q'),
    long(Hot.NAME_BYTES, 'q'),
    long(Hot.NAME_BYTES, 'r'),
    long(Hot.NAME_BYTES + 7, 'qq'),
    long(Hot.NAME_BYTES + 7, 'qr'),
    'ünïcode/名前',
  ];
  const table = RoutingTable.decode(
    lowerTable(
      config([
        ...names.map((n, i) => vm(n, [target('openai/gpt-4o', { weight: 1 + i }), target('anthropic/claude', { weight: 2 })])),
        vm('with-slug', [target('openai/gpt-4o')], { slug: 'the-slug' }),
      ]),
    ),
  );

  it.each(names)('finds %s', (name) => {
    const [hot, file] = both(table, name);
    expect(hot).toBe(file);
    expect(table.vmName(hot)).toBe(name);
  });

  it('finds slugs and implicit passthrough entries', () => {
    for (const name of ['the-slug', 'openai/gpt-4o', 'anthropic/claude']) {
      const [hot, file] = both(table, name);
      expect(hot).toBeGreaterThanOrEqual(0);
      expect(hot).toBe(file);
    }
    expect(table.vmName(both(table, 'the-slug')[0])).toBe('with-slug');
  });

  it('misses what is not a key: prefixes, extensions, one byte off, longer than any key', () => {
    for (const name of [
      '',
      'abcdef',
      'team-001/chat-00000',
      'team-001/chat-0000011',
      'team-001/chat-000003',
      long(Hot.NAME_BYTES + 7, 'qs'),
      long(4000, ''),
    ]) {
      expect(both(table, name)).toEqual([-1, -1]);
    }
  });

  it('random tables and names: same answers (property)', () => {
    const nameArb = fc.string({ minLength: 1, maxLength: 90, unit: fc.constantFrom('a', 'b', '/', '-', '0', '1', 'é', '名') });
    fc.assert(
      fc.property(fc.uniqueArray(nameArb, { minLength: 1, maxLength: 40 }), fc.array(nameArb, { maxLength: 20 }), (keys, probes) => {
        const t = RoutingTable.decode(lowerTable(config(keys.map((k) => vm(k, [target('openai/gpt-4o')])))));
        for (const k of keys) {
          const [hot, file] = both(t, k);
          expect(hot).toBe(file);
          expect(t.vmName(hot)).toBe(k);
        }
        for (const p of probes) {
          const [hot, file] = both(t, p);
          expect(hot).toBe(file);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('hot index records', () => {
  const table = RoutingTable.decode(
    lowerTable(
      config([
        vm('w', [
          target('openai/a', { weight: 3 }),
          target('openai/b', { weight: 1, fallbackCandidate: false }),
          target('openai/c', { weight: 5 }),
        ]),
        vm('p', [target('openai/a', { priority: 1 }), target('openai/b', { priority: 0 }), target('openai/c', { priority: 0 })], {
          strategy: 'priority',
        }),
        vm('lat', [target('openai/a'), target('openai/b')], { strategy: 'latency' }),
        vm('meta', [target('openai/a', { metadataMatch: [['tier', 'x']] }), target('openai/b')]),
        vm(
          'big',
          Array.from({ length: 18 }, (_, i) => target(`openai/m${i}`)),
        ),
        vm('paths', [target('openai/a')], { userPaths: ['/team'] }),
      ]),
    ),
  );
  const rec = (name: string) => table.lookupString(name) * Hot.STRIDE;

  it('copy the file record fields', () => {
    for (let v = 0; v < table.vmCount; v++) {
      const h = v * Hot.STRIDE;
      expect(table.hot[h + Hot.FLAGS]).toBe(table.vms[v * VM_STRIDE + VF_FLAGS]);
      expect(table.hot[h + Hot.FIRST]).toBe(table.vmFirstTarget(v));
      expect(table.hot[h + Hot.COUNT]).toBe(table.vmTargetCount(v));
      expect(table.hot[h + Hot.USER_PATHS]).toBe(table.vmUserPaths(v).length);
    }
  });

  it('carry an inline plan exactly for weighted/priority pools without metadata conditions, up to 16 targets', () => {
    expect(table.hot[rec('w') + Hot.PLAN] & Hot.INLINE).toBe(Hot.INLINE);
    expect(table.hot[rec('p') + Hot.PLAN] & Hot.INLINE).toBe(Hot.INLINE);
    expect(table.hot[rec('p') + Hot.PRIMARY]).toBe(2); // the top tier
    expect(table.hot[rec('lat') + Hot.PLAN] & Hot.INLINE).toBe(0);
    expect(table.hot[rec('meta') + Hot.PLAN] & Hot.INLINE).toBe(0);
    expect(table.hot[rec('big') + Hot.PLAN] & Hot.INLINE).toBe(0);
  });

  it('user paths still decide through the file records', () => {
    const v = table.lookupString('paths');
    expect(table.vmAllowsUserPath(v, '/team/x')).toBe(true);
    expect(table.vmAllowsUserPath(v, '/other')).toBe(false);
  });
});
