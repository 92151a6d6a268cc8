/**
 * Server-sent events: an incremental parser (for translating upstream streams) and the
 * gateway's own `error` event (SPEC §3.9: a stream that breaks after bytes were sent ends
 * with an explicit SSE error event, never a silent cut).
 */
import type { GatewayErrorType } from '../errors.js';
import { gatewayError } from '../errors.js';

/** Content type of an SSE stream. */
export const SSE_CONTENT_TYPE = 'text/event-stream';

/** Is this response content type an SSE stream? (parameters such as `; charset=utf-8` allowed) */
export function isEventStream(contentType: string): boolean {
  return contentType.length >= 17 && contentType.slice(0, 17).toLowerCase() === SSE_CONTENT_TYPE;
}

/** One parsed event: `event` defaults to `message` as in the EventSource spec. */
export interface SseEvent {
  event: string;
  data: string;
}

/**
 * Largest SSE event the gateway holds while waiting for its end (bytes of its lines; for the
 * translating parser, UTF-16 code units). Real events are small deltas; the largest are
 * final events carrying a whole response (OpenAI's `response.completed`) or a base64 image,
 * a few MiB at most. An upstream that sends more without ending the event is cut off with
 * an explicit SSE error event (relay.ts), instead of being buffered without bound (issue 8:
 * a 200 MB unterminated line cost 666 MB of RSS).
 */
export const MAX_SSE_EVENT_BYTES = 8 * 1024 * 1024;

/** Thrown by {@link SseParser.push} when an event grows past its limit. */
export class SseEventTooLargeError extends Error {
  readonly code = 'VMC_SSE_EVENT_TOO_LARGE';
  constructor(limit: number) {
    super(`an upstream SSE event exceeds ${limit} bytes without ending`);
  }
}

/**
 * Incremental SSE parser. Feed it raw chunks; complete events come out. Handles `\n`,
 * `\r\n` and `\r` line ends, multi-line `data`, comments, and events split across chunks.
 *
 * Linear time: each chunk is scanned once; the unterminated tail of a line is kept as a list
 * of pieces and joined once when its line ends (issue 8: rescanning a growing buffer on every
 * chunk took 17.5 s for a 16 MB line and blocked the event loop). An event whose lines grow
 * past `maxEventBytes` before the blank line that ends it throws {@link SseEventTooLargeError}.
 */
export class SseParser {
  /** Pieces of the current line not yet terminated. */
  #pending: string[] = [];
  #pendingLength = 0;
  /** Length of the current event's terminated lines (comments included). */
  #eventLength = 0;
  /**
   * The previous chunk ended in `\r`: the line before it is complete, but it is handled only
   * with the next chunk (or `end()`), whose leading `\n` belongs to the same line end — so an
   * event counts as complete at the same byte as relay.ts's `lastEventEnd` says.
   */
  #crPending = false;
  #event = '';
  #data: string[] = [];
  readonly #decoder = new TextDecoder();
  readonly #max: number;

  constructor(maxEventBytes = MAX_SSE_EVENT_BYTES) {
    this.#max = maxEventBytes;
  }

  /** Parses a chunk; returns the events it completed. */
  push(chunk: Uint8Array): SseEvent[] {
    const text = this.#decoder.decode(chunk, { stream: true });
    const out: SseEvent[] = [];
    let start = 0;
    if (this.#crPending && text.length > 0) {
      this.#crPending = false;
      this.#line(this.#joined('', 0, 0), out);
      if (text.charCodeAt(0) === 10) start = 1;
    }
    for (let i = start; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      if (c === 13 && i + 1 === text.length) {
        // maybe the first half of \r\n: keep the line, handle it with the next chunk
        if (i > start) this.#hold(text, start, i);
        this.#crPending = true;
        start = text.length;
        break;
      }
      this.#line(this.#joined(text, start, i), out);
      if (c === 13 && text.charCodeAt(i + 1) === 10) i++;
      start = i + 1;
    }
    if (start < text.length) this.#hold(text, start, text.length);
    if (this.#eventLength + this.#pendingLength > this.#max) throw new SseEventTooLargeError(this.#max);
    return out;
  }

  /** Flushes a final event not terminated by a blank line. */
  end(): SseEvent[] {
    const out: SseEvent[] = [];
    if (this.#pendingLength > 0 || this.#crPending) this.#line(this.#joined('', 0, 0), out);
    this.#crPending = false;
    this.#line('', out);
    return out;
  }

  /** Keeps text[start, end) as a piece of the current, unterminated line. */
  #hold(text: string, start: number, end: number): void {
    this.#pending.push(start === 0 && end === text.length ? text : text.slice(start, end));
    this.#pendingLength += end - start;
  }

  /** The pending pieces followed by text[start, end), as one line; clears the pieces. */
  #joined(text: string, start: number, end: number): string {
    const tail = text.slice(start, end);
    if (this.#pending.length === 0) return tail;
    this.#pending.push(tail);
    const line = this.#pending.length === 2 ? this.#pending[0] + tail : this.#pending.join('');
    this.#pending.length = 0;
    this.#pendingLength = 0;
    return line;
  }

  #line(line: string, out: SseEvent[]): void {
    if (line === '') {
      if (this.#data.length > 0) out.push({ event: this.#event || 'message', data: this.#data.join('\n') });
      this.#event = '';
      this.#data = [];
      this.#eventLength = 0;
      return;
    }
    this.#eventLength += line.length + 1;
    if (line.charCodeAt(0) === 58 /* : comment */) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === 'event') this.#event = value;
    else if (field === 'data') this.#data.push(value);
  }
}

/**
 * End offset (exclusive) of the last complete event in `buf[0, end)`: just after the last
 * blank line (`\n\n` or `\r\n\r\n`), or 0 when no event is complete yet. Passthrough
 * streams forward only complete events, so that a break never leaves the client with half
 * an event glued to our error event.
 */
export function lastEventEnd(buf: Buffer): number {
  const a = buf.lastIndexOf('\n\n');
  const b = buf.lastIndexOf('\r\n\r\n');
  const endA = a < 0 ? 0 : a + 2;
  const endB = b < 0 ? 0 : b + 4;
  return endA > endB ? endA : endB;
}

/** Formats one SSE event (`event:` line omitted when null). */
export function formatSse(event: string | null, data: string): string {
  return event === null ? `data: ${data}\n\n` : `event: ${event}\ndata: ${data}\n\n`;
}

/**
 * The terminal `event: error` sent when an upstream stream breaks after bytes reached the
 * client. The data is the gateway error envelope (SPEC §3), which the OpenAI SDK surfaces
 * as an APIError.
 */
export function sseErrorEvent(status: number, type: GatewayErrorType, message: string, provider: string): Buffer {
  return Buffer.from(formatSse('error', JSON.stringify(gatewayError(status, type, message, null, provider))));
}
