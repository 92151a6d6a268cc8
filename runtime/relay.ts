/**
 * Relaying a committed upstream response to the client (SPEC §3.9).
 *
 * The engine commits to an attempt once its first body byte has arrived (no fallback is
 * possible after that, SPEC §3.7). From there:
 *
 * - a body that is already complete goes out in one corked `respond` with a Content-Length
 *   (the common case for JSON answers: one syscall, no chunked encoding);
 * - otherwise chunks are written as they come, and the next chunk is pulled from undici only
 *   after the client drained the previous one (backpressure end to end);
 * - SSE is forwarded event-aligned: bytes after the last complete event are held back until
 *   the event completes, so a stream that breaks mid-event ends with a clean
 *   `event: error` (sse.ts) instead of half an event; a non-SSE body that breaks mid-way
 *   cannot be repaired and the connection is closed, so the client sees a truncated body
 *   rather than a silently "complete" one;
 * - when the target speaks another wire format, bodies, errors and streams are translated
 *   (wire/translate.ts): SSE from OpenAI, Anthropic and Gemini, AWS event streams from Bedrock.
 *   A translated stream is cut off — the upstream aborted, not read on — when an SSE event
 *   passes its bound (the client gets the gateway's error event) or when the translator cannot
 *   read the stream (a corrupt event-stream frame: the client gets the translator's error
 *   event in its own format, then the end).
 */
import { gatewayErrorBody } from './errors.js';
import { headerIndex, type HeaderValue, type HttpResponse } from './http/adapter.js';
import {
  FAIL_ABORTED,
  FAIL_NETWORK,
  FAIL_NONE,
  FAIL_TIMEOUT,
  FAIL_TOO_LARGE,
  FAIL_TTFT,
  isDroppedResponseHeader,
  type UpstreamCall,
} from './upstream.js';
import { MAX_SSE_EVENT_BYTES, SSE_CONTENT_TYPE, SseEventTooLargeError, isEventStream, lastEventEnd, sseErrorEvent } from './wire/sse.js';
import { XLATE_NONE, isTranslatedStream, streamTranslator, translateErrorBody, translateResponseBody } from './wire/translate.js';
import { keepShape, Shape } from './shapes.js';

/**
 * Largest upstream body the gateway buffers for translation (64 MiB). A larger one is
 * answered `502 provider_error` saying so — never cut and sent as a complete 200 (issue 8).
 */
export const MAX_TRANSLATED_BODY = 64 * 1024 * 1024;

/** How a relay ended. */
export const RELAY_COMPLETE = 0;
/** The upstream broke after bytes reached the client (SSE error event sent, or connection closed). */
export const RELAY_UPSTREAM_BROKE = 1;
/** The client went away. */
export const RELAY_CLIENT_ABORTED = 2;
/** The gateway refused to relay the answer (a translated body over its limit): 502 sent; not the target's fault. */
export const RELAY_REFUSED = 3;

const CT_JSON = 'application/json';

/**
 * Client response headers from the upstream's (UpstreamCall.rawHeaders: names lower-cased,
 * latin1 values): hop-by-hop and framing headers dropped; then `extra` appended (x-vmc-* and
 * response middleware), and names in `remove` left out.
 * Returns the headers and the upstream content type ('' if none).
 */
export function responseHeaders(
  raw: readonly string[] | null,
  extra: readonly HeaderValue[],
  remove: readonly string[],
  dropContentType: boolean,
): { headers: HeaderValue[]; contentType: string } {
  const out: HeaderValue[] = [];
  let contentType = '';
  if (raw !== null) {
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = raw[i];
      if (isDroppedResponseHeader(name)) continue;
      if (name === 'content-type') {
        contentType = raw[i + 1];
        if (dropContentType) continue;
      }
      if (name.startsWith('x-vmc-')) continue; // ours win; an upstream vmc must not masquerade
      if (remove.length > 0 && remove.includes(name)) continue;
      if (headerIndex(extra, name) >= 0) continue;
      out.push(name, raw[i + 1]);
    }
  }
  for (let i = 0; i < extra.length; i++) out.push(extra[i]);
  return { headers: out, contentType };
}

/** Drains what `call` has buffered; returns the whole body, or null if more is still to come. */
function takeBuffered(call: UpstreamCall, first: Buffer): Buffer | null {
  if (!call.ended) return null;
  let parts: Buffer[] | null = null;
  for (;;) {
    const c = call.take();
    if (c === null || c === undefined) break;
    if (parts === null) parts = first.length > 0 ? [first] : [];
    parts.push(c);
  }
  return parts === null ? first : parts.length === 1 ? parts[0] : Buffer.concat(parts);
}

