/**
 * `vmc explain`: the routing decision for one model name and one (imagined) request, read
 * from a built table by the runtime's own Router, without sending anything (SPEC §5).
 */
import { HealthState } from '../../runtime/routing/health.js';
import { RouteInput, Router, stickyKeyOf } from '../../runtime/routing/router.js';
import type { RoutingTable } from '../../runtime/table/reader.js';

export interface ExplainRequest {
  /** Request headers, lower-case names. */
  headers: Record<string, string>;
  metadata: Record<string, string> | null;
  userPath: string;
  /** Random draw in [0, 1) for weighted picks (shown, so a run can be reproduced). */
  draw: number;
}

export interface ExplainTarget {
  target: string;
  weight: number;
  priority: number;
  eligible: boolean;
  primary: boolean;
  /** Share of picks this target gets for this request (0..1), when the pick is random. */
  share: number;
  fallbackCandidate: boolean;
  metadataMatch: Record<string, string>;
  retry: { attempts: number; delayMs: number; onStatus: number[] };
  fallbackOn: number[];
  maxTtftMs: number;
  overrideParams: unknown;
  headers: { set: Record<string, string>; remove: string[] };
}

export type ExplainStatus = 'ok' | 'not_found' | 'disabled' | 'forbidden' | 'no_eligible_target';

export interface ExplainResult {
  model: string;
  status: ExplainStatus;
  /** HTTP status the gateway would answer before going upstream (200 = it would proxy). */
  httpStatus: number;
  virtualModel: string | null;
  kind: string | null;
  passthrough: boolean;
  strategy: string | null;
  userPath: string;
  userPaths: string[];
  sticky: { keys: string[]; sessionKey: string | null } | null;
  targets: ExplainTarget[];
  chosen: string | null;
  fallbackOrder: string[];
  draw: number;
  note: string | null;
}

const statusCodes: Record<ExplainStatus, number> = { ok: 200, not_found: 404, disabled: 404, forbidden: 403, no_eligible_target: 400 };

function codesOf(table: RoutingTable, t: number, pred: (t: number, code: number) => boolean): number[] {
  const out: number[] = [];
  for (let c = 100; c < 600; c++) if (pred.call(table, t, c)) out.push(c);
  return out;
}

export function explainRoute(table: RoutingTable, model: string, req: ExplainRequest): ExplainResult {
  const base: ExplainResult = {
    model,
    status: 'not_found',
    httpStatus: 404,
    virtualModel: null,
    kind: null,
    passthrough: false,
    strategy: null,
    userPath: req.userPath,
    userPaths: [],
    sticky: null,
    targets: [],
    chosen: null,
    fallbackOrder: [],
    draw: req.draw,
    note: null,
  };
  const vm = table.lookupString(model);
  if (vm < 0) {
    base.note = table.passthrough ? 'not a virtual model, slug or catalogued model' : 'not a virtual model or slug (passthrough is off)';
    return base;
  }
  const result: ExplainResult = {
    ...base,
    virtualModel: table.vmName(vm),
    kind: table.vmKind(vm),
    passthrough: table.vmIsImplicit(vm),
    strategy: table.vmStrategy(vm),
    userPaths: table.vmUserPaths(vm),
  };
  const finish = (status: ExplainStatus, note: string | null): ExplainResult => ({ ...result, status, httpStatus: statusCodes[status], note });
  if (!table.vmEnabled(vm)) return finish('disabled', 'the virtual model is disabled');
  if (!table.vmAllowsUserPath(vm, req.userPath)) return finish('forbidden', `user path ${req.userPath} is not under ${result.userPaths.join(', ')}`);

  const input = new RouteInput();
  input.metadata = req.metadata;
  const stickyKeys = table.vmStickyKeys(vm);
  if (stickyKeys.length > 0) {
    input.stickyKey = stickyKeyOf(stickyKeys, (h) => req.headers[h], req.metadata);
    result.sticky = { keys: stickyKeys.map((k) => `${k.source}:${k.key}`), sessionKey: input.stickyKey };
  }

  const first = table.vmFirstTarget(vm);
  const n = table.vmTargetCount(vm);
  const eligible = (t: number): boolean => table.targetMatchesMetadata(t, req.metadata);
  let anyMatched = false;
  for (let i = 0; i < n; i++) if (table.targetHasMetadata(first + i) && eligible(first + i)) anyMatched = true;
  const primary = (t: number): boolean => eligible(t) && (!anyMatched || table.targetHasMetadata(t));
  const strategy = table.vmStrategy(vm);
  let topPriority = Infinity;
  for (let i = 0; i < n; i++) if (primary(first + i)) topPriority = Math.min(topPriority, table.targetPriority(first + i));
  const pickable = (t: number): boolean => primary(t) && (strategy !== 'priority' || table.targetPriority(t) === topPriority);
  let total = 0;
  let pickableCount = 0;
  for (let i = 0; i < n; i++) {
    if (pickable(first + i)) {
      total += table.targetWeight(first + i);
      pickableCount++;
    }
  }

  for (let i = 0; i < n; i++) {
    const t = first + i;
    const share = pickable(t) ? (total > 0 ? table.targetWeight(t) / total : 1 / pickableCount) : 0;
    const params = table.targetOverrideParams(t);
    result.targets.push({
      target: table.targetLabel(t),
      weight: table.targetWeight(t),
      priority: table.targetPriority(t),
      eligible: eligible(t),
      primary: primary(t),
      share,
      fallbackCandidate: table.targetIsFallbackCandidate(t),
      metadataMatch: Object.fromEntries(table.targetMetadataMatch(t)),
      retry: { attempts: table.targetRetryAttempts(t), delayMs: table.targetRetryDelayMs(t), onStatus: codesOf(table, t, table.targetRetriesOn) },
      fallbackOn: codesOf(table, t, table.targetFallsBackOn),
      maxTtftMs: table.targetMaxTtftMs(t),
      overrideParams: params === null ? null : JSON.parse(params),
      headers: { set: Object.fromEntries(table.targetHeadersSet(t)), remove: table.targetHeadersRemove(t) },
    });
  }

  const router = new Router(table, new HealthState(table.targetCount));
  const out = new Int32Array(Math.max(1, table.maxTargets));
  const count = router.planWith(vm, input, Date.now(), req.draw, out);
  if (count === 0) return finish('no_eligible_target', 'no target matches the request metadata');
  result.chosen = table.targetLabel(out[0]);
  for (let k = 1; k < count; k++) result.fallbackOrder.push(table.targetLabel(out[k]));
  let note: string | null = null;
  if (input.stickyKey !== null) note = 'sticky: the session key decides the target (weighted rendezvous hashing), the same on every replica';
  else if (strategy === 'latency') note = 'latency: without measurements every target is explored once; then the fastest (and near-ties) take the traffic';
  return finish('ok', note);
}

