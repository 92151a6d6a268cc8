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
 * Incremental SSE parser. Feed it raw chunks; complete events come out. Handles `\n`,
 * `\r\n` and `\r` line ends, multi-line `data`, comments, and events split across chunks.
 */
export class SseParser {
  #buf = '';
  #event = '';
  #data: string[] = [];
  readonly #decoder = new TextDecoder();

  /** Parses a chunk; returns the events it completed. */
  push(chunk: Uint8Array): SseEvent[] {
    this.#buf += this.#decoder.decode(chunk, { stream: true });
    const out: SseEvent[] = [];
    let start = 0;
    const buf = this.#buf;
    for (let i = 0; i < buf.length; i++) {
      const c = buf.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      // a lone \r at the end of the buffer may be the first half of \r\n: wait for more
      if (c === 13 && i + 1 === buf.length) break;
      this.#line(buf.slice(start, i), out);
      if (c === 13 && buf.charCodeAt(i + 1) === 10) i++;
      start = i + 1;
    }
    this.#buf = buf.slice(start);
    return out;
  }

  /** Flushes a final event not terminated by a blank line. */
  end(): SseEvent[] {
    const out: SseEvent[] = [];
    if (this.#buf.length > 0) this.#line(this.#buf, out);
    this.#buf = '';
    this.#line('', out);
    return out;
  }

  #line(line: string, out: SseEvent[]): void {
    if (line === '') {
      if (this.#data.length > 0) out.push({ event: this.#event || 'message', data: this.#data.join('\n') });
      this.#event = '';
      this.#data = [];
      return;
    }
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
