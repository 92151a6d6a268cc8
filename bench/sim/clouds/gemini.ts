/**
 * Simulated Gemini API (SPEC §13): `POST /v1beta/models/{model}:generateContent` and
 * `:streamGenerateContent?alt=sse`, key in `x-goog-api-key` (or `?key=`). Strict about the
 * body (./generate-content.ts); answers in Gemini's format.
 */
import { expectWire, startCloudServer, type CloudReply, type CloudServer, type ReplyFn } from './common.js';
import { googleError, sendGenerateContent, validateGenerateContent } from './generate-content.js';

export interface GeminiSimOptions {
  apiKey: string;
  models: readonly string[];
  reply?: ReplyFn;
}

export interface GeminiSim extends CloudServer {
  setReply(fn: ReplyFn): void;
}

export async function startGeminiSim(opts: GeminiSimOptions): Promise<GeminiSim> {
  let reply: ReplyFn = opts.reply ?? (() => ({}));
  const server = await startCloudServer(
    (req, res) => {
      expectWire(req.method === 'POST', 405, `method ${req.method}`);
      const route = /^\/v1beta\/models\/([^/:]+):(generateContent|streamGenerateContent)$/.exec(req.path);
      expectWire(route !== null, 404, `no Gemini route ${req.path}`);
      const key = req.headers['x-goog-api-key'] ?? req.query.get('key');
      expectWire(key === opts.apiKey, key === undefined || key === null ? 403 : 400, 'API key not valid. Please pass a valid API key.');
      expectWire(req.headers.authorization === undefined, 401, 'an authorization header was sent beside the API key');
      const stream = route[2] === 'streamGenerateContent';
      if (stream) expectWire(req.query.get('alt') === 'sse', 400, 'streamGenerateContent without alt=sse');
      else expectWire(!req.query.has('alt'), 400, 'alt on generateContent');
      const model = decodeURIComponent(route[1]);
      expectWire(opts.models.includes(model), 404, `models/${model} is not found for API version v1beta`);
      expectWire(req.json !== null, 400, 'body is not a JSON object');
      validateGenerateContent(req.json);
      const r: CloudReply = { text: `sim:gemini model=${model}`, ...reply(req) };
      sendGenerateContent(res, stream, r, model);
    },
    (status, message) => ({ headers: { 'content-type': 'application/json' }, body: JSON.stringify(googleError(status, message)) }),
  );
  return {
    ...server,
    setReply(fn: ReplyFn) {
      reply = fn;
    },
  };
}
