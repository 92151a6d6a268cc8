/**
 * AWS event-stream framing (`application/vnd.amazon.eventstream`), as Bedrock's
 * ConverseStream answers: each message is
 *
 *   total length u32 BE · headers length u32 BE · prelude CRC32 · headers · payload · message CRC32
 *
 * Messages are cut out of the byte stream here (they may span chunks, and a chunk may hold
 * several) and decoded — CRCs checked, headers parsed — by AWS's own codec
 * (`@smithy/eventstream-codec`, loaded on first use).
 */
import { createRequire } from 'node:module';
import type { EventStreamCodec } from '@smithy/eventstream-codec';

/** Content type of an AWS event stream. */
export const EVENT_STREAM_CONTENT_TYPE = 'application/vnd.amazon.eventstream';

/** Is this response content type an AWS event stream? */
export function isAwsEventStream(contentType: string): boolean {
  return contentType.toLowerCase().startsWith(EVENT_STREAM_CONTENT_TYPE);
}

/** One decoded message: string headers (others as their string form) and the payload. */
export interface EventStreamMessage {
  headers: Record<string, string>;
  body: Uint8Array;
}

/** The largest message accepted (Bedrock's are small; a bigger prelude means a corrupt stream). */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

const utf8Decoder = new TextDecoder();
const utf8Encoder = new TextEncoder();
let codecInstance: EventStreamCodec | null = null;

/**
 * AWS's codec, loaded on first use (synchronously, through `require`): a gateway without
 * Bedrock targets, and every CLI command that only reads provider modules, never pays for it.
 */
function codec(): EventStreamCodec {
  if (codecInstance === null) {
    const { EventStreamCodec: Codec } = createRequire(import.meta.url)(
      '@smithy/eventstream-codec',
    ) as typeof import('@smithy/eventstream-codec');
    codecInstance = new Codec(
      (b: Uint8Array) => utf8Decoder.decode(b),
      (s: string) => utf8Encoder.encode(s),
    );
  }
  return codecInstance;
}

/** Incremental event-stream decoder. Throws on a corrupt frame (bad length or CRC). */
export class EventStreamDecoder {
  #buf: Uint8Array = new Uint8Array(0);

  /** Feeds bytes; returns the messages they complete. */
  push(chunk: Uint8Array): EventStreamMessage[] {
    if (this.#buf.length === 0) this.#buf = chunk;
    else {
      const joined = new Uint8Array(this.#buf.length + chunk.length);
      joined.set(this.#buf);
      joined.set(chunk, this.#buf.length);
      this.#buf = joined;
    }
    const out: EventStreamMessage[] = [];
    let at = 0;
    const buf = this.#buf;
    while (buf.length - at >= 4) {
      const len = new DataView(buf.buffer, buf.byteOffset + at, 4).getUint32(0, false);
      if (len < 16 || len > MAX_MESSAGE_BYTES) throw new Error(`event stream: invalid message length ${len}`);
      if (buf.length - at < len) break;
      const m = codec().decode(buf.subarray(at, at + len));
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(m.headers)) headers[k] = String(v.value);
      out.push({ headers, body: m.body });
      at += len;
    }
    this.#buf = at === 0 ? buf : buf.slice(at);
    return out;
  }

  /** Bytes of an incomplete message left at the end (a stream cut mid-message). */
  get pending(): number {
    return this.#buf.length;
  }
}

/** Encodes one message (the simulators and tests write streams with it). */
export function encodeEventStreamMessage(headers: Record<string, string>, body: Uint8Array): Uint8Array {
  const h: Record<string, { type: 'string'; value: string }> = {};
  for (const [k, v] of Object.entries(headers)) h[k] = { type: 'string', value: v };
  return codec().encode({ headers: h, body });
}
