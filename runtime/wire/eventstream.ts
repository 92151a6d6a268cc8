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

/**
 * Incremental event-stream decoder. Throws on a corrupt frame (bad length or CRC).
 *
 * Linear in the bytes fed: chunks are kept as a list until the message at the head is
 * complete, then joined once (a 16 MiB message arriving in 64 KiB chunks used to be re-copied
 * on every chunk: quadratic).
 */
export class EventStreamDecoder {
  #parts: Uint8Array[] = [];
  #size = 0;
  /** Total length of the message at the head once its prelude arrived; -1 before. */
  #need = -1;

  /**
   * Feeds bytes; appends the messages they complete to `out` and returns it. A corrupt frame
   * throws, but only after the messages before it (even those in the same chunk) are in `out`:
   * pass your own array to keep them.
   */
  push(chunk: Uint8Array, out: EventStreamMessage[] = []): EventStreamMessage[] {
    if (chunk.length > 0) {
      this.#parts.push(chunk);
      this.#size += chunk.length;
    }
    for (;;) {
      if (this.#need < 0) {
        if (this.#size < 4) break;
        this.#need = checkedLength(this.#head4(), 0);
      }
      if (this.#size < this.#need) break;
      const buf = this.#parts.length === 1 ? this.#parts[0] : join(this.#parts, this.#size);
      let at = 0;
      while (buf.length - at >= 4) {
        const len = checkedLength(buf, at);
        if (buf.length - at < len) break;
        const m = codec().decode(buf.subarray(at, at + len));
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(m.headers)) headers[k] = String(v.value);
        out.push({ headers, body: m.body });
        at += len;
      }
      const rest = buf.subarray(at);
      this.#parts = rest.length === 0 ? [] : [rest];
      this.#size = rest.length;
      this.#need = -1;
    }
    return out;
  }

  /** Bytes of an incomplete message left at the end (a stream cut mid-message). */
  get pending(): number {
    return this.#size;
  }

  /** The first 4 bytes held (the size is ≥ 4), across parts. */
  #head4(): Uint8Array {
    const first = this.#parts[0];
    if (first.length >= 4) return first;
    const b = new Uint8Array(4);
    let n = 0;
    for (const p of this.#parts) {
      for (let i = 0; i < p.length && n < 4; i++) b[n++] = p[i];
      if (n === 4) break;
    }
    return b;
  }
}

/** The message length at `at` (big-endian u32), checked against the format's bounds. */
function checkedLength(buf: Uint8Array, at: number): number {
  const len = new DataView(buf.buffer, buf.byteOffset + at, 4).getUint32(0, false);
  if (len < 16 || len > MAX_MESSAGE_BYTES) throw new Error(`event stream: invalid message length ${len}`);
  return len;
}

function join(parts: readonly Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Encodes one message (the simulators and tests write streams with it). */
export function encodeEventStreamMessage(headers: Record<string, string>, body: Uint8Array): Uint8Array {
  const h: Record<string, { type: 'string'; value: string }> = {};
  for (const [k, v] of Object.entries(headers)) h[k] = { type: 'string', value: v };
  return codec().encode({ headers: h, body });
}