/** How a committed answer is relayed: what the engine decided for this request and target. */
export class RelayContext {
  constructor(
    /** x-vmc-* and response-middleware headers, appended to the upstream's. */
    readonly extraHeaders: readonly HeaderValue[],
    /** Response header names to leave out (response middleware). */
    readonly removeHeaders: readonly string[],
    /** XLATE_* mode: the wire-format translation of the answer, if any. */
    readonly xlate: number,
    /** The client's parsed request (stream translation needs it), or null. */
    readonly clientBody: Record<string, unknown> | null,
    /** Provider name, for error envelopes. */
    readonly provider: string,
    /** The target's upstream model (formats whose answers name none: Bedrock, Gemini). */
    readonly model: string = '',
    /** Largest SSE event held while waiting for its end (tests lower it). */
    readonly maxEventBytes: number = MAX_SSE_EVENT_BYTES,
    /** Largest body buffered for translation (tests lower it). */
    readonly maxTranslatedBody: number = MAX_TRANSLATED_BODY,
  ) {
    keepShape(Shape.RelayContext, this);
  }
}

/**
 * Relays a committed attempt whose first chunk (`first`, possibly empty for an empty body)
 * has been taken from `call`. Returns a RELAY_* code once the response is finished: at once
 * (no promise) when the whole body is here already — the common answer to a JSON request,
 * sent in one corked `respond` — else a promise of it.
 */
export function relay(res: HttpResponse, call: UpstreamCall, first: Buffer, ctx: RelayContext): number | Promise<number> {
  if (ctx.xlate !== XLATE_NONE) return relayTranslated(res, call, first, ctx);
  const status = call.status;
  const { headers, contentType } = responseHeaders(call.rawHeaders, ctx.extraHeaders, ctx.removeHeaders, false);
  const whole = takeBuffered(call, first);
  if (whole !== null) {
    res.respond(status, headers, whole);
    return RELAY_COMPLETE;
  }
  res.writeHead(status, headers);
  return isEventStream(contentType) ? pumpSse(res, call, first, ctx.provider, ctx.maxEventBytes) : pumpRaw(res, call, first);
}

/** Streams a non-SSE body chunk by chunk with backpressure. */
async function pumpRaw(res: HttpResponse, call: UpstreamCall, first: Buffer): Promise<number> {
  if (first.length > 0) await res.write(first);
  for (;;) {
    if (res.finished) return RELAY_CLIENT_ABORTED;
    const c = call.take();
    if (c === undefined) {
      await call.wait();
      continue;
    }
    if (c === null) break;
    await res.write(c);
  }
  if (res.finished) return RELAY_CLIENT_ABORTED;
  if (call.failure !== FAIL_NONE) {
    res.close();
    return RELAY_UPSTREAM_BROKE;
  }
  res.end();
  return RELAY_COMPLETE;
}

/**
 * Streams SSE event-aligned; a break ends with `event: error`. Bytes after the last complete
 * event wait in `held` (a list, so a long unterminated event costs O(n), not O(n²)); past
 * `maxEventBytes` the upstream is cut off and the client gets the error event (the held
 * bytes are never sent: half an event is not an event).
 */
async function pumpSse(res: HttpResponse, call: UpstreamCall, first: Buffer, provider: string, maxEventBytes: number): Promise<number> {
  const held: Buffer[] = [];
  let heldBytes = 0;
  let chunk: Buffer | null | undefined = first;
  for (;;) {
    if (res.finished) return RELAY_CLIENT_ABORTED;
    if (chunk === undefined) {
      await call.wait();
      chunk = call.take();
      continue;
    }
    if (chunk === null) break;
    const e = eventEndIn(held, chunk);
    if (e <= 0) {
      if (chunk.length > 0) {
        held.push(chunk);
        heldBytes += chunk.length;
      }
    } else {
      let out: Buffer;
      if (held.length === 0) out = e === chunk.length ? chunk : chunk.subarray(0, e);
      else {
        held.push(chunk.subarray(0, e));
        out = Buffer.concat(held);
        held.length = 0;
      }
      heldBytes = 0;
      if (e < chunk.length) {
        held.push(chunk.subarray(e));
        heldBytes = chunk.length - e;
      }
      await res.write(out);
    }
    if (heldBytes > maxEventBytes) {
      call.fail(FAIL_TOO_LARGE, new SseEventTooLargeError(maxEventBytes));
      held.length = 0;
      break;
    }
    chunk = call.take();
  }
  // a final event without the trailing blank line: pass it on as the provider sent it
  return endSse(res, call, provider, () => (held.length === 0 ? undefined : held.length === 1 ? held[0] : Buffer.concat(held)));
}

/**
 * End offset in `chunk` of the last complete event, counting a terminator that starts in
 * the held bytes before it (`\n` | `\n`, `\r\n\r` | `\n`, …); 0 when none ends in `chunk`.
 */
