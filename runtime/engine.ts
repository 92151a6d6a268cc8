/**
 * The per-request engine: resolution (SPEC §3.1–3.5) and the attempt loop (§3.7, §9).
 * With caller keys on (SPEC §12), the key is checked first (runtime/keys/ring.ts: 401 without
 * a usable key, 403 for an `x-vmc-user-path` that does not narrow the key's path), and
 * resolution runs with the key as the caller (its user path and model allow-list).
 *
 *   body ──scanJsonBody──▶ model span ───lookupWords──▶ vm ──resolveRequest──▶ [t0, t1, …]
 *     (routing/resolve.ts: enabled, user path, model_types, metadata,           │
 *      sticky key, router plan — the same function `vmc explain` runs)          │
 *   for each target in plan order:                                              ▼
 *     ejected (cooling down)? → skip (treated as failed, SPEC §9); else admitted (maybe as
 *                               the half-open probe)
 *     for try = 1..attempts:  → send; on a status in retry.on_status, a network error or a
 *                               timeout: wait delay_ms (or the upstream's Retry-After, up to
 *                               MAX_RETRY_AFTER_MS) and retry (SPEC §3.7). A timeout after the
 *                               request was fully sent is retried on the same target only
 *                               when retry.on_status lists 504 (the work may be billed).
 *     after the last try:     → status in fallback_on / network failure / timeout, and a
 *                               next usable target exists: move on; else answer with it
 *     sla.max_ttft_ms missed  → the attempt failed; next target at once (no same-target retry)
 *   nothing answered          → the last upstream response as sent, else 502 (network) /
 *                               504 (timeout); nothing tried because of cooldown → 503
 *
 * Error answers (status ≥ 400) are read whole before anything is decided — bounded in size
 * (MAX_KEPT_ERROR_BODY) and time (ERROR_BODY_TIMEOUT_MS): an error body that never ends is a
 * failed attempt, not a hung request. A success is committed when its first body byte
 * arrives (relay.ts takes over); before that, fallback is always possible.
 *
 * Health (routing/health.ts) is recorded per attempt: a failure is a network error, a
 * timeout, an SLA miss, or a status ≥ 500 / in retry.on_status / in fallback_on; anything
 * else is a success and feeds the latency EWMA with its time to first byte. Client faults
 * are neither (issue 8): a request the gateway or undici refuses to send (400 before any
 * attempt), and the upstream's 401/403/429 to a client's own credentials (a provider without
 * a key): those judge the credential, not the target, so one client cannot cool a target
 * down for everyone.
 *
 * Upstream requests (SPEC §3.6, §13): the path is the target's route for the endpoint — its
 * stream path when the provider streams elsewhere (Bedrock `/converse-stream`, Gemini
 * `?alt=sse`) and the client asked for a stream; the body is the client's bytes with the model
 * spliced (fast path) or `upstreamBody` (translation, override_params, body model); headers
 * are built once per target (target.ts) and, for providers that sign (SigV4, OAuth), signed on
 * every attempt — a SigV4 signature carries its time and a token expires, so signed headers
 * are never cached. A signer that cannot produce credentials (CredentialsError: no AWS keys,
 * no service-account file, a token endpoint that refuses the account) is a configuration
 * fault, not an upstream failure: the target is skipped without counting against its health
 * (ejecting it would not bring the credentials back, and would hide the message), the
 * request moves on to the next target, and when nothing else answers the client gets
 * `502 provider_error` with the signer's message (variable names and URLs, never values).
 */
import { GATEWAY_PROVIDER, INTERNAL_ERROR_BODY, gatewayErrorBody, type GatewayErrorType } from './errors.js';
import type { Generation, TargetRuntime, VmRuntime } from './generation.js';
import { answerInternalError } from './http/common.js';
import { JSON_HEADERS } from './http/respond.js';
import type { HeaderValue, HttpRequest, HttpResponse } from './http/adapter.js';
import {
  BodyScan,
  MODEL_ABSENT,
  MODEL_DUPLICATE,
  MODEL_STRING,
  SCAN_NOT_OBJECT,
  SCAN_TOO_DEEP,
  modelName,
  scanJsonBody,
} from './json-scan.js';
import { logKeyedAccess } from './keys/access.js';
import type { KeyMetrics } from './keys/metrics.js';
import { AUTH_MESSAGES, AUTH_OK, AUTH_REASONS, Caller, authenticate, narrowUserPath, type KeyEntry } from './keys/ring.js';
import type { KeyStore } from './keys/store.js';
import { logAccess, type Logger } from './log.js';
import type { Metrics } from './metrics.js';
import { applyBodyOps, runPostResponse } from './middleware.js';
import { RELAY_CLIENT_ABORTED, RELAY_REFUSED, RELAY_UPSTREAM_BROKE, RelayContext, relay, responseHeaders } from './relay.js';
import { ADMIT_SKIP } from './routing/health.js';
import { RESOLVE_HTTP_STATUS, RESOLVE_OK, ROUTER_DRAW, Resolution, resolutionMessage, resolveRequest } from './routing/resolve.js';
import {
  FAIL_ABORTED,
  FAIL_LOCAL,
  FAIL_NONE,
  FAIL_REFUSED,
  FAIL_TIMEOUT,
  FAIL_TTFT,
  UpstreamCall,
  invalidHeaderValue,
  retryAfterMs,
  type UpstreamListener,
} from './upstream.js';
import { noTargetServesMessage, unservedReason } from './providers/index.js';
import { upstreamBody } from './providers/routes.js';
import { CredentialsError } from './providers/signer.js';
import { TranslationError, XLATE_NONE, translateErrorBody } from './wire/translate.js';
import { keepShape, Shape } from './shapes.js';

/** Error bodies kept from failed attempts (for "the last upstream response as sent"); a larger one fails the attempt. */
const MAX_KEPT_ERROR_BODY = 1024 * 1024;
/**
 * An error body must be complete this long after its headers (and within the attempt's
 * `timeout_ms`): one that never ends fails the attempt instead of hanging the request and
 * blocking fallback (issue 8).
 */
