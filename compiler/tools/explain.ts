/**
 * `vmc explain`: what the gateway would do with one request, read from a built table, without
 * sending anything (SPEC §5, §10).
 *
 * The decision comes from the gateway's own code: resolution (runtime/routing/resolve.ts:
 * lookup, enabled, user path, `model_types`, metadata, sticky key) and the router's plan, on a
 * gateway that has measured nothing yet (fresh health state). The pool and the shares shown
 * next to it come from the same rules in their cold form (runtime/table/strategies/).
 *
 * Deterministic (SPEC §10): the same arguments print the same text. The pick is fixed by a
 * sticky session key, by `--draw`, or by there being one possible target (or, under
 * `latency`, one target to explore first); otherwise explain prints the shares and says the
 * pick is random, and names no chosen target.
 */
import { noTargetServesMessage, servesEndpoint, unservedReason } from '../../runtime/providers/index.js';
import { HealthState } from '../../runtime/routing/health.js';
import {
  RESOLVE_BAD_METADATA,
  RESOLVE_DISABLED,
  RESOLVE_FORBIDDEN,
  RESOLVE_HTTP_STATUS,
  RESOLVE_NO_ELIGIBLE_TARGET,
  RESOLVE_NOT_FOUND,
  RESOLVE_OK,
  RESOLVE_WRONG_ENDPOINT,
  Resolution,
  resolutionMessage,
  resolveRequest,
  vmFactsOf,
  type RequestHeaders,
} from '../../runtime/routing/resolve.js';
import { Router } from '../../runtime/routing/router.js';
import { EP_CHAT, EP_COMPLETIONS, EP_EMBEDDINGS, EP_MESSAGES, EP_RESPONSES, ENDPOINT_PATHS } from '../../runtime/table/endpoints.js';
import type { RoutingTable } from '../../runtime/table/reader.js';
import { strategyByCode } from '../../runtime/table/strategies/index.js';
import { byPriority, weightShares } from '../../runtime/table/strategies/pick.js';
import { primaryPool } from '../../runtime/table/strategies/pool.js';
import { NO_MEASUREMENTS, type RankedTarget } from '../../runtime/table/strategies/types.js';

/** `--endpoint` values: the client endpoint a request is sent to (`model_types` is checked against it). */
export const EXPLAIN_ENDPOINTS: Readonly<Record<string, number>> = {
  chat: EP_CHAT,
  completions: EP_COMPLETIONS,
  embeddings: EP_EMBEDDINGS,
  responses: EP_RESPONSES,
  messages: EP_MESSAGES,
};

export interface ExplainRequest {
  /** Request headers, lower-case names (`x-vmc-user-path` and `x-vmc-metadata` included, if given). */
  headers: Record<string, string>;
  /** Request metadata; when given it is sent as `x-vmc-metadata` (over a header of that name). */
  metadata: Record<string, string> | null;
  /** Caller's user path; when given it is sent as `x-vmc-user-path` (over a header of that name). */
  userPath: string | null;
  /** Client endpoint, EP_* (runtime/table/endpoints.ts). Default: chat. */
  endpoint?: number;
  /** Random draw in [0, 1) that fixes a random pick, or null (the pick stays random). */
  draw: number | null;
}

export interface ExplainTarget {
  target: string;
  /** Its provider's type (SPEC §13): `openai`, `anthropic`, `azure`, `bedrock`, `gemini`, `vertex`. */
  providerType: string;
  /** NeMo `backend_format` overriding the type's wire format, or null. */
  backendFormat: string | null;
  weight: number;
  priority: number;
  /** Its metadata_match is satisfied by the request. */
  eligible: boolean;
  /** In the primary pool (SPEC §3.4). */
  primary: boolean;
  /** Among the targets the pick chooses from (the strategy's pick set). */
  pickable: boolean;
  /** Share of random picks (0..1); null when picks depend on measurements (`latency`). */
  share: number | null;
  /** Its provider type (or backend_format) can serve the endpoint; the gateway skips it otherwise. */
  servesEndpoint: boolean;
  /** Why it cannot (`provider type bedrock does not offer /v1/embeddings`), or null when it can. */
  unservedReason: string | null;
  fallbackCandidate: boolean;
  metadataMatch: Record<string, string>;
  retry: { attempts: number; delayMs: number; onStatus: number[] };
  fallbackOn: number[];
  maxTtftMs: number;
  overrideParams: unknown;
  headers: { set: Record<string, string>; remove: string[] };
}

export type ExplainStatus =
  'ok' | 'not_found' | 'disabled' | 'forbidden' | 'wrong_endpoint' | 'bad_metadata' | 'no_eligible_target' | 'no_target_serves_endpoint';

