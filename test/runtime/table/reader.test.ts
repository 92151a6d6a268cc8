/** The table reader (runtime/table/reader.ts): decode, lookup, accessors, round trip, corrupt tables. */
import { describe, expect, it } from 'vitest';
import { lowerTable } from '../../../compiler/lower.js';
import { RoutingTable, TableFormatError } from '../../../runtime/table/reader.js';
import { createHash } from 'node:crypto';
import { HEADER_SIZE, SectionId, VF_FLAGS, VMF_STRATEGY_MASK, VMF_STRATEGY_SHIFT, decodeSections } from '../../../runtime/table/format.js';
import { config, provider, target, vm } from '../../support/norm.js';
import type { NormConfig } from '../../../runtime/table/normalized.js';

const rich: NormConfig = config(
  [
    vm('regular', [target('anthropic/claude-sonnet-4-6')], { description: 'alias', modelTypes: ['chat'] }),
    vm(
      'booking-app/gpt-prod',
      [
        target('openai/gpt-4o', {
          weight: 70,
          overrideParams: '{"temperature":0.2}',
          headersSet: [['x-deployment-id', 'eastus']],
          headersRemove: ['x-internal-trace'],
        }),
        target('anthropic/claude-opus-4-6', {
          weight: 30,
          metadataMatch: [['tier', 'enterprise']],
          fallbackCandidate: false,
          maxTtftMs: 800,
          retry: { attempts: 3, delayMs: 200, onStatus: [429, 503] },
          fallbackOn: [500],
          backendFormat: 'anthropic',
        }),
      ],
      {
        slug: 'gpt-prod',
        sticky: {
          ttlSeconds: 3600,
          keys: [
            { source: 'header', key: 'x-user-id' },
            { source: 'metadata', key: 'session' },
          ],
        },
        middleware: {
          request: [{ name: 'set-params', configType: 'params', config: '{"top_p":1}', configId: null }],
          response: [],
          postResponse: [{ name: 'log', configType: '', config: null, configId: 'ws/log' }],
        },
      },
    ),
    vm('legacy', [target('openai/gpt-4o-mini')], { enabled: false }),
    vm('openai/gpt-4o', [target('openai/gpt-4o')], { kind: 'policy', userPaths: ['/team/a'] }),
    vm('prio', [target('openai/gpt-4o', { priority: 1 }), target('openai/gpt-4o-mini', { priority: 0 })], { strategy: 'priority' }),
    vm('ünïcode/名前', [target('openai/gpt-4o')]),
  ],
  {
    providers: [
      provider('anthropic', ['claude-opus-4-6', 'claude-sonnet-4-6'], {
        type: 'anthropic',
        apiKeyEnv: 'ANTHROPIC_API_KEY',
        baseUrl: 'https://api.anthropic.com',
      }),
      provider('openai', ['gpt-4o', 'gpt-4o-mini', 'o3'], { apiKeyEnv: 'OPENAI_API_KEY', timeoutMs: 5000 }),
    ],
  },
);

