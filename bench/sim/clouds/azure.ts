/**
 * Simulated Azure OpenAI (SPEC §13): the classic deployment API
 * (`POST /openai/deployments/{deployment}/{chat/completions|completions|embeddings}?api-version=V`)
 * and the v1 API (`POST /openai/v1/{chat/completions|completions|embeddings}`, deployment in
 * `model`), key in the `api-key` header. Answers in OpenAI's format, SSE included; errors in
 * Azure's envelope (`{"error": {"code", "message"}}`).
 */
import { expectWire, isObject, startCloudServer, type CloudReply, type CloudServer, type ReplyFn } from './common.js';
import { sendOpenAIChat, sendOpenAICompletion, sendOpenAIEmbeddings } from './openai-body.js';

export interface AzureSimOptions {
  /** The key the `api-key` header must carry. */
  apiKey: string;
  /** The `api-version` the classic API must be called with. */
  apiVersion: string;
  /** Deployments that exist (others answer 404 DeploymentNotFound). */
  deployments: readonly string[];
  reply?: ReplyFn;
}

export interface AzureSim extends CloudServer {
  setReply(fn: ReplyFn): void;
}

const ENDPOINTS = ['chat/completions', 'completions', 'embeddings'];

export async function startAzureSim(opts: AzureSimOptions): Promise<AzureSim> {
  let reply: ReplyFn = opts.reply ?? (() => ({}));
  const server = await startCloudServer(
    (req, res) => {
      expectWire(req.method === 'POST', 405, `method ${req.method}`);
      const classic = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|completions|embeddings)$/.exec(req.path);
      const v1 = /^\/openai\/v1\/(chat\/completions|completions|embeddings)$/.exec(req.path);
      expectWire(classic !== null || v1 !== null, 404, `no Azure OpenAI route ${req.path}`);
      expectWire(
        req.headers['api-key'] === opts.apiKey,
        401,
        'Access denied due to invalid subscription key or wrong API endpoint (api-key)',
      );
      expectWire(req.headers.authorization === undefined, 400, 'an authorization header was sent beside api-key');
      expectWire((req.headers['content-type'] ?? '').startsWith('application/json'), 415, 'content-type is not application/json');
      const body = req.json;
      expectWire(body !== null, 400, 'body is not a JSON object');
      let deployment: string;
      let endpoint: string;
      if (classic !== null) {
        expectWire(
          req.query.get('api-version') === opts.apiVersion,
          404,
          `api-version ${req.query.get('api-version')} (expected ${opts.apiVersion})`,
        );
        deployment = decodeURIComponent(classic[1]);
        endpoint = classic[2];
      } else {
        deployment = typeof body.model === 'string' ? body.model : '';
        endpoint = v1![1];
      }
      expectWire(ENDPOINTS.includes(endpoint), 404, endpoint);
      expectWire(opts.deployments.includes(deployment), 404, `DeploymentNotFound: ${deployment}`);
      const r: CloudReply = { text: `sim:azure deployment=${deployment}`, ...reply(req) };
      if (r.errorStatus !== undefined) {
        const body = JSON.stringify({ error: { code: String(r.errorStatus), message: r.errorMessage ?? 'error' } });
        res.writeHead(r.errorStatus, { 'content-type': 'application/json' });
        res.end(body);
        return;
      }
      if (endpoint === 'embeddings') return sendOpenAIEmbeddings(res, body, deployment);
      if (endpoint === 'completions') return sendOpenAICompletion(res, deployment, r);
      expectWire(Array.isArray(body.messages) && body.messages.every(isObject), 400, "'messages' must be a list of objects");
      sendOpenAIChat(res, body, deployment, r);
    },
    (status, message) => ({
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ error: { code: String(status), message } }),
    }),
  );
  return {
    ...server,
    setReply(fn: ReplyFn) {
      reply = fn;
    },
  };
}
