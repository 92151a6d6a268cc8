/**
 * Resolution (runtime/routing/resolve.ts, SPEC §3.2–3.5): the steps in order, their status
 * and message, the sticky key and metadata inputs, the plan, and visibility (`/v1/models`).
 * The gateway's use of it is tested through real servers in test/runtime/resolution.test.ts
 * and test/properties/explain.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { lowerTable } from '../../../compiler/lower.js';
import { HealthState } from '../../../runtime/routing/health.js';
import {
  RESOLVE_BAD_METADATA,
  RESOLVE_DISABLED,
  RESOLVE_FORBIDDEN,
  RESOLVE_HTTP_STATUS,
  RESOLVE_NO_ELIGIBLE_TARGET,
  RESOLVE_NOT_FOUND,
  RESOLVE_OK,
  RESOLVE_WRONG_ENDPOINT,
  ROUTER_DRAW,
  Resolution,
  parseMetadata,
  resolutionMessage,
  resolveRequest,
  stickyKeyOf,
  visibility,
  vmFactsOf,
} from '../../../runtime/routing/resolve.js';
import { Router } from '../../../runtime/routing/router.js';
import { EP_CHAT, EP_EMBEDDINGS, EP_MESSAGES } from '../../../runtime/table/endpoints.js';
import { RoutingTable } from '../../../runtime/table/reader.js';
import { config, target, vm } from '../../support/norm.js';

const table = RoutingTable.decode(
  lowerTable(
    config([
      vm('open', [target('p/a', { weight: 3 }), target('p/b', { weight: 1 })]),
      vm('off', [target('p/a')], { enabled: false }),
      vm('team', [target('p/a')], { userPaths: ['/team'], modelTypes: ['embedding'] }),
      vm('chatty', [target('p/a')], { modelTypes: ['chat'] }),
      vm('tiered', [target('p/a', { metadataMatch: [['tier', 'gold']] }), target('p/b', { metadataMatch: [['tier', 'gold']] })]),
      vm('sticky', [target('p/a'), target('p/b'), target('q/c')], {
        sticky: {
          ttlSeconds: 60,
          keys: [
            { source: 'header', key: 'x-user' },
            { source: 'metadata', key: 'session' },
          ],
        },
      }),
    ]),
  ),
);

const headers = (h: Record<string, string>) => ({ header: (name: string) => h[name] ?? null });

function resolve(model: string, h: Record<string, string> = {}, endpoint = EP_CHAT, draw = 0.5): Resolution {
  const id = table.lookupString(model);
  const facts = id >= 0 ? vmFactsOf(table, id) : { endpointMask: 0, stickyKeys: [] };
  const r = new Resolution();
  resolveRequest(table, new Router(table, new HealthState(table.targetCount), 1), id, facts, endpoint, headers(h), 0, draw, r);
  return r;
}

const message = (model: string, r: Resolution, endpoint = EP_CHAT) =>
  resolutionMessage(table, table.lookupString(model), endpoint, r, model);

describe('resolveRequest (SPEC §3.2–3.5)', () => {
  it.each<[string, string, Record<string, string>, number, number, string]>([
    ['unknown name', 'nope', {}, EP_CHAT, RESOLVE_NOT_FOUND, "model 'nope' does not exist"],
    ['disabled entry', 'off', {}, EP_CHAT, RESOLVE_DISABLED, "model 'off' is disabled"],
    [
      'user path outside user_paths',
      'team',
      { 'x-vmc-user-path': '/teams' },
      EP_EMBEDDINGS,
      RESOLVE_FORBIDDEN,
      "user path '/teams' may not use model 'team'",
    ],
    [
      'user path before model_types (a refused caller learns nothing more)',
      'team',
      {},
      EP_CHAT,
      RESOLVE_FORBIDDEN,
      "user path '/' may not use model 'team'",
    ],
    [
      'model_types: embedding model on chat',
      'team',
      { 'x-vmc-user-path': 'team/x' },
      EP_CHAT,
      RESOLVE_WRONG_ENDPOINT,
      "model 'team' does not support /v1/chat/completions (model_types: embedding)",
    ],
    [
      'malformed metadata',
      'open',
      { 'x-vmc-metadata': '{"a":1}' },
      EP_CHAT,
      RESOLVE_BAD_METADATA,
      'header x-vmc-metadata must be a JSON object of strings',
    ],
    [
      'no target matches the metadata',
      'tiered',
      { 'x-vmc-metadata': '{"tier":"silver"}' },
      EP_CHAT,
      RESOLVE_NO_ELIGIBLE_TARGET,
      "no target of model 'tiered' matches the request metadata",
    ],
  ])('%s', (_name, model, h, endpoint, status, text) => {
    const r = resolve(model, h, endpoint);
    expect(r.status).toBe(status);
    expect(r.count).toBe(0);
    expect(message(model, r, endpoint)).toBe(text);
  });

  it('HTTP statuses per code', () => {
    expect(
      [
        RESOLVE_OK,
        RESOLVE_NOT_FOUND,
        RESOLVE_DISABLED,
        RESOLVE_FORBIDDEN,
        RESOLVE_WRONG_ENDPOINT,
        RESOLVE_BAD_METADATA,
        RESOLVE_NO_ELIGIBLE_TARGET,
      ].map((s) => RESOLVE_HTTP_STATUS[s]),
    ).toEqual([200, 404, 404, 403, 400, 400, 400]);
  });

  it('plans with the given draw: 3:1 weights, draws below 0.75 pick the heavier target', () => {
    const first = table.vmFirstTarget(table.lookupString('open'));
    for (const [draw, want] of [
      [0, first],
      [0.74, first],
      [0.76, first + 1],
    ] as const) {
      const r = resolve('open', {}, EP_CHAT, draw);
      expect([r.status, r.count, r.plan[0], r.plan[1]]).toEqual([RESOLVE_OK, 2, want, want === first ? first + 1 : first]);
    }
  });

  it('chat and messages admit each other (model_types: chat serves /v1/messages)', () => {
    expect(resolve('chatty', {}, EP_MESSAGES).status).toBe(RESOLVE_OK);
    expect(resolve('chatty', {}, EP_EMBEDDINGS).status).toBe(RESOLVE_WRONG_ENDPOINT);
  });

  it('metadata and the composite sticky key reach the router; any absent key means not sticky', () => {
    const r = resolve('sticky', { 'x-user': 'u1', 'x-vmc-metadata': '{"session":"s9"}' });
    expect(r.input.metadata).toEqual({ session: 's9' });
    expect(r.input.stickyKey).toBe('u1\u0000s9');
    expect(resolve('sticky', { 'x-user': 'u1' }).input.stickyKey).toBeNull();
    // the same key picks the same target whatever the draw
    const picks = new Set(
      [0, 0.3, 0.6, 0.99].map((d) => resolve('sticky', { 'x-user': 'u1', 'x-vmc-metadata': '{"session":"s9"}' }, EP_CHAT, d).plan[0]),
    );
    expect(picks.size).toBe(1);
  });

  it('reuses one Resolution across requests: the plan grows when needed, stale inputs are cleared', () => {
    const r = new Resolution();
    r.plan = new Int32Array(1);
    const router = new Router(table, new HealthState(table.targetCount), 1);
    const id = table.lookupString('sticky');
    resolveRequest(
      table,
      router,
      id,
      vmFactsOf(table, id),
      EP_CHAT,
      headers({ 'x-user': 'u', 'x-vmc-metadata': '{"session":"s"}' }),
      0,
      ROUTER_DRAW,
      r,
    );
    expect([r.status, r.count, r.plan.length]).toEqual([RESOLVE_OK, 3, 3]);
    const open = table.lookupString('open');
    resolveRequest(table, router, open, vmFactsOf(table, open), EP_CHAT, headers({}), 0, ROUTER_DRAW, r);
    expect([r.status, r.count, r.input.metadata, r.input.stickyKey, r.userPath]).toEqual([RESOLVE_OK, 2, null, null, '/']);
  });
});

describe('visibility (GET /v1/models)', () => {
  it('admits enabled entries the user path may use', () => {
    const v = (name: string, path: string) => visibility(table, table.lookupString(name), path);
    expect([v('open', '/'), v('off', '/'), v('team', '/'), v('team', '/team/a')]).toEqual([
      RESOLVE_OK,
      RESOLVE_DISABLED,
      RESOLVE_FORBIDDEN,
      RESOLVE_OK,
    ]);
  });
});

describe('request inputs', () => {
  it.each<[string, Record<string, string> | null]>([
    ['{"tier":"gold","region":"eu"}', { tier: 'gold', region: 'eu' }],
    ['{}', {}],
    ['{"n":1}', null],
    ['["a"]', null],
    ['null', null],
    ['not json', null],
  ])('parseMetadata(%s)', (text, want) => {
    expect(parseMetadata(text)).toEqual(want);
  });

  it('stickyKeyOf: every key present and non-empty, joined by NUL', () => {
    const keys = [
      { source: 'header' as const, key: 'x-user' },
      { source: 'metadata' as const, key: 'conv' },
    ];
    expect(stickyKeyOf(keys, headers({ 'x-user': 'a' }), { conv: 'c' })).toBe('a\u0000c');
    expect(stickyKeyOf(keys, headers({ 'x-user': '' }), { conv: 'c' })).toBeNull();
    expect(stickyKeyOf(keys, headers({ 'x-user': 'a' }), null)).toBeNull();
    expect(stickyKeyOf(keys, headers({ 'x-user': 'a' }), Object.create({ conv: 'inherited' }) as Record<string, string>)).toBeNull();
    expect(stickyKeyOf([], headers({}), null)).toBeNull();
  });
});
