#!/usr/bin/env node
/**
 * A minimal, fast mock LLM upstream for the proxy benchmark, on uWebSockets.js (the native
 * binary, loaded by the runtime's own loader in runtime/http/uws.ts so the two never
 * disagree on which build runs). It does the least an OpenAI-compatible upstream can:
 *
 *   POST …/chat/completions   reads the whole body; `"stream":true` in it → an SSE stream of
 *                             STREAM_EVENTS chunk events + `data: [DONE]`, else a fixed
 *                             chat.completion JSON;
 *   GET  /health              200 "ok".
 *
 * Responses are pre-encoded once; per request the mock only scans the body for the stream
 * flag. Usage: `node bench/lib/mock-upstream.mjs [--port 0]` prints `{"port":N}` once listening.
 *
 * (bench/sim/simulated-provider.ts is the programmable simulated provider of the tests; it runs on node:http
 * and records every request, which is exactly what a throughput baseline must not do.)
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadUws } from '../../dist/runtime/http/uws.js';

const STREAM_EVENTS = 8;

const completion = Buffer.from(
  JSON.stringify({
    id: 'chatcmpl-bench',
    object: 'chat.completion',
    created: 1_700_000_000,
    model: 'gpt-bench',
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: 'The incident started at 09:14 UTC when the payment service returned 503s; it was mitigated by 09:31.',
        },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage: { prompt_tokens: 512, completion_tokens: 32, total_tokens: 544 },
    system_fingerprint: 'fp_bench',
  }),
);

const words = ['The ', 'incident ', 'started ', 'at ', '09:14 ', 'UTC ', 'and ', 'ended.'];
let sse = '';
for (let i = 0; i < STREAM_EVENTS; i++) {
  const chunk = {
    id: 'chatcmpl-bench',
    object: 'chat.completion.chunk',
    created: 1_700_000_000,
    model: 'gpt-bench',
    choices: [
      {
        index: 0,
        delta: i === 0 ? { role: 'assistant', content: words[i % words.length] } : { content: words[i % words.length] },
        finish_reason: i === STREAM_EVENTS - 1 ? 'stop' : null,
      },
    ],
  };
  sse += `data: ${JSON.stringify(chunk)}\n\n`;
}
sse += 'data: [DONE]\n\n';
const stream = Buffer.from(sse);

const STREAM_FLAG = Buffer.from('"stream":true');

/** Starts the mock; resolves with { port, close }. */
export function startMockUpstream(port = 0) {
  const uws = loadUws();
  const app = uws.App();
  app.get('/health', (res) => {
    res.end('ok');
  });
  app.post('/*', (res) => {
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    let isStream = false;
    let tail = null; // last bytes of the previous chunk: the flag may straddle chunks
    res.onData((ab, isLast) => {
      if (!isStream) {
        const chunk = Buffer.from(ab); // a view; only used inside this callback
        if (chunk.indexOf(STREAM_FLAG) >= 0) isStream = true;
        else if (tail !== null && Buffer.concat([tail, chunk.subarray(0, STREAM_FLAG.length)]).indexOf(STREAM_FLAG) >= 0) isStream = true;
        if (!isLast) tail = Buffer.from(chunk.subarray(Math.max(0, chunk.length - STREAM_FLAG.length)));
      }
      if (!isLast || aborted) return;
      res.cork(() => {
        res.writeStatus('200 OK');
        if (isStream) {
          res.writeHeader('content-type', 'text/event-stream');
          res.writeHeader('cache-control', 'no-cache');
          res.end(stream);
        } else {
          res.writeHeader('content-type', 'application/json');
          res.end(completion);
        }
      });
    });
  });
  return new Promise((done, reject) => {
    app.listen('127.0.0.1', port, (socket) => {
      if (!socket) return reject(new Error(`mock upstream: cannot listen on 127.0.0.1:${port}`));
      done({
        port: uws.us_socket_local_port(socket),
        close: () => uws.us_listen_socket_close(socket),
      });
    });
  });
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--port');
  const { port } = await startMockUpstream(i > 0 ? Number(process.argv[i + 1]) : 0);
  process.stdout.write(JSON.stringify({ port }) + '\n');
  process.on('SIGTERM', () => process.exit(0));
}