export const ERROR_BODY_TIMEOUT_MS = 10_000;
/**
 * Longest upstream `Retry-After` (on 429/503) honoured as the delay before a same-target
 * retry. A longer one ends the retries on that target: the request falls back, or the client
 * gets the provider's answer with its Retry-After.
 */
export const MAX_RETRY_AFTER_MS = 10_000;

const EMPTY = Buffer.alloc(0);
const EMPTY_HEADERS: string[] = [];

/** Status logged for requests whose client went away (nginx's convention). */
export const STATUS_CLIENT_CLOSED = 499;

export interface EngineDeps {
  metrics: Metrics;
  log: Logger;
  /** Caller keys (`vmc serve --keys`, SPEC §12): every request must present one. Absent = keys off. */
  keys?: KeyStore | null;
  /** Where key outcomes are counted (required with `keys`). */
  keyMetrics?: KeyMetrics;
  /**
   * `vmc serve --forwarded-for`: send the client's address upstream in `x-forwarded-for`
   * (appended to the client's own value). Default false: provider requests carry no
   * `x-forwarded-for` at all, so end users' addresses do not reach the providers.
   */
  forwardedFor?: boolean;
  /**
   * Reports a request whose handling threw after `serve` returned (the first attempt's
   * promise-free continuation). The engine answers it 500 (or closes a started response), as
   * the HTTP engine does for a handler that throws or rejects (which it reports the same way).
   */
  onError?: (err: unknown, req: HttpRequest) => void;
}

// Resolution scratch. Everything from scan to plan runs synchronously before the first
// await, so one instance of each serves every request.
const scan = new BodyScan();
const resolution = new Resolution();
const caller = new Caller();

/** Headers of a 401: the error envelope, and the scheme clients should use. */
const UNAUTHORIZED_HEADERS: readonly string[] = Object.freeze(['content-type', 'application/json', 'www-authenticate', 'Bearer']);

/** Error type and `param` of a refused resolution, by RESOLVE_* code (routing/resolve.ts). */
const RESOLVE_ERROR_TYPE: readonly GatewayErrorType[] = [
  'invalid_request_error', // ok (unused)
  'not_found_error', // not found
  'not_found_error', // disabled
  'permission_error', // user path: a policy denial (SPEC §3.3, §12)
  'invalid_request_error', // model_types
  'invalid_request_error', // bad x-vmc-metadata
  'invalid_request_error', // no eligible target
  'permission_error', // the caller key's models exclude it (SPEC §12)
];
const RESOLVE_PARAM: readonly (string | null)[] = [null, 'model', 'model', 'model', 'model', null, null, 'model'];

/** An upstream response kept while trying further targets. */
class KeptResponse {
  constructor(
    readonly target: TargetRuntime,
    readonly status: number,
    readonly rawHeaders: string[] | null,
    readonly body: Buffer,
  ) {
    keepShape(Shape.KeptResponse, this);
  }
}

/** Per-request state of the attempt loop (fixed shape). */
class Exchange implements UpstreamListener {
  call: UpstreamCall | null = null;
  /** Admission epoch of the first attempt when {@link Engine.serve} started it without the loop. */
  firstEpoch = 0;
  /** Counted in the gateway's in-flight requests (Engine#leave ends that once). */
  inFlight = false;
  attempts = 0;
  /** Target whose answer (or failure) the client gets; null before any. */
  target: TargetRuntime | null = null;
  status = 0;
  /** Client body parsed once when a slow path needs it (middleware, overrides, translation). */
  clientJson: Record<string, unknown> | null = null;
  bodyFor = -1;
  body: Buffer | null = null;
  headersFor = -1;
  headers: string[] | null = null;
  /** Why the request cannot be sent upstream (a header value undici would refuse), or null. */
  refusal: string | null = null;
  /** The caller key (keys on), and the caller's user path, for the access line and key metrics. */
  key: KeyEntry | null = null;
  userPath: string | null = null;

  constructor(
    readonly gen: Generation,
    readonly endpoint: number,
    readonly req: HttpRequest,
    readonly res: HttpResponse,
    readonly vm: number,
    readonly vmr: VmRuntime,
    readonly modelStart: number,
    readonly modelEnd: number,
    readonly startedAt: number,
    /** The try order (a copy of the resolution's). */
    readonly plan: Int32Array,
    readonly engine: Engine,
  ) {
    keepShape(Shape.Exchange, this);
  }

  /** UpstreamListener: the first attempt has news (see Engine.serve). */
  upstreamReady(): void {
    this.engine.firstAttemptReady(this);
  }

  /** Client-abort hook: abort the upstream attempt in progress. */
  readonly onAbort = (): void => {
    this.call?.fail(FAIL_ABORTED, new Error('client closed the connection'));
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class Engine {
  readonly #metrics: Metrics;
  readonly #log: Logger;
  readonly #keys: KeyStore | null;
  readonly #keyMetrics: KeyMetrics | null;
  readonly #forwardedFor: boolean;
  readonly #onError: ((err: unknown, req: HttpRequest) => void) | null;

  constructor(deps: EngineDeps) {
    this.#metrics = deps.metrics;
    this.#log = deps.log;
    this.#keys = deps.keys ?? null;
    this.#keyMetrics = deps.keyMetrics ?? null;
    this.#forwardedFor = deps.forwardedFor === true;
    this.#onError = deps.onError ?? null;
  }

  /**
   * Serves one inference request on endpoint `ep` (EP_* of generation.ts) with table `gen`.
   * Everything up to the first upstream attempt runs synchronously (refusals are answered
   * before this returns, with no promise). The common request's first attempt is started here
   * and continues without a promise ({@link #startFirst}); a promise only for requests that
   * take the attempt loop from the start (a signer, the general request path, a cooled-down
   * first target).
   */
  serve(gen: Generation, ep: number, req: HttpRequest, res: HttpResponse): void | Promise<void> {
    const startedAt = performance.now();
    const ex = this.#resolve(gen, ep, req, res, startedAt);
    if (!ex) return;
    ex.inFlight = true;
    this.#metrics.inFlight++;
    let started: boolean;
    try {
      res.onAbort(ex.onAbort);
      started = this.#startFirst(ex);
    } catch (err) {
      this.#leave(ex);
      throw err;
    }
    if (!started) return this.#run(ex, false);
  }

  /** The request no longer counts in flight (idempotent). */
  #leave(ex: Exchange): void {
    if (!ex.inFlight) return;
    ex.inFlight = false;
    this.#metrics.inFlight--;
  }

  /**
   * The attempt loop of a resolved request — from its first attempt, or (`resumed`) from the
   * one {@link #startFirst} began — then its metrics and access line. Counted in flight by the caller.
   */
  async #run(ex: Exchange, resumed: boolean): Promise<void> {
    try {
      await this.#attempts(ex, ex.plan, resumed);
      this.#done(ex);
    } finally {
      this.#leave(ex);
    }
  }

