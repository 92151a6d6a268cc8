/* auto-generated — do not edit; run node bench/harness/gen-types.mjs
 * Source: schemas/scenario.schema.json (json-schema-to-typescript). */

/**
 * Milliseconds or tokens: a number (constant), `{p50, p99}` (log-normal through both) or `{min, max}` (uniform).
 *
 * This interface was referenced by `BenchScenario`'s JSON-Schema
 * via the `definition` "Distribution".
 */
export type Distribution =
  | number
  | {
      p50?: number;
      p99?: number;
      min?: number;
      max?: number;
    };

/**
 * A `vmc bench` scenario (SPEC §11): the gateway under test, simulated providers with faults, the request mix, load phases and thresholds. Paths are relative to the scenario file.
 */
export interface BenchScenario {
  /**
   * JSON Schema reference for editors; ignored by vmc bench.
   */
  $schema?: string;
  /**
   * Scenario format version.
   */
  bench: 1;
  /**
   * Shown in reports (default: the file name).
   */
  name?: string;
  /**
   * Shown in reports.
   */
  description?: string;
  gateway?: Gateway;
  /**
   * Several gateways compared side by side in one run (interleaved rounds, same simulated providers); instead of `gateway`.
   *
   * @minItems 1
   */
  gateways?: NamedGateway[];
  /**
   * Simulated upstreams by the config's provider names. Providers of the config not listed here are simulated with defaults.
   */
  providers?: {
    [k: string]: SimProvider;
  };
  /**
   * The request mix; each entry's `weight` is its share.
   */
  workload?: WorkloadEntry[];
  /**
   * Load phases, run in order.
   *
   * @minItems 1
   */
  load: Phase[];
  /**
   * Seconds of unmeasured load (the first phase's shape, no faults) before each gateway's measured phases and the baseline. Default 1.
   */
  warmup_s?: number;
  /**
   * Split every phase into this many interleaved rounds (gateways and baseline alternate), so drift of a shared machine hits all alike. Default 1.
   */
  rounds?: number;
  /**
   * Also run the same load straight to the simulated providers (no faults) and report the gateway's overhead against it. Default false.
   */
  baseline?: boolean;
  /**
   * Checks over the metrics, e.g. `errors.rate < 0.01`; all must hold (exit 1 otherwise).
   */
  thresholds?: string[];
  /**
   * Fixes the workload mix, fault sampling and latency sampling (`--seed` overrides). Default 1.
   */
  seed?: number;
  /**
   * Client-side timeout of one request (headers and body), seconds. Default 30.
   */
  timeout_s?: number;
  generator?: Generator;
}
/**
 * The gateway under test: `config` (compiled on the fly), `table` (a built routing table) or `url` (a gateway already running).
 *
 * This interface was referenced by `BenchScenario`'s JSON-Schema
 * via the `definition` "Gateway".
 */
export interface Gateway {
  /**
   * Config file(s) or directories, compiled on the fly; every provider is simulated. With `url`: used for the routing expectations only.
   */
  config?: string | string[];
  /**
   * A built routing table (or a build directory); every provider is simulated. With `url`: used for the routing expectations only.
   */
  table?: string;
  /**
   * Base URL of an OpenAI-compatible gateway already running, without `/v1` (e.g. http://127.0.0.1:8080).
   */
  url?: string;
  /**
   * With `url`: a file holding the process id of that gateway (e.g. nginx's pid file). The harness reads it at start and measures the CPU and memory of that process and its children, as for the gateways it starts (relative to the scenario file).
   */
  pid_file?: string;
  /**
   * `vmc serve --workers N` when the harness starts the gateway. Default 1.
   */
  workers?: number;
  headers?: Headers;
}
/**
 * Headers added to every request to this gateway (e.g. an Authorization key).
 */
export interface Headers {
  [k: string]: string;
}
/**
 * This interface was referenced by `BenchScenario`'s JSON-Schema
 * via the `definition` "NamedGateway".
 */
export interface NamedGateway {
  /**
   * Results key and threshold prefix (`name.latency.p99_ms`).
   */
  name: string;
  /**
   * Config file(s) or directories, compiled on the fly; every provider is simulated. With `url`: used for the routing expectations only.
   */
  config?: string | string[];
  /**
   * A built routing table (or a build directory); every provider is simulated. With `url`: used for the routing expectations only.
   */
  table?: string;
  /**
   * Base URL of an OpenAI-compatible gateway already running, without `/v1` (e.g. http://127.0.0.1:8080).
   */
  url?: string;
  /**
   * With `url`: a file holding the process id of that gateway (e.g. nginx's pid file). The harness reads it at start and measures the CPU and memory of that process and its children, as for the gateways it starts (relative to the scenario file).
   */
  pid_file?: string;
  /**
   * `vmc serve --workers N` when the harness starts the gateway. Default 1.
   */
  workers?: number;
  headers?: Headers;
}
/**
 * A simulated provider. Latency fields are Distributions: ttft_ms (time to first token, default 0), itl_ms (inter-token latency on streams, default 0), output_tokens (default 16); `models` overrides them per upstream model name.
 *
 * This interface was referenced by `BenchScenario`'s JSON-Schema
 * via the `definition` "SimProvider".
 */
export interface SimProvider {
  /**
   * Wire format and URL layout (the provider type); needed only when no config or table names the provider (a `url:` gateway). For vertex, the gateway's service-account JSON must name the simulator's `/oauth2/token` as its token_uri.
   */
  type?: 'openai' | 'anthropic' | 'azure' | 'gemini' | 'vertex' | 'bedrock';
  /**
   * Fixed port (e.g. for a gateway already running); default ephemeral.
   */
  port?: number;
  ttft_ms?: Distribution;
  itl_ms?: Distribution;
  output_tokens?: Distribution;
  faults?: Fault[];
  /**
   * Per-model overrides of the fields above, by upstream model name.
   */
  models?: {
    [k: string]: SimModel;
  };
}
/**
 * A declared fault: an HTTP `status` or a `kind`, for a `rate` share of requests and/or a window of load time.
 *
 * This interface was referenced by `BenchScenario`'s JSON-Schema
 * via the `definition` "Fault".
 */