function eventEndIn(held: readonly Buffer[], chunk: Buffer): number {
  if (held.length === 0) return lastEventEnd(chunk);
  // up to 3 bytes from the end of the held parts, then the chunk
  const tail: number[] = [];
  for (let i = held.length - 1; i >= 0 && tail.length < 3; i--) {
    const b = held[i];
    for (let j = b.length - 1; j >= 0 && tail.length < 3; j--) tail.unshift(b[j]);
  }
  const probe = Buffer.concat([Buffer.from(tail), chunk.subarray(0, Math.min(chunk.length, 4))]);
  const inChunk = lastEventEnd(chunk);
  if (inChunk > 0) return inChunk;
  const boundary = lastEventEnd(probe) - tail.length;
  return boundary > 0 ? boundary : 0;
}

/**
 * Ends a relayed SSE stream once the upstream is done: with the gateway's `event: error` when
 * the upstream broke after the response started (SPEC §3.9), else with `tail()`.
 */
function endSse(res: HttpResponse, call: UpstreamCall, provider: string, tail: () => Buffer | undefined): number {
  if (res.finished) return RELAY_CLIENT_ABORTED;
  if (call.failure !== FAIL_NONE && call.failure !== FAIL_ABORTED) {
    res.end(streamBrokeEvent(call, provider));
    return RELAY_UPSTREAM_BROKE;
  }
  res.end(tail());
  return RELAY_COMPLETE;
}

function streamBrokeEvent(call: UpstreamCall, provider: string): Buffer {
  const timeout = call.failure === FAIL_TIMEOUT || call.failure === FAIL_TTFT;
  const why = call.error?.message ?? 'connection lost';
  const what = timeout ? 'timed out' : call.failure === FAIL_TOO_LARGE ? 'was cut off' : 'broke';
  return sseErrorEvent(
    timeout ? 504 : 502,
    'provider_error',
    `upstream stream from ${provider} ${what} after the response started: ${why}`,
    provider,
  );
}

async function relayTranslated(res: HttpResponse, call: UpstreamCall, first: Buffer, ctx: RelayContext): Promise<number> {
  const { xlate, provider } = ctx;
  const status = call.status;
  const { headers, contentType } = responseHeaders(call.rawHeaders, ctx.extraHeaders, ctx.removeHeaders, true);
  const tctx = { provider, model: ctx.model };
  if (status >= 400 || !isTranslatedStream(xlate, contentType)) {
    // whole-body translation: error envelopes and JSON answers. Nothing was sent yet, so a
    // body that breaks, times out or passes the limit is answered with a gateway error.
    const body = await call.readBody(first, ctx.maxTranslatedBody, 0);
    if (res.finished) return RELAY_CLIENT_ABORTED;
    if (body === null) {
      const tooLarge = call.failure === FAIL_TOO_LARGE;
      const timeout = call.failure === FAIL_TIMEOUT || call.failure === FAIL_TTFT;
      const code = timeout ? 504 : 502;
      const message = tooLarge
        ? `upstream ${provider} answered more than ${ctx.maxTranslatedBody} bytes; the gateway cannot translate it`
        : `upstream ${provider} ${timeout ? 'timed out' : 'broke'} before its answer was complete: ${call.error?.message ?? 'connection lost'}`;
      const extra = ctx.extraHeaders.slice();
      extra.push('content-type', CT_JSON);
      res.respond(code, extra, gatewayErrorBody(code, 'provider_error', message, null, provider));
      return tooLarge ? RELAY_REFUSED : RELAY_UPSTREAM_BROKE;
    }
    const out = status >= 400 ? translateErrorBody(xlate, status, body, provider) : translateResponseBody(xlate, body, tctx);
    headers.push('content-type', out === null ? contentType || CT_JSON : CT_JSON);
    res.respond(status, headers, out ?? body);
    return RELAY_COMPLETE;
  }
  const tr = streamTranslator(xlate, ctx.clientBody, tctx);
  headers.push('content-type', SSE_CONTENT_TYPE, 'cache-control', 'no-cache');
  res.writeHead(status, headers);
  let chunk: Buffer | null | undefined = first;
  for (;;) {
    if (res.finished) return RELAY_CLIENT_ABORTED;
    if (chunk === undefined) {
      await call.wait();
      chunk = call.take();
      continue;
    }
    if (chunk === null) break;
    let out: string;
    try {
      out = tr.push(chunk);
    } catch (err) {
      if (!(err instanceof SseEventTooLargeError)) throw err;
      call.fail(FAIL_TOO_LARGE, err); // an unterminated event past the limit: cut off, error event
      break;
    }
    if (tr.broken) {
      // The translator could not read the stream (a corrupt frame, an event-stream message past
      // its bound) and `out` is its error event in the client's format: stop reading the
      // upstream — nothing more can be translated — and end the response after that event.
      call.fail(FAIL_NETWORK, new Error('upstream stream unreadable')); // a malformed response
      if (res.finished) return RELAY_CLIENT_ABORTED;
      res.end(Buffer.from(out));
      return RELAY_UPSTREAM_BROKE;
    }
    if (out.length > 0) await res.write(Buffer.from(out));
    chunk = call.take();
  }
  return endSse(res, call, provider, () => Buffer.from(tr.end()));
}