describe('routing table', () => {
  it('decode(lower(config)) reproduces the normalized config', () => {
    const table = RoutingTable.decode(lowerTable(rich));
    expect(table.toNormalized()).toEqual(rich);
  });

  it('is byte-identical for identical input', () => {
    expect(Buffer.from(lowerTable(rich)).equals(Buffer.from(lowerTable(structuredClone(rich))))).toBe(true);
  });

  it('stores provider credentials as env var names only', () => {
    const bytes = Buffer.from(lowerTable(rich));
    expect(bytes.includes('OPENAI_API_KEY')).toBe(true);
  });

  it.each([
    ['regular', 'regular'],
    ['gpt-prod', 'booking-app/gpt-prod'],
    ['booking-app/gpt-prod', 'booking-app/gpt-prod'],
    ['openai/o3', 'openai/o3'], // implicit passthrough entry
    ['openai/gpt-4o', 'openai/gpt-4o'], // policy shadows the catalogued model
    ['ünïcode/名前', 'ünïcode/名前'],
  ])('looks up %s from raw bytes', (name, expected) => {
    const table = RoutingTable.decode(lowerTable(rich));
    const body = Buffer.from(`{"model":"${name}"}`);
    const vmId = table.lookup(body, 10, 10 + Buffer.byteLength(name));
    expect(vmId).toBeGreaterThanOrEqual(0);
    expect(table.vmName(vmId)).toBe(expected);
  });

  it('misses unknown names and prefixes', () => {
    const table = RoutingTable.decode(lowerTable(rich));
    for (const n of ['', 'regula', 'regularx', 'openai/', 'openai/gpt-5']) expect(table.lookupString(n)).toBe(-1);
  });

  it('without passthrough indexes neither catalogued models nor access policies', () => {
    const t = RoutingTable.decode(lowerTable({ ...rich, settings: { passthrough: false, modelsEndpoint: 'virtual_only' } }));
    expect(t.lookupString('openai/o3')).toBe(-1);
    expect(t.lookupString('openai/gpt-4o')).toBe(-1);
    expect(t.lookupString('regular')).toBeGreaterThanOrEqual(0);
    expect(t.modelsEndpoint).toBe('virtual_only');
  });

  it('answers status-set and user-path questions', () => {
    const t = RoutingTable.decode(lowerTable(rich));
    const v = t.lookupString('booking-app/gpt-prod');
    const opus = t.vmFirstTarget(v) + 1;
    expect(t.targetRetriesOn(opus, 429)).toBe(true);
    expect(t.targetRetriesOn(opus, 500)).toBe(false);
    expect(t.targetFallsBackOn(opus, 500)).toBe(true);
    expect(t.targetFallsBackOn(opus, 99)).toBe(false);
    expect(t.targetFallsBackOn(opus, 700)).toBe(false);
    expect(t.targetWireFormat(opus)).toBe('anthropic');
    const policy = t.lookupString('openai/gpt-4o');
    expect(t.vmAllowsUserPath(policy, '/team/a')).toBe(true);
    expect(t.vmAllowsUserPath(policy, '/team/a/x')).toBe(true);
    expect(t.vmAllowsUserPath(policy, '/team/ab')).toBe(false);
    expect(t.vmAllowsUserPath(policy, '/')).toBe(false);
  });

  it('rejects corrupt and incompatible tables', () => {
    const good = lowerTable(rich);
    const flip = Uint8Array.from(good);
    flip[HEADER_SIZE + 100] ^= 1;
    expect(() => RoutingTable.decode(flip)).toThrow(TableFormatError);
    const version = Uint8Array.from(good);
    version[4] = 99;
    expect(() => RoutingTable.decode(version)).toThrow(/version 99/);
    expect(() => RoutingTable.decode(good.subarray(0, good.length - 8))).toThrow(TableFormatError);
    expect(() => RoutingTable.decode(new Uint8Array(10))).toThrow(TableFormatError);
    expect(() => RoutingTable.decode(Buffer.from('{"not":"a table"}'.padEnd(200)))).toThrow(/magic/);
  });

  it('encodes lone surrogates at string boundaries like Buffer.from does, string by string', () => {
    // Interned next to each other, 'a\uD800' + '\uDC00b' would fuse into one valid pair if
    // encoded as one joined text; each must decode to U+FFFD on its own.
    const t = RoutingTable.decode(lowerTable(config([vm('a\uD800', [target('p/x')]), vm('\uDC00b', [target('p/y')])])));
    const names = [0, 1].map((i) => t.vmName(i)).sort();
    expect(names).toEqual(['a\uFFFD', '\uFFFDb'].sort());
  });

  it('rejects a strategy code that no strategy has (the router switches on it)', () => {
    const bytes = Uint8Array.from(lowerTable(rich));
    const vms = decodeSections(bytes).sections.get(SectionId.VMS)!;
    const flags = new DataView(vms.buffer, vms.byteOffset + VF_FLAGS * 4, 4);
    flags.setUint32(0, flags.getUint32(0, true) | (VMF_STRATEGY_MASK << VMF_STRATEGY_SHIFT), true);
    bytes.set(createHash('sha256').update(bytes.subarray(HEADER_SIZE)).digest(), 8);
    expect(() => RoutingTable.decode(bytes)).toThrow(/strategy code/);
  });
});