/**
 * What fixes the pick: `only` one target can be picked; `explore` the latency strategy tries
 * an unmeasured target first; `sticky` the session key; `draw` the given draw; `random`
 * nothing (no chosen target).
 */
export type ExplainPick = 'only' | 'explore' | 'sticky' | 'draw' | 'random';

export interface ExplainResult {
  model: string;
  status: ExplainStatus;
  /** HTTP status the gateway would answer before going upstream (200 = it would proxy). */
  httpStatus: number;
  /** The gateway's error message when it would refuse; null when it would proxy. */
  message: string | null;
  /** Gateway path of the endpoint the request is sent to. */
  endpoint: string;
  virtualModel: string | null;
  kind: string | null;
  passthrough: boolean;
  strategy: string | null;
  modelTypes: string[];
  userPath: string;
  userPaths: string[];
  sticky: { keys: string[]; sessionKey: string | null } | null;
  targets: ExplainTarget[];
  pick: ExplainPick | null;
  /** The first target tried; null when the pick is random (or the request is refused). */
  chosen: string | null;
  /**
   * Targets tried after the chosen one, in order. When the pick is random: the order of all
   * fallback candidates, from which the picked target is left out.
   */
  fallbackOrder: string[];
  /** The draw given with `--draw`, or null. */
  draw: number | null;
  note: string | null;
}

const STATUS_NAMES: Record<number, ExplainStatus> = {
  [RESOLVE_OK]: 'ok',
  [RESOLVE_NOT_FOUND]: 'not_found',
  [RESOLVE_DISABLED]: 'disabled',
  [RESOLVE_FORBIDDEN]: 'forbidden',
  [RESOLVE_WRONG_ENDPOINT]: 'wrong_endpoint',
  [RESOLVE_BAD_METADATA]: 'bad_metadata',
  [RESOLVE_NO_ELIGIBLE_TARGET]: 'no_eligible_target',
};

/** The request's headers as resolution reads them: `--user-path` and `--metadata` folded in. */
function requestHeaders(req: ExplainRequest): RequestHeaders {
  const headers: Record<string, string> = { ...req.headers };
  if (req.userPath !== null) headers['x-vmc-user-path'] = req.userPath;
  if (req.metadata !== null) headers['x-vmc-metadata'] = JSON.stringify(req.metadata);
  return { header: (name) => (Object.prototype.hasOwnProperty.call(headers, name) ? headers[name] : null) };
}

