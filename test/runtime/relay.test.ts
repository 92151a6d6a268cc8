/**
 * relay.ts on its own: SSE forwarding is event-aligned for any chunking of the upstream
 * bytes, and a break yields exactly the complete events followed by one error event.
 * The upstream side is a real UpstreamCall fed through its undici handler callbacks; the
 * client side records what the adapter would write.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { HeaderValue, HttpResponse } from '../../runtime/http/adapter.js';
import { RELAY_COMPLETE, RELAY_UPSTREAM_BROKE, RelayContext, relay } from '../../runtime/relay.js';
import { UpstreamCall } from '../../runtime/upstream.js';
import { SseParser } from '../../runtime/wire/sse.js';
import { XLATE_NONE } from '../../runtime/wire/translate.js';

class RecordingResponse implements HttpResponse {
  aborted = false;
  headersSent = false;
  finished = false;
  status = 0;
  headers: readonly HeaderValue[] = [];
  writes: Buffer[] = [];
  onAbort(): void {
    /* never aborts */
  }
  writeHead(status: number, headers: readonly HeaderValue[]): void {
    this.status = status;
    this.headers = headers;
  }
  async write(chunk: Uint8Array): Promise<void> {
    this.headersSent = true;
    this.writes.push(Buffer.from(chunk));
  }
  end(chunk?: Uint8Array): void {
    if (chunk !== undefined) this.writes.push(Buffer.from(chunk));
    this.finished = true;
  }
  respond(status: number, headers: readonly HeaderValue[], body: Uint8Array | string): void {
    this.writeHead(status, headers);
    this.end(typeof body === 'string' ? Buffer.from(body) : body);
  }
  close(): void {
    this.finished = true;
  }
  get body(): string {
    return Buffer.concat(this.writes).toString();
  }
}

const events = fc.array(
  fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !/[\r\n]/.test(s)),
  { minLength: 1, maxLength: 8 },
);

async function run(stream: Buffer, cuts: number[], breakAt: number | null): Promise<{ res: RecordingResponse; outcome: number }> {
  const call = new UpstreamCall();
  const res = new RecordingResponse();
  call.onHeaders(200, [Buffer.from('content-type'), Buffer.from('text/event-stream')], () => undefined);
  const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
  const end = breakAt ?? stream.length;
  const pieces: Buffer[] = [];
  let prev = 0;
  for (const p of [...points.filter((p) => p < end), end]) {
    if (p > prev) pieces.push(stream.subarray(prev, p));
    prev = p;
  }
  // feed the first piece, start relaying, then the rest asynchronously
  call.onData(pieces[0] ?? Buffer.alloc(0));
  const first = call.take() as Buffer;
  const done = relay(res, call, first, new RelayContext([], [], XLATE_NONE, null, 'p'));
  for (const piece of pieces.slice(1)) {
    await Promise.resolve();
    call.onData(piece);
  }
  if (breakAt === null) call.onComplete();
  else call.onError(Object.assign(new Error('socket closed'), { code: 'UND_ERR_SOCKET' }));
  return { res, outcome: await done };
}

describe('relay: SSE', () => {
  it('unbroken streams arrive byte-identical whatever the chunking', async () => {
    await fc.assert(
      fc.asyncProperty(events, fc.array(fc.nat(), { maxLength: 10 }), async (evs, cuts) => {
        const stream = Buffer.from(evs.map((e) => `data: ${e}\n\n`).join(''));
        const { res, outcome } = await run(stream, cuts, null);
        expect(outcome).toBe(RELAY_COMPLETE);
        expect(res.body).toBe(stream.toString());
      }),
      { numRuns: 300 },
    );
  });

  it('a break forwards exactly the complete events, then one error event', async () => {
    await fc.assert(
      fc.asyncProperty(events, fc.array(fc.nat(), { maxLength: 10 }), fc.nat(), fc.boolean(), async (evs, cuts, at, crlf) => {
        const nl = crlf ? '\r\n' : '\n';
        const stream = Buffer.from(evs.map((e) => `data: ${e}${nl}${nl}`).join(''));
        const breakAt = 1 + (at % stream.length); // at least one byte arrived
        const { res, outcome } = await run(stream, cuts, breakAt);
        const got = new SseParser().push(Buffer.from(res.body));
        const complete = new SseParser().push(stream.subarray(0, breakAt));
        if (breakAt === stream.length) {
          expect(outcome).toBe(RELAY_UPSTREAM_BROKE); // the body had not ended cleanly
        }
        expect(got.slice(0, -1)).toEqual(complete);
        expect(got.at(-1)!.event).toBe('error');
        expect(JSON.parse(got.at(-1)!.data).error.type).toBe('provider_error');
      }),
      { numRuns: 300 },
    );
  });
});