  /** A request's end (the attempts are over): metrics, access line, post-response middleware. */
  #done(ex: Exchange): void {
    ex.res.onAbort(null);
    this.#finish(ex);
  }

  /**
   * HOT PATH — the common request without a promise (issue 13): the plan's first target,
   * admitted, on the lean client with a prebuilt head (no signer), started here; its answer
   * arrives in {@link firstAttemptReady} at the end of the socket read that brought it. A
   * success is relayed from there, synchronously when the body is whole; anything else (an
   * error status, a failure, a status the policy retries or falls back on) goes on in the
   * attempt loop, resumed at this attempt. False when the request takes the loop from the start.
   */
  #startFirst(ex: Exchange): boolean {
    const plan = ex.plan;
    if (plan.length === 0 || ex.res.finished) return false;
    const t = plan[0];
    const tr = ex.gen.target(t);
    const fast = this.#fastHeadFor(ex, tr); // null for a signer and for an endpoint the target does not serve
    if (fast === null) return false;
    const epoch = ex.gen.health.admit(t, Date.now(), verdictMs(tr));
    if (epoch === ADMIT_SKIP) return false; // the loop counts the skip (admit has no side effect then)
    ex.firstEpoch = epoch;
    ex.attempts = 1;
    ex.target = tr;
    const call = new UpstreamCall();
    ex.call = call;
    call.listen(ex);
    call.startSpliced(tr.lean!, fast, ex.req.body, ex.modelStart, ex.modelEnd, tr.modelJsonBytes, tr);
    return true;
  }

  /**
   * @internal The first attempt started by {@link #startFirst} has news (its UpstreamCall
   * listener). Never throws: a failure is answered like a handler's (EngineDeps.onError).
   */
  firstAttemptReady(ex: Exchange): void {
    let next: void | Promise<void>;
    try {
      next = this.#afterFirst(ex);
    } catch (err) {
      return this.#failed(ex, err);
    }
    if (next !== undefined) next.then(undefined, (err: unknown) => this.#failed(ex, err));
  }

  /**
   * The first attempt's answer, as the loop would take it at `k = 1` of target 0: a status
   * below 400 is committed at its first body byte (a success, or a failure when the policy
   * retries or falls back on it: recorded, then relayed as the loop does); no byte yet: listen
   * again. Anything else resumes the loop. Returns a promise while the request is still running.
   */
  #afterFirst(ex: Exchange): void | Promise<void> {
    const call = ex.call!;
    const status = call.status;
    if (call.failure === FAIL_NONE && status !== 0 && status < 400 && !ex.res.finished) {
      const first = call.take();
      if (first === undefined) {
        call.listen(ex);
        return;
      }
      if (first !== null || call.failure === FAIL_NONE) {
        const tr = ex.target!;
        const t = tr.id;
        const table = ex.gen.table;
        const failed = table.targetRetriesOn(t, status) || table.targetFallsBackOn(t, status); // as the loop's, below 400
        this.#recordAnswered(ex.gen, tr, t, ex.firstEpoch, call, failed);
        const relaying = this.#commit(ex, tr, call, first ?? EMPTY, ex.firstEpoch);
        if (relaying === undefined) return this.#end(ex);
        return relaying.then(() => this.#end(ex));
      }
    }
    return this.#run(ex, true);
  }

  /** {@link #done}, and the request no longer counts in flight. */
  #end(ex: Exchange): void {
    try {
      this.#done(ex);
    } finally {
      this.#leave(ex);
    }
  }

  /** A request whose continuation threw: reported, and answered like a throwing handler's. */
  #failed(ex: Exchange, err: unknown): void {
    this.#leave(ex);
    this.#onError?.(err, ex.req);
    answerInternalError(ex.res, INTERNAL_ERROR_BODY);
  }

  /** Checks and resolution (synchronous): the Exchange to serve, or nothing when the request was answered here. */
  #resolve(gen: Generation, ep: number, req: HttpRequest, res: HttpResponse, startedAt: number): Exchange | void {
    // HOT PATH: resolution (scan → lookup → plan) works on the body bytes and preallocated
    // scratch; no parse and no per-request objects before the attempt loop — change with care
    const table = gen.table;
    const body = req.body;
    // Caller keys (SPEC §12) first: an unauthenticated client learns nothing else. `caller` is
    // module scratch, valid until the first await; what must survive goes into the Exchange.
    let c: Caller | null = null;
    if (this.#keys !== null) {
      c = caller;
      const st = authenticate(this.#keys.ring, req, Date.now(), c);
      if (st !== AUTH_OK) return this.#unauthenticated(req, res, startedAt, st, c);
    }
    // A JSON API: anything else is refused before it can reach a provider — a browser's form
    // POST or no-cors fetch (text/plain, urlencoded, multipart, no type) must not spend the
    // gateway's keys (issue 8).
    if (!isJsonContentType(req.header('content-type'))) {
      const msg = 'Content-Type must be application/json';
      return this.#reject(req, res, startedAt, 415, 'invalid_request_error', msg, null, c);
    }
    // Control headers must be unambiguous: the first and the last of two could decide differently.
    if (headerCount(req.headers, 'x-vmc-user-path') > 1 || headerCount(req.headers, 'x-vmc-metadata') > 1) {
      const msg = `header ${headerCount(req.headers, 'x-vmc-user-path') > 1 ? 'x-vmc-user-path' : 'x-vmc-metadata'} must appear at most once`;
      return this.#reject(req, res, startedAt, 400, 'invalid_request_error', msg, null, c);
    }
    // Under a key, x-vmc-user-path may only narrow the key's user path (SPEC §12). The value is
    // not echoed: it is the client's, and could hold anything.
    if (c !== null && !narrowUserPath(c, req.header('x-vmc-user-path'))) {
      const msg = `x-vmc-user-path is outside this API key's user path '${c.entry!.userPath}' (it may only narrow it)`;
      return this.#reject(req, res, startedAt, 403, 'permission_error', msg, null, c);
    }
    if (!scanJsonBody(body, scan)) {
      const msg =
        scan.status === SCAN_NOT_OBJECT
          ? 'request body must be a JSON object'
          : scan.status === SCAN_TOO_DEEP
            ? 'request body is nested too deeply'
            : `request body is not valid JSON (at byte ${scan.errorOffset})`;
      return this.#reject(req, res, startedAt, 400, 'invalid_request_error', msg, null, c);
    }
    if (scan.modelKind !== MODEL_STRING) {
      const msg =
        scan.modelKind === MODEL_ABSENT
          ? 'missing required parameter: model'
          : scan.modelKind === MODEL_DUPLICATE
            ? 'parameter model must appear once' // parsers disagree on which one counts
            : 'parameter model must be a string';
      return this.#reject(req, res, startedAt, 400, 'invalid_request_error', msg, 'model', c);
    }
    const vm = scan.modelEscaped
      ? table.lookupString(modelName(body, scan))
      : table.lookupWords(scan.words, scan.modelStart, scan.modelEnd);
    if (vm < 0) {
      return this.#reject(req, res, startedAt, 404, 'not_found_error', `model '${modelName(body, scan)}' does not exist`, 'model', c);
    }
    const vmr = gen.vm(vm);
    const r = resolution;
    if (resolveRequest(table, gen.router, vm, vmr, ep, req, Date.now(), ROUTER_DRAW, r, c) !== RESOLVE_OK) {
      return this.#rejectVm(
        req,
        res,
        startedAt,
        vmr,
        RESOLVE_HTTP_STATUS[r.status],
        RESOLVE_ERROR_TYPE[r.status],
        resolutionMessage(table, vm, ep, r, vmr.name),
        RESOLVE_PARAM[r.status],
        c,
      );
    }
    const plan = r.plan.slice(0, r.count); // survives the awaits of the attempts
    const ex = new Exchange(gen, ep, req, res, vm, vmr, scan.modelStart, scan.modelEnd, startedAt, plan, this);
    if (c !== null) {
      ex.key = c.entry;
      ex.userPath = c.userPath;
    }
    return ex;
  }

  /**
   * The attempt loop (SPEC §3.7). Leaves the outcome in `ex`. `resumed`: the first attempt on
   * plan[0] was admitted (`ex.firstEpoch`) and started by {@link #startFirst} (`ex.call`).
   */
  async #attempts(ex: Exchange, plan: Int32Array, resumed: boolean): Promise<void> {
    const { gen, res, endpoint } = ex;
    const table = gen.table;
    const health = gen.health;
    let kept: KeptResponse | null = null;
    let lastFailure = FAIL_NONE;
    let skippedCooldown = false;
    let skippedFormat = false;
    /** Why the last target could not be authenticated (a CredentialsError), or null. */
    let credentialsFailure: string | null = null;
    let previous: TargetRuntime | null = null;
    if (!resumed && res.finished) return this.#aborted(ex); // resumed: the attempt's admission is released below

    for (let i = 0; i < plan.length; i++) {
      const t = plan[i];
      const tr = gen.target(t);
      const started = resumed && i === 0; // its first try is under way already
      if (tr.paths[endpoint] === null) {
        skippedFormat = true;
        continue;
      }
      const lease = verdictMs(tr);
      let epoch = started ? ex.firstEpoch : health.admit(t, Date.now(), lease);
      if (epoch === ADMIT_SKIP) {
        tr.series.cooldownSkips++;
        skippedCooldown = true;
        if (ex.target === null) ex.target = tr;
        continue;
      }
      // The prebuilt request head on the lean client (issue 13: no header array, no separate
      // body buffer), when the target and the virtual model allow it; else the general path.
      const fast = this.#fastHeadFor(ex, tr);
      const headers = fast !== null ? EMPTY_HEADERS : this.#headersFor(ex, tr);
      const body = fast !== null ? EMPTY : headers === null ? null : this.#bodyFor(ex, tr);
      if (headers === null || body === null) {
        // a client fault (a header value that cannot be sent, content the target's format cannot
        // carry): answered before any attempt, never counted on the target
        health.release(t, epoch, Date.now());
        ex.target = tr;
        return this.#gatewayError(ex, 400, 'invalid_request_error', ex.refusal!, GATEWAY_PROVIDER);
      }
      // the client's own key judged by the upstream (no key of the provider's): not the target's health
      const clientKey = tr.usesClientCredentials(ex.req.headers);
      if (previous !== null) previous.series.fallbacks++;
      previous = tr;
      const tries = tr.retryAttempts;
      let delay = tr.retryDelayMs;
      for (let k = 1; k <= tries; k++) {
        if (k > 1) {
          if (health.inCooldown(t, Date.now())) break; // ejected meanwhile (maybe by our last failure): stop paying retries
          tr.series.retries++;
          if (delay > 0) await sleep(delay);
          if (res.finished) return this.#aborted(ex);
          epoch = health.admit(t, Date.now(), lease);
          if (epoch === ADMIT_SKIP) break;
        }
        let call: UpstreamCall;
        if (started && k === 1)
          call = ex.call!; // begun by #startFirst (no signer, the fast head)
        else {
          // Streams may go to another URL (Bedrock /converse-stream, Gemini ?alt=sse); only
          // translated targets have one, and their client body is parsed already.
          const path = fast !== null ? '' : this.#pathFor(ex, tr);
          let sent = headers;
          if (tr.signer !== null) {
            // signed per attempt: a SigV4 signature carries its time, an OAuth token expires
            try {
              sent = await tr.signer.sign({ method: 'POST', origin: tr.origin, path, headers, body });
            } catch (err) {
              if (!(err instanceof CredentialsError)) throw err;
              // A config fault (no credentials, a token endpoint that refuses them), not the
              // target's: released, not counted; the request moves on to the next target.
              health.release(t, epoch, Date.now());
              credentialsFailure = err.message;
              ex.target = tr;
              this.#logCredentials(tr, err.message);
              break;
            }
            if (res.finished) {
              health.release(t, epoch, Date.now());
              return this.#aborted(ex);
            }
          }
          credentialsFailure = null;
          ex.attempts++;
          ex.target = tr;
          call = new UpstreamCall();
          ex.call = call;
          if (fast !== null) call.startSpliced(tr.lean!, fast, ex.req.body, ex.modelStart, ex.modelEnd, tr.modelJsonBytes, tr);
          else
            call.start(tr.pool, {
              path,
              headers: sent,
              body,
              headersTimeoutMs: tr.headersTimeoutMs,
              bodyTimeoutMs: tr.bodyTimeoutMs,
              maxTtftMs: tr.maxTtftMs,
              firstByteTimeoutMs: tr.firstByteTimeoutMs,
              deadlineMs: tr.deadlineMs,
            });
        }
        await call.headers();

        if (call.failure === FAIL_NONE) {
          const status = call.status;
          const retryable = table.targetRetriesOn(t, status);
          const fallbackable = table.targetFallsBackOn(t, status);
          const failed = status >= 500 || retryable || fallbackable;
          if (status >= 400) {
            // Error answers are read whole, bounded in size and time, before deciding.
            const errBody = await call.readBody(EMPTY, MAX_KEPT_ERROR_BODY, errorBodyDeadline(tr, call));
            if (res.finished) {
              health.release(t, epoch, Date.now());
              return this.#aborted(ex);
            }
            if (errBody !== null) {
              if (clientKey && (status === 401 || status === 403 || status === 429)) health.release(t, epoch, Date.now());
              else this.#recordAnswered(gen, tr, t, epoch, call, failed);
              let retryHere = retryable && k < tries;
              delay = tr.retryDelayMs;
              if (retryHere && (status === 429 || status === 503)) {
                const after = retryAfterMs(call.rawHeaders, Date.now());
                if (after > MAX_RETRY_AFTER_MS)
                  retryHere = false; // asks for longer than we wait: no more tries here
                else if (after > delay) delay = after;
              }
              if (retryHere || (fallbackable && this.#hasNext(ex, plan, i))) {
                kept = new KeptResponse(tr, status, call.rawHeaders, errBody);
                if (retryHere) continue;
                break; // fall back
              }
              const relaying = this.#commit(ex, tr, call, errBody, epoch);
              if (relaying !== undefined) await relaying;
              return;
            }
            // the error body broke, timed out or was too large: a failed attempt, handled below
          } else {
            // Commit candidate: wait for the first body byte (SLA clock still running).
            let first = call.take();
            while (first === undefined) {
              await call.wait();
              first = call.take();
            }
            if (first !== null || call.failure === FAIL_NONE) {
              this.#recordAnswered(gen, tr, t, epoch, call, failed);
              const relaying = this.#commit(ex, tr, call, first ?? EMPTY, epoch);
              if (relaying !== undefined) await relaying;
              return;
            }
            // broke or missed the SLA before the first byte: a failed attempt, handled below
          }
        }

        const failure = call.failure;
        if (failure === FAIL_ABORTED || res.finished) {
          health.release(t, epoch, Date.now());
          return this.#aborted(ex);
        }
        if (failure === FAIL_REFUSED || failure === FAIL_LOCAL) {
          // not the target's fault: undici refused this request, or the gateway is closing its pools
          health.release(t, epoch, Date.now());
          ex.call = null;
          if (failure === FAIL_REFUSED) {
            const why = call.error?.message ?? 'refused';
            return this.#gatewayError(ex, 400, 'invalid_request_error', `the request cannot be sent upstream: ${why}`, GATEWAY_PROVIDER);
          }
          return this.#gatewayError(ex, 503, 'provider_error', 'the gateway is shutting down', GATEWAY_PROVIDER);
        }
        lastFailure = failure;
        this.#recordFailure(gen, tr, t, epoch);
        if (failure === FAIL_TIMEOUT) tr.series.timeouts++;
        else if (failure === FAIL_TTFT) tr.series.ttftMisses++;
        else tr.series.networkErrors++;
        if (failure === FAIL_TTFT) break; // SLA miss: the next target, not the same one again
        // A timeout after the whole request was sent: the provider may be doing (and billing)
        // the work. Same-target retries only where the policy asks for them: 504 in retry.on_status.
        if (failure === FAIL_TIMEOUT && call.requestSent && !table.targetRetriesOn(t, 504)) break;
        delay = tr.retryDelayMs;
      }
    }
    ex.call = null;
    if (res.finished) return this.#aborted(ex);

    // Nothing committed (SPEC §3.7, §9).
    if (kept !== null) {
      ex.target = kept.target;
      ex.status = kept.status;
      // the kept body is whole: answer with it as the provider sent it — in the client's
      // format when the target speaks another (SPEC §13: the §3 envelope, the provider's message)
      const xlate = kept.target.xlate[endpoint];
      const { headers } = responseHeaders(
        kept.rawHeaders,
        this.#extraHeaders(ex),
        ex.vmr.middleware.responseHeadersRemove,
        xlate !== XLATE_NONE,
      );
      let body = kept.body;
      if (xlate !== XLATE_NONE) {
        body = translateErrorBody(xlate, kept.status, body, kept.target.providerName);
        headers.push('content-type', 'application/json');
      }
      res.respond(kept.status, headers, body);
      return;
    }
    const provider = ex.target?.providerName ?? GATEWAY_PROVIDER;
    if (credentialsFailure !== null) {
      // the last target tried could not be authenticated (SPEC §13: a config fault, named)
      return this.#gatewayError(ex, 502, 'provider_error', credentialsFailure, provider);
    }
    if (ex.attempts === 0) {
      if (skippedCooldown) {
        return this.#gatewayError(
          ex,
          503,
          'provider_error',
          `every target of model '${ex.vmr.name}' is cooling down after repeated failures`,
          provider,
        );
      }
      if (skippedFormat) return this.#gatewayError(ex, 400, 'invalid_request_error', unservedMessage(ex, plan), GATEWAY_PROVIDER);
      return this.#gatewayError(ex, 503, 'provider_error', `model '${ex.vmr.name}' has no usable target`, provider);
    }
    if (lastFailure === FAIL_TIMEOUT || lastFailure === FAIL_TTFT) {
      return this.#gatewayError(
        ex,
        504,
        'provider_error',
        `upstream ${ex.target?.label ?? ''} timed out${lastFailure === FAIL_TTFT ? ' (sla.max_ttft_ms)' : ''}`,
        provider,
      );
    }
    return this.#gatewayError(ex, 502, 'provider_error', `upstream ${ex.target?.label ?? ''} failed: connection error`, provider);
  }

  /** Is there a later target in the plan that could still be tried? (fallback needs one) */
  #hasNext(ex: Exchange, plan: Int32Array, i: number): boolean {
    const now = Date.now();
    for (let j = i + 1; j < plan.length; j++) {
      const t = plan[j];
      if (ex.gen.health.inCooldown(t, now)) continue;
      if (ex.gen.target(t).paths[ex.endpoint] === null) continue;
      return true;
    }
    return false;
  }

  /** An attempt that answered, for the target's health: a failure when `failed` (its status), else a success. */
  #recordAnswered(gen: Generation, tr: TargetRuntime, t: number, epoch: number, call: UpstreamCall, failed: boolean): void {
    if (failed) this.#recordFailure(gen, tr, t, epoch);
    else this.#recordSuccess(gen, t, epoch, call);
  }

  /** A failed attempt admitted in `epoch`; logs and counts an ejection it caused. */
  #recordFailure(gen: Generation, tr: TargetRuntime, t: number, epoch: number): void {
    const h = gen.health;
    if (h.recordFailure(t, epoch, Date.now())) {
      tr.series.cooldowns++;
      this.#log.warn('target ejected (cooling down) after repeated failures', {
        target: tr.label,
        cooldown_ms: Math.max(0, Math.round(h.cooldownUntil[t] - Date.now())),
        ejections: h.ejections[t],
      });
    }
  }

  /** A successful attempt: closes a half-open probe, and feeds the latency EWMA. */
  #recordSuccess(gen: Generation, t: number, epoch: number, call: UpstreamCall): void {
    const now = Date.now();
    gen.health.recordSuccess(t, epoch, now);
    if (call.ttfbMs >= 0) gen.health.recordLatency(t, call.ttfbMs, now);
  }

  /** x-vmc-* response headers (SPEC §3.8, §9) plus response middleware headers. */
  #extraHeaders(ex: Exchange): HeaderValue[] {
    return vmcHeaders(ex.vmr, ex.target?.label ?? '', ex.attempts);
  }

  /** Relays the committed attempt (its TTFB observed); synchronous when the relay is (a whole body: no promise). */
  #commit(ex: Exchange, tr: TargetRuntime, call: UpstreamCall, first: Buffer, epoch: number): void | Promise<void> {
    tr.series.ttfb.observe(call.ttfbMs / 1000);
    ex.status = call.status;
    const xlate = tr.xlate[ex.endpoint];
    const clientJson = xlate === XLATE_NONE ? null : this.#clientJson(ex);
    // x-vmc-* headers: the relay only reads them, so a first attempt's are built once per target
    let extra: readonly HeaderValue[];
    if (ex.attempts === 1 && ex.target === tr) extra = tr.vmcHeaders1 ??= this.#extraHeaders(ex);
    else extra = this.#extraHeaders(ex);
    const outcome = relay(
      ex.res,
      call,
      first,
      new RelayContext(extra, ex.vmr.middleware.responseHeadersRemove, xlate, clientJson, tr.providerName, tr.model),
    );
    if (typeof outcome === 'number') return this.#relayed(ex, tr, call, epoch, outcome);
    return outcome.then((o) => this.#relayed(ex, tr, call, epoch, o));
  }

  #relayed(ex: Exchange, tr: TargetRuntime, call: UpstreamCall, epoch: number, outcome: number): void {
    ex.call = null;
    if (outcome === RELAY_CLIENT_ABORTED) {
      ex.status = STATUS_CLIENT_CLOSED;
    } else {
      ex.status = ex.res.status; // a gateway error may have replaced the upstream's status (relay.ts)
      if (outcome === RELAY_UPSTREAM_BROKE) {
        this.#recordFailure(ex.gen, tr, tr.id, epoch);
        tr.series.networkErrors++;
      } else if (outcome === RELAY_REFUSED) {
        // the gateway's own limit (a translated body too large): not the target's fault
      }
    }
    if (call.ended) tr.series.total.observe((performance.now() - call.startedAt) / 1000);
  }

  #aborted(ex: Exchange): void {
    ex.status = STATUS_CLIENT_CLOSED;
    ex.call = null;
  }

  #gatewayError(ex: Exchange, status: number, type: GatewayErrorType, message: string, provider: string): void {
    ex.status = status;
    const headers = this.#extraHeaders(ex);
    headers.push('content-type', 'application/json');
    ex.res.respond(status, headers, gatewayErrorBody(status, type, message, null, provider));
  }

  /** Finishes a resolved request: metrics, access log, post-response middleware. */
  #finish(ex: Exchange): void {
    const ms = performance.now() - ex.startedAt;
    (ex.target?.series ?? ex.vmr.series).countRequest(ex.status);
    if (this.#keys === null) logAccess(this.#log, ex.req, ex.status, ex.startedAt, ex.vmr.name, ex.target?.label ?? null, ex.attempts);
    else {
      ex.key?.series.count(ex.status);
      logKeyedAccess(this.#log, ex.req, ex.status, ex.startedAt, ex.key, ex.userPath, ex.vmr.name, ex.target?.label ?? null, ex.attempts);
    }
    const mw = ex.vmr.middleware;
    if (mw.logCalls.length > 0) {
      runPostResponse(
        mw,
        {
          virtual_model: ex.vmr.name,
          target: ex.target?.label ?? null,
          status: ex.status,
          attempts: ex.attempts,
          ms: Math.round(ms * 10) / 10,
          stream: this.#clientJson(ex).stream === true,
          path: ex.req.url,
        },
        this.#log,
      );
    }
  }

  /** 401 (caller keys on): no usable key. Counted by reason; logged with the id of a disabled or expired key. */
  #unauthenticated(req: HttpRequest, res: HttpResponse, startedAt: number, status: number, c: Caller): void {
    res.respond(401, UNAUTHORIZED_HEADERS, gatewayErrorBody(401, 'authentication_error', AUTH_MESSAGES[status]));
    this.#metrics.series('', '').countRequest(401);
    this.#keyMetrics?.countFailure(AUTH_REASONS[status]);
    logKeyedAccess(this.#log, req, 401, startedAt, c.entry, null);
  }

  /** 4xx before a virtual model was resolved; `c` is the authenticated caller (keys on). */
  #reject(
    req: HttpRequest,
    res: HttpResponse,
    startedAt: number,
    status: number,
    type: GatewayErrorType,
    message: string,
    param: string | null,
    c: Caller | null,
  ): void {
    res.respond(status, JSON_HEADERS, gatewayErrorBody(status, type, message, param));
    this.#metrics.series('', '').countRequest(status);
    if (c === null) return logAccess(this.#log, req, status, startedAt);
    c.entry!.series.count(status);
    logKeyedAccess(this.#log, req, status, startedAt, c.entry, c.userPath);
  }

  /** 4xx after resolution: carries the x-vmc-* headers. */
  #rejectVm(
    req: HttpRequest,
    res: HttpResponse,
    startedAt: number,
    vmr: VmRuntime,
    status: number,
    type: GatewayErrorType,
    message: string,
    param: string | null,
    c: Caller | null,
  ): void {
    const headers = vmcHeaders(vmr, '', 0, true);
    res.respond(status, headers, gatewayErrorBody(status, type, message, param));
    vmr.series.countRequest(status);
    if (c === null) return logAccess(this.#log, req, status, startedAt, vmr.name);
    c.entry!.series.count(status);
    logKeyedAccess(this.#log, req, status, startedAt, c.entry, c.userPath, vmr.name);
  }

  /** Logs a target's credentials problem once per distinct message (the request's answer names it too). */
  #logCredentials(tr: TargetRuntime, message: string): void {
    if (tr.lastCredentialsProblem === message) return;
    tr.lastCredentialsProblem = message;
    this.#log.warn('provider credentials unavailable; target skipped', { target: tr.label, problem: message });
  }

  /**
   * The upstream path of an attempt on `tr`: its stream path when the provider streams on
   * another URL and the client asked for a stream (`"stream": true`), else its path.
   */
  #pathFor(ex: Exchange, tr: TargetRuntime): string {
    const path = tr.paths[ex.endpoint]!;
    const streamPath = tr.streamPaths[ex.endpoint]!;
    return streamPath === path || this.#clientJson(ex).stream !== true ? path : streamPath;
  }

  #clientJson(ex: Exchange): Record<string, unknown> {
    if (ex.clientJson === null) ex.clientJson = JSON.parse(ex.req.body.toString('utf8')) as Record<string, unknown>;
    return ex.clientJson;
  }

  /**
   * The upstream body for target `tr` (cached across retries of the same target), or null
   * when the target's wire format cannot carry the request (`ex.refusal` says why: 400).
   * Fast path: the client's bytes with the model value spliced — no parse, no stringify.
   * Slow path (request middleware touching the body, override_params, or a wire-format
   * translation, wire/translate.ts): parse, transform, serialize.
   */
  #bodyFor(ex: Exchange, tr: TargetRuntime): Buffer | null {
    if (ex.bodyFor === tr.id && ex.body !== null) return ex.body;
    const src = ex.req.body;
    const mw = ex.vmr.middleware;
    const xlate = tr.xlate[ex.endpoint];
    let out: Buffer;
    if (mw.bodyOps.length === 0 && tr.overrides === null && xlate === XLATE_NONE) {
      const s = ex.modelStart;
      const e = ex.modelEnd;
      const m = tr.modelJsonBytes;
      out = Buffer.allocUnsafe(src.length - (e - s) + m.length);
      src.copy(out, 0, 0, s);
      m.copy(out, s);
      src.copy(out, s + m.length, e);
    } else {
      // a fresh parse per target: transformations must not leak between targets
      const obj = JSON.parse(src.toString('utf8')) as Record<string, unknown>;
      if (mw.bodyOps.length > 0) applyBodyOps(obj, mw.bodyOps);
      let upstream: Record<string, unknown>;
      try {
        // translation, override_params, and the model where the format has one (Bedrock and
        // Gemini name it in the path; Azure's v1 API takes the deployment)
        upstream = upstreamBody(xlate, obj, tr.bodyModel, tr.overrides);
      } catch (err) {
        if (!(err instanceof TranslationError)) throw err;
        ex.refusal = `${tr.label} cannot take this request: ${err.message}`;
        return null;
      }
      out = Buffer.from(JSON.stringify(upstream));
    }
    ex.bodyFor = tr.id;
    ex.body = out;
    return out;
  }

  /**
   * The prebuilt request head for `tr` (TargetRuntime.fastHead), or null for the general path:
   * a signer, undici, an endpoint the target does not serve, request middleware touching headers
   * or the body, override_params, a translated endpoint, or a forwarded value that cannot be sent
   * (the general path answers it).
   */
  #fastHeadFor(ex: Exchange, tr: TargetRuntime): string | null {
    if (tr.lean === null || tr.overrides !== null) return null;
    const mw = ex.vmr.middleware;
    if (mw.bodyOps.length > 0 || mw.requestHeadersSet.length > 0 || mw.requestHeadersRemove.length > 0) return null;
    return tr.fastHead(ex.endpoint, ex.req.headers, this.#peer(ex.req));
  }

  /**
   * The client's address for `x-forwarded-for`: with `--forwarded-for` and when the HTTP
   * engine exposes it (`remoteAddress`); null otherwise (then the header is not forwarded at
   * all). On uWS.js each read asks the kernel (`getpeername`) and formats the address: 2–4 µs
   * of CPU per request in bench/floor.mjs A/B runs, which is why it is not read when the
   * option is off.
   */
  #peer(req: HttpRequest): string | null {
    if (!this.#forwardedFor) return null;
    const a = (req as HttpRequest & { readonly remoteAddress?: unknown }).remoteAddress;
    return typeof a === 'string' && a !== '' ? a : null;
  }

  /**
   * The upstream headers for target `tr` (cached across retries of the same target), or null
   * when a value cannot be sent (undici refuses control bytes such as 0x7F): `ex.refusal` says
   * which — a client fault, answered 400 before any attempt.
   */
  #headersFor(ex: Exchange, tr: TargetRuntime): string[] | null {
    if (ex.headersFor === tr.id && ex.headers !== null) return ex.headers;
    const h = tr.buildHeaders(ex.req.headers, ex.vmr.middleware, this.#peer(ex.req));
    const bad = invalidHeaderValue(h);
    if (bad >= 0) {
      ex.refusal = `header ${h[bad]} has a value that cannot be forwarded (control characters)`;
      return null;
    }
    ex.headersFor = tr.id;
    ex.headers = h;
    return h;
  }
}