/** The decision for `model` and one request: the gateway's resolution and plan, with the pool around it. */
export function explainRoute(table: RoutingTable, model: string, req: ExplainRequest): ExplainResult {
  const endpoint = req.endpoint ?? EP_CHAT;
  const vm = table.lookupString(model);
  const facts = vm >= 0 ? vmFactsOf(table, vm) : { endpointMask: 0, stickyKeys: [] };
  // A gateway that has measured nothing yet: fresh health state; the router's draw is unused
  // when req.draw is null unless the pick is fixed anyway (then any draw gives the same target).
  const router = new Router(table, new HealthState(table.targetCount));
  const r = new Resolution();
  const status = resolveRequest(table, router, vm, facts, endpoint, requestHeaders(req), Date.now(), req.draw ?? 0, r);
  const result: ExplainResult = {
    model,
    status: STATUS_NAMES[status],
    httpStatus: RESOLVE_HTTP_STATUS[status],
    message: status === RESOLVE_OK ? null : resolutionMessage(table, vm, endpoint, r, model),
    endpoint: ENDPOINT_PATHS[endpoint],
    virtualModel: null,
    kind: null,
    passthrough: false,
    strategy: null,
    modelTypes: [],
    userPath: r.userPath,
    userPaths: [],
    sticky: null,
    targets: [],
    pick: null,
    chosen: null,
    fallbackOrder: [],
    draw: req.draw,
    note: null,
  };
  if (vm < 0) {
    result.note = table.passthrough ? 'not a virtual model, slug or catalogued model' : 'not a virtual model or slug (passthrough is off)';
    return result;
  }
  const rules = strategyByCode(table.vmStrategyCode(vm));
  result.virtualModel = table.vmName(vm);
  result.kind = table.vmKind(vm);
  result.passthrough = table.vmIsImplicit(vm);
  result.strategy = rules.name;
  result.modelTypes = table.vmModelTypes(vm);
  result.userPaths = table.vmUserPaths(vm);
  if (facts.stickyKeys.length > 0) {
    result.sticky = {
      keys: facts.stickyKeys.map((k) => `${k.source}:${k.key}`),
      sessionKey: status === RESOLVE_OK || status === RESOLVE_NO_ELIGIBLE_TARGET ? r.input.stickyKey : null,
    };
  }
  if (status !== RESOLVE_OK && status !== RESOLVE_NO_ELIGIBLE_TARGET) return result;

  // The pool around the decision, by the strategy's cold rules (the router's hot forms agree:
  // test/runtime/routing/router.test.ts).
  const first = table.vmFirstTarget(vm);
  const n = table.vmTargetCount(vm);
  const ranked: RankedTarget[] = [];
  for (let i = 0; i < n; i++) ranked.push({ weight: table.targetWeight(first + i), priority: table.targetPriority(first + i) });
  const eligible = ranked.map((_, i) => i).filter((i) => table.targetMatchesMetadata(first + i, r.input.metadata));
  const { primary, others } = primaryPool(eligible, (i) => table.targetHasMetadata(first + i));
  const set = primary.length > 0 ? rules.pickSet(primary, ranked, NO_MEASUREMENTS) : { pool: [], pick: [], explore: null };
  const shares = weightShares(set.pick.map((i) => ranked[i].weight));
  const serves = (t: number): boolean =>
    servesEndpoint(table.providerType(table.targetProvider(t)), table.targetBackendFormat(t), endpoint, table.targetModel(t));
  for (let i = 0; i < n; i++) {
    const t = first + i;
    const k = set.pick.indexOf(i);
    const params = table.targetOverrideParams(t);
    const p = table.targetProvider(t);
    const canServe = serves(t);
    result.targets.push({
      target: table.targetLabel(t),
      providerType: table.providerType(p),
      backendFormat: table.targetBackendFormat(t),
      weight: ranked[i].weight,
      priority: ranked[i].priority,
      eligible: eligible.includes(i),
      primary: primary.includes(i),
      pickable: k >= 0,
      share: rules.measured ? null : k >= 0 ? shares[k] : 0,
      servesEndpoint: canServe,
      unservedReason: canServe ? null : unservedReason(table.providerType(p), table.targetBackendFormat(t), endpoint),
      fallbackCandidate: table.targetIsFallbackCandidate(t),
      metadataMatch: Object.fromEntries(table.targetMetadataMatch(t)),
      retry: { attempts: table.targetRetryAttempts(t), delayMs: table.targetRetryDelayMs(t), onStatus: table.targetRetryStatuses(t) },
      fallbackOn: table.targetFallbackStatuses(t),
      maxTtftMs: table.targetMaxTtftMs(t),
      overrideParams: params === null ? null : JSON.parse(params),
      headers: { set: Object.fromEntries(table.targetHeadersSet(t)), remove: table.targetHeadersRemove(t) },
    });
  }
  if (status !== RESOLVE_OK) return result;

  // The engine skips planned targets that cannot serve the endpoint (an anthropic target on
  // /v1/embeddings); with none left it answers 400 before any attempt.
  const planned = Array.from(r.plan.subarray(0, r.count));
  const plan = planned.filter(serves);
  if (plan.length === 0) {
    result.status = 'no_target_serves_endpoint';
    result.httpStatus = 400;
    // the gateway's own words (engine.ts): each planned target with why it cannot serve
    const reasons = planned.map(
      (t) =>
        [
          table.targetLabel(t),
          unservedReason(table.providerType(table.targetProvider(t)), table.targetBackendFormat(t), endpoint),
        ] as const,
    );
    result.message = noTargetServesMessage(result.virtualModel!, endpoint, reasons);
    return result;
  }
  // Precedence as in the router: exploration, then the session key, then the draw.
  const pick: ExplainPick =
    set.pool.length === 1
      ? 'only'
      : set.explore !== null
        ? 'explore'
        : shares.filter((s) => s > 0).length === 1
          ? 'only'
          : r.input.stickyKey !== null
            ? 'sticky'
            : req.draw !== null
              ? 'draw'
              : 'random';
  result.pick = pick;
  if (pick === 'random') {
    const order = [...set.pool, ...others.sort(byPriority(ranked))].filter(
      (i) => table.targetIsFallbackCandidate(first + i) && serves(first + i),
    );
    result.fallbackOrder = order.map((i) => table.targetLabel(first + i));
  } else {
    result.chosen = table.targetLabel(plan[0]);
    for (let k = 1; k < plan.length; k++) result.fallbackOrder.push(table.targetLabel(plan[k]));
  }
  result.note = noteFor(pick, rules.name, rules.summary, rules.measured);
  return result;
}

