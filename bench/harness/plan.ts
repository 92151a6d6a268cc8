/**
 * A scenario resolved into what the run needs (./scenario.ts builds it): every default
 * filled in, paths absolute, templates parsed, thresholds parsed, configs compiled.
 */
import type { NormConfig } from '../../runtime/table/normalized.js';
import type { RoutingTable } from '../../runtime/table/reader.js';
import type { SimProviderSpec } from '../sim/behavior.js';
import type { Template } from './template.js';
import type { Threshold } from './thresholds.js';

export type Endpoint = 'chat' | 'messages' | 'completions' | 'embeddings' | 'responses';

/** Client paths of the endpoints (SPEC §6). */
export const ENDPOINT_PATH: Record<Endpoint, string> = {
  chat: '/v1/chat/completions',
  messages: '/v1/messages',
  completions: '/v1/completions',
  embeddings: '/v1/embeddings',
  responses: '/v1/responses',
};

/** The routing config a gateway serves (or, in url mode, the one the expectations come from). */
export interface Expectations {
  source: 'config' | 'table';
  /** Display name of the source (relative path). */
  label: string;
  norm: NormConfig;
  table: RoutingTable;
  /** The bytes of `table` (a harness-started gateway serves them, base URLs replaced). */
  bytes: Uint8Array;
  /** The table file given by the scenario (table mode), for `--provider-url`. */
  tablePath: string | null;
}

export interface GatewayPlan {
  name: string;
  mode: 'config' | 'table' | 'url';
  /** url mode: base URL without `/v1`. */
  url: string | null;
  /** url mode: absolute path of a file holding the gateway's process id (its CPU and memory are measured); null = not measured. */
  pidFile: string | null;
  workers: number;
  headers: Record<string, string>;
  expectations: Expectations | null;
}

export interface WorkloadPlan {
  index: number;
  label: string;
  model: string;
  weight: number;
  endpoint: Endpoint;
  stream: boolean;
  maxTokens: number | null;
  promptBytes: number;
  /** [lower-case name, template] */
  headers: [string, Template][];
  metadata: [string, Template][] | null;
  userPath: Template | null;
  body: Record<string, unknown> | null;
}

/** One recorded request of a trace phase. */
export interface TraceItem {
  tMs: number;
  /** Index into the phase's trace workload (one WorkloadPlan per distinct request shape). */
  entry: number;
}

export type PhaseMode = 'rate' | 'closed' | 'ramp' | 'steps' | 'sweep' | 'trace';

export interface PhasePlan {
  index: number;
  label: string;
  mode: PhaseMode;
  /** Whole phase (steps: per step; sweep: per step; trace: at most). */
  durationS: number;
  rate: number;
  arrival: 'uniform' | 'poisson';
  connections: number;
  thinkMs: number;
  from: number;
  to: number;
  rates: number[];
  factor: number;
  refine: number;
  /** trace: the requests, their shapes and the replay speed. */
  trace: TraceItem[] | null;
  traceWorkload: WorkloadPlan[] | null;
  speed: number;
}

export interface Plan {
  file: string;
  dir: string;
  name: string;
  description: string;
  gateways: GatewayPlan[];
  /** Several gateways (`gateways:`): metrics are keyed by gateway name. */
  multi: boolean;
  sims: SimProviderSpec[];
  workload: WorkloadPlan[];
  phases: PhasePlan[];
  warmupS: number;
  rounds: number;
  baseline: boolean;
  thresholds: Threshold[];
  seed: number;
  timeoutMs: number;
  threads: number;
  maxConnections: number | null;
}