/**
 * x-vmc-* response headers (SPEC §3.8, §9), `content-type: application/json` when `json`,
 * then the virtual model's response middleware headers: a fresh array the caller may extend.
 */
function vmcHeaders(vmr: VmRuntime, target: string, attempts: number, json = false): HeaderValue[] {
  const out: HeaderValue[] = ['x-vmc-virtual-model', vmr.name, 'x-vmc-target', target, 'x-vmc-attempts', String(attempts)];
  if (json) out.push('content-type', 'application/json');
  const set = vmr.middleware.responseHeadersSet;
  for (let i = 0; i < set.length; i++) out.push(set[i]);
  return out;
}

/**
 * The 400 when no target of the plan can serve the endpoint (SPEC §13): each target with why
 * (its provider type, or its backend_format, does not offer the endpoint). Cold.
 */
function unservedMessage(ex: Exchange, plan: Int32Array): string {
  const reasons: [string, string][] = [];
  for (let i = 0; i < plan.length; i++) {
    const tr = ex.gen.target(plan[i]);
    if (tr.paths[ex.endpoint] === null) reasons.push([tr.label, unservedReason(tr.providerType, tr.backendFormat, ex.endpoint)]);
  }
  return noTargetServesMessage(ex.vmr.name, ex.endpoint, reasons);
}