function noteFor(pick: ExplainPick, strategy: string, summary: string, measured: boolean): string | null {
  const how = `${strategy}: ${summary}`;
  switch (pick) {
    case 'explore':
      return `${how}. explain has no measurements: the target shown is the one a gateway that has measured nothing yet tries first`;
    case 'sticky':
      return 'sticky: the session key decides the target (weighted rendezvous hashing), the same on every replica';
    case 'random':
      return measured
        ? `${how}. The pick depends on the gateway's measurements: pass a sticky key or --draw R to see one`
        : 'the pick is random (a fresh draw per request): pass a sticky key or --draw R to fix it';
    default:
      return measured ? how : null;
  }
}

const pct = (x: number): string => `${(x * 100).toFixed(x === 0 || x === 1 ? 0 : 1)}%`;

/** Human-readable rendering of an explanation. The same result renders to the same text. */
export function renderExplain(r: ExplainResult): string {
  const lines: string[] = [];
  if (r.virtualModel === null) {
    lines.push(`${r.model}: not found (HTTP 404) — ${r.note}`);
    return lines.join('\n') + '\n';
  }
  const what = r.passthrough ? 'catalogued model (passthrough)' : `virtual model ${JSON.stringify(r.virtualModel)} (${r.kind})`;
  lines.push(`${r.model} → ${what}`);
  lines.push(`  strategy:  ${r.strategy}`);
  lines.push(`  endpoint:  ${r.endpoint}${r.modelTypes.length ? ` (model_types: ${r.modelTypes.join(', ')})` : ''}`);
  lines.push(`  user path: ${r.userPath}${r.userPaths.length ? ` (allowed: ${r.userPaths.join(', ')})` : ''}`);
  if (r.status !== 'ok' && r.status !== 'no_eligible_target' && r.status !== 'no_target_serves_endpoint') {
    lines.push(`  decision:  HTTP ${r.httpStatus} ${r.status} — ${r.message}`);
    return lines.join('\n') + '\n';
  }
  if (r.sticky)
    lines.push(
      `  sticky:    ${r.sticky.keys.join(', ')} → session key ${r.sticky.sessionKey === null ? '(absent: not sticky for this request)' : JSON.stringify(r.sticky.sessionKey)}`,
    );
  lines.push('  targets:');
  for (const t of r.targets) {
    const tags = [
      t.primary ? 'primary' : t.eligible ? 'eligible' : 'not eligible',
      t.fallbackCandidate ? null : 'no fallback',
      t.servesEndpoint ? null : `skipped: ${t.unservedReason}`,
    ]
      .filter(Boolean)
      .join(', ');
    const meta = Object.keys(t.metadataMatch).length ? ` match=${JSON.stringify(t.metadataMatch)}` : '';
    const share = t.share === null ? (t.pickable ? 'by latency' : '—') : pct(t.share);
    const type = t.backendFormat === null ? t.providerType : `${t.providerType}, backend_format ${t.backendFormat}`;
    lines.push(
      `    ${`${t.target} (${type})`.padEnd(46)} weight ${String(t.weight).padStart(4)}  priority ${t.priority}  share ${share.padStart(10)}  [${tags}]${meta}`,
    );
    lines.push(
      `      retry ${t.retry.attempts}× every ${t.retry.delayMs} ms on ${t.retry.onStatus.join(',') || '—'}; fallback on ${t.fallbackOn.join(',') || '—'}${t.maxTtftMs ? `; max ttft ${t.maxTtftMs} ms` : ''}`,
    );
  }
  if (r.status === 'no_eligible_target' || r.status === 'no_target_serves_endpoint') {
    lines.push(`  decision:  HTTP ${r.httpStatus} ${r.status} — ${r.message}`);
    return lines.join('\n') + '\n';
  }
  if (r.pick === 'random') {
    lines.push('  chosen:    (random, by the shares above)');
    lines.push(`  fallback:  ${r.fallbackOrder.length ? `${r.fallbackOrder.join(' → ')}, without the picked target` : '(none)'}`);
  } else {
    const why =
      r.pick === 'draw'
        ? `draw ${r.draw}`
        : r.pick === 'sticky'
          ? 'session key'
          : r.pick === 'explore'
            ? 'explored first'
            : 'the only target that can be picked';
    lines.push(`  chosen:    ${r.chosen}   (${why})`);
    lines.push(`  fallback:  ${r.fallbackOrder.length ? r.fallbackOrder.join(' → ') : '(none)'}`);
  }
  if (r.note) lines.push(`  note:      ${r.note}`);
  return lines.join('\n') + '\n';
}