export interface Fault {
  /**
   * Answer this HTTP status with the wire format's error body.
   */
  status?: number;
  /**
   * refuse: connections refused (windows only); reset: connection closed before an answer; silence: no answer at all; cut: the answer stops after `after_tokens`; slow: `ttft_ms`/`itl_ms` while active; malformed: a broken chunk after `after_tokens`.
   */
  kind?: 'refuse' | 'reset' | 'silence' | 'cut' | 'slow' | 'malformed';
  /**
   * Share of requests hit while active (default 1).
   */
  rate?: number;
  /**
   * Active from this second of load time (default 0).
   */
  from_s?: number;
  /**
   * … for this many seconds (default: to the end).
   */
  for_s?: number;
  /**
   * Flapping: alternately on and off for this many seconds each.
   */
  flap_s?: number;
  /**
   * Send `Retry-After` with this many seconds.
   */
  retry_after_s?: number;
  /**
   * cut, malformed: after this many tokens (default half the answer).
   */
  after_tokens?: number;
  ttft_ms?: Distribution;
  itl_ms?: Distribution;
}
/**
 * This interface was referenced by `BenchScenario`'s JSON-Schema
 * via the `definition` "SimModel".
 */
export interface SimModel {
  ttft_ms?: Distribution;
  itl_ms?: Distribution;
  output_tokens?: Distribution;
  faults?: Fault[];
}
/**
 * This interface was referenced by `BenchScenario`'s JSON-Schema
 * via the `definition` "WorkloadEntry".
 */
export interface WorkloadEntry {
  /**
   * Label in reports (default: model, endpoint, stream).
   */
  name?: string;
  /**
   * The model the client asks for (virtual model, slug or provider/model).
   */
  model: string;
  /**
   * Share of the mix (default 1).
   */
  weight?: number;
  /**
   * Client endpoint (default chat).
   */
  endpoint?: 'chat' | 'messages' | 'completions' | 'embeddings' | 'responses';
  /**
   * Ask for a stream (default false).
   */
  stream?: boolean;
  /**
   * Sent as max_tokens (default: none; 16 on messages, which requires it).
   */
  max_tokens?: number;
  /**
   * Pad the prompt to about this many bytes (request body size).
   */
  prompt_bytes?: number;
  /**
   * Request headers; values may use templates like `user-{{n % 100}}`.
   */
  headers?: {
    [k: string]: string;
  };
  /**
   * Sent as `x-vmc-metadata` (values may use templates).
   */
  metadata?: {
    [k: string]: string;
  };
  /**
   * Sent as `x-vmc-user-path` (may use templates).
   */
  user_path?: string;
  /**
   * Extra request body fields, merged over the generated body.
   */
  body?: {
    [k: string]: unknown;
  };
}
/**
 * One load phase. rate: open loop at `rate` req/s (latency from the scheduled send); closed: `connections` clients back to back; ramp: rate from `from` to `to`; steps: each of `rates` for `step_s`; sweep: the highest rate at which the thresholds hold; trace: replay a JSONL trace with its timing. Required per mode: rate: rate, duration_s; closed: connections, duration_s; ramp and sweep: from, to, duration_s; steps: rates (and step_s or duration_s); trace: file.
 *
 * This interface was referenced by `BenchScenario`'s JSON-Schema
 * via the `definition` "Phase".
 */
export interface Phase {
  mode: 'rate' | 'closed' | 'ramp' | 'steps' | 'sweep' | 'trace';
  /**
   * Label in reports.
   */
  name?: string;
  /**
   * Length of the phase (sweep: of each step; trace: at most).
   */
  duration_s?: number;
  /**
   * rate: requests per second.
   */
  rate?: number;
  /**
   * rate, ramp, steps, sweep: evenly spaced (default) or Poisson arrivals.
   */
  arrival?: 'uniform' | 'poisson';
  /**
   * closed: concurrent clients.
   */
  connections?: number;
  /**
   * closed: pause between a response and the client's next request.
   */
  think_ms?: number;
  /**
   * ramp, sweep: first rate (req/s).
   */
  from?: number;
  /**
   * ramp, sweep: last (highest) rate.
   */
  to?: number;
  /**
   * steps: rates in order.
   *
   * @minItems 1
   */
  rates?: number[];
  /**
   * steps: seconds per rate (default duration_s / rates).
   */
  step_s?: number;
  /**
   * sweep: next rate = rate × factor (default 1.5).
   */
  factor?: number;
  /**
   * sweep: bisection steps between the last passing and the first failing rate (default 2).
   */
  refine?: number;
  /**
   * trace: JSONL file, one request per line (`t_ms`, `model`, optional `endpoint`, `stream`, `max_tokens`, `headers`, `metadata`, `user_path`, `body`).
   */
  file?: string;
  /**
   * trace: replay speed (2 = twice as fast). Default 1.
   */
  speed?: number;
}
/**
 * This interface was referenced by `BenchScenario`'s JSON-Schema
 * via the `definition` "Generator".
 */
export interface Generator {
  /**
   * Load-generator threads (worker threads); default 1.
   */
  threads?: number;
  /**
   * Open loop: connections per gateway at most (default unlimited: an open loop must not queue in the client).
   */
  max_connections?: number;
}