/** Milliseconds an attempt on `tr` may take to a health verdict (the half-open probe's lease). */
function verdictMs(tr: TargetRuntime): number {
  return (tr.deadlineMs > 0 ? tr.deadlineMs : tr.firstByteTimeoutMs) + ERROR_BODY_TIMEOUT_MS;
}

/** Time left for an error body: ERROR_BODY_TIMEOUT_MS, within what remains of the attempt's deadline. */
function errorBodyDeadline(tr: TargetRuntime, call: UpstreamCall): number {
  if (tr.deadlineMs <= 0) return ERROR_BODY_TIMEOUT_MS;
  const left = tr.deadlineMs - (performance.now() - call.startedAt);
  return Math.max(1, Math.min(ERROR_BODY_TIMEOUT_MS, Math.ceil(left)));
}

const APPLICATION_JSON = 'application/json';

/**
 * Is this a JSON content type? `application/json` in any case, alone or followed by
 * parameters (`; charset=utf-8`). Allocation-free.
 */
export function isJsonContentType(v: string | null): boolean {
  const n = APPLICATION_JSON.length;
  if (v === null || v.length < n) return false;
  for (let i = 0; i < n; i++) {
    let c = v.charCodeAt(i);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== APPLICATION_JSON.charCodeAt(i)) return false;
  }
  if (v.length === n) return true;
  const c = v.charCodeAt(n);
  return c === 59 /* ; */ || c === 32 || c === 9;
}

/** How many times header `name` (lower-case) appears in a flat header list. */
function headerCount(flat: readonly string[], name: string): number {
  let n = 0;
  for (let i = 0; i < flat.length; i += 2) if (flat[i] === name) n++;
  return n;
}