const pct = (x: number): string => `${(x * 100).toFixed(x === 0 || x === 1 ? 0 : 1)}%`;

/** Human-readable rendering of an explanation. */
export function renderExplain(r: ExplainResult): string {
  const lines: string[] = [];
  if (r.virtualModel === null) {
    lines.push(`${r.model}: not found (HTTP 404) — ${r.note}`);
    return lines.join('\n') + '\n';
  }
  const what = r.passthrough ? 'catalogued model (passthrough)' : `virtual model ${JSON.stringify(r.virtualModel)} (${r.kind})`;
  lines.push(`${r.model} → ${what}`);
  lines.push(`  strategy:  ${r.strategy}`);
  lines.push(`  user path: ${r.userPath}${r.userPaths.length ? ` (allowed: ${r.userPaths.join(', ')})` : ''}`);
  if (r.sticky) lines.push(`  sticky:    ${r.sticky.keys.join(', ')} → session key ${r.sticky.sessionKey === null ? '(absent: not sticky for this request)' : JSON.stringify(r.sticky.sessionKey)}`);
  if (r.status !== 'ok' && r.status !== 'no_eligible_target') {
    lines.push(`  decision:  HTTP ${r.httpStatus} ${r.status} — ${r.note}`);
    return lines.join('\n') + '\n';
  }
  lines.push('  targets:');
  for (const t of r.targets) {
    const tags = [t.primary ? 'primary' : t.eligible ? 'eligible' : 'not eligible', t.fallbackCandidate ? null : 'no fallback'].filter(Boolean).join(', ');
    const meta = Object.keys(t.metadataMatch).length ? ` match=${JSON.stringify(t.metadataMatch)}` : '';
    lines.push(`    ${t.target.padEnd(36)} weight ${String(t.weight).padStart(4)}  priority ${t.priority}  share ${pct(t.share).padStart(6)}  [${tags}]${meta}`);
    lines.push(`      retry ${t.retry.attempts}× every ${t.retry.delayMs} ms on ${t.retry.onStatus.join(',') || '—'}; fallback on ${t.fallbackOn.join(',') || '—'}${t.maxTtftMs ? `; max ttft ${t.maxTtftMs} ms` : ''}`);
  }
  if (r.status === 'no_eligible_target') {
    lines.push(`  decision:  HTTP 400 — ${r.note}`);
    return lines.join('\n') + '\n';
  }
  lines.push(`  chosen:    ${r.chosen}   (draw ${r.draw.toFixed(4)})`);
  lines.push(`  fallback:  ${r.fallbackOrder.length ? r.fallbackOrder.join(' → ') : '(none)'}`);
  if (r.note) lines.push(`  note:      ${r.note}`);
  return lines.join('\n') + '\n';
}
