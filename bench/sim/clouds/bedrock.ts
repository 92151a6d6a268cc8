/**
 * Simulated Amazon Bedrock runtime (SPEC §13): `POST /model/{modelId}/converse` and
 * `/converse-stream`.
 *
 * Checked on the wire, as Bedrock does:
 * - the model id in the path is encoded as the AWS SDK encodes it (`:` as `%3A`);
 * - the SigV4 signature: the Authorization header is recomputed with AWS's own signer from
 *   the request as received (method, raw path, query, the signed headers, body) and the
 *   configured credentials, and must match byte for byte; every `x-amz-*` header must be
 *   signed; the credential scope names the region and service `bedrock`; the clock skew is
 *   at most 15 minutes;
 * - the Converse body: only Converse's fields (a `model` or `stream` field is refused),
 *   roles alternating from `user`, no blank text, image formats, and a `toolConfig` whenever
 *   the messages hold toolUse/toolResult blocks.
 * Answers: Converse JSON, or AWS event-stream frames (`application/vnd.amazon.eventstream`,
 * encoded with `@smithy/eventstream-codec`, payloads padded with `p` as Bedrock does);
 * errors as `{"message"}` with `x-amzn-errortype`, in-stream errors as exception frames.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { SignatureV4 } from '@smithy/signature-v4';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import type http from 'node:http';
import {
  expectWire,
  finishOf,
  isObject,
  onlyKeys,
  pieces,
  sendJson,
  startCloudServer,
  Violation,
  type CloudReply,
  type CloudRequest,
  type CloudServer,
  type ReplyFn,
} from './common.js';

export interface BedrockSimOptions {
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Model ids that exist. */
  models: readonly string[];
  reply?: ReplyFn;
}

export interface BedrockSim extends CloudServer {
  setReply(fn: ReplyFn): void;
}

/** The AWS SDK's path-label encoding. */
export const awsEncode = (s: string): string =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());

const TOP_LEVEL = [
  'messages',
  'system',
  'inferenceConfig',
  'toolConfig',
  'guardrailConfig',
  'additionalModelRequestFields',
  'additionalModelResponseFieldPaths',
  'promptVariables',
  'requestMetadata',
  'performanceConfig',
];
const IMAGE_FORMATS = ['png', 'jpeg', 'gif', 'webp'];
const STOP_REASON = { stop: 'end_turn', length: 'max_tokens', tool_calls: 'tool_use', content_filter: 'content_filtered' } as const;

/** `20240102T030405Z` → Date. */
function amzDate(s: string): Date | null {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  return m ? new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6])) : null;
}

/** Verifies the request's SigV4 signature (throws a 403 Violation as Bedrock answers). */
async function verifySignature(req: CloudRequest, opts: BedrockSimOptions): Promise<void> {
  const auth = req.headers.authorization ?? '';
  const m =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(
      auth,
    );
  if (m === null) throw new Violation(403, 'sim: MissingAuthenticationToken: no SigV4 Authorization header');
  const [, keyId, day, region, service, signedList] = m;
  if (keyId !== opts.credentials.accessKeyId)
    throw new Violation(403, 'sim: UnrecognizedClientException: The security token included in the request is invalid.');
  expectWire(
    region === opts.region && service === 'bedrock',
    403,
    `credential scope ${region}/${service} (expected ${opts.region}/bedrock)`,
  );
  const date = amzDate(req.headers['x-amz-date'] ?? '');
  expectWire(date !== null, 403, 'x-amz-date missing or malformed');
  expectWire(day === (req.headers['x-amz-date'] ?? '').slice(0, 8), 403, 'credential date differs from x-amz-date');
  expectWire(Math.abs(date.getTime() - Date.now()) < 15 * 60_000, 403, 'Signature expired (clock skew over 15 minutes)');
  const signed = signedList.split(';');
  expectWire(signed.includes('host') && signed.includes('x-amz-date'), 403, 'host and x-amz-date must be signed');
  for (const h of Object.keys(req.headers)) if (h.startsWith('x-amz-')) expectWire(signed.includes(h), 403, `header ${h} is not signed`);
  if (opts.credentials.sessionToken !== undefined) {
    expectWire(req.headers['x-amz-security-token'] === opts.credentials.sessionToken, 403, 'x-amz-security-token missing or wrong');
  }
  const headers: Record<string, string> = {};
  for (const h of signed) {
    expectWire(req.headers[h] !== undefined, 403, `signed header ${h} was not sent`);
    headers[h] = req.headers[h];
  }
  const query: Record<string, string | string[]> = {};
  for (const [k, v] of req.query) {
    const cur = query[k];
    query[k] = cur === undefined ? v : Array.isArray(cur) ? [...cur, v] : [cur, v];
  }
  const [hostname, port] = (req.headers.host ?? '').split(':');
  const signer = new SignatureV4({ region: opts.region, service: 'bedrock', sha256: Sha256, credentials: opts.credentials });
  const again = await signer.sign(
    {
      method: req.method,
      protocol: 'http:',
      hostname,
      port: port === undefined ? undefined : Number(port),
      path: req.path,
      query,
      headers,
      body: req.body,
    },
    { signingDate: date },
  );
  if (again.headers.authorization !== auth) {
    throw new Violation(
      403,
      'sim: InvalidSignatureException: The request signature we calculated does not match the signature you provided.',
    );
  }
}

/** Validates a Converse body (throws a 400 ValidationException Violation). */
function validateConverse(body: Record<string, unknown>): void {
  onlyKeys(body, TOP_LEVEL, 'the Converse request (extraneous key is not permitted)');
  const messages = body.messages;
  expectWire(Array.isArray(messages) && messages.length > 0, 400, 'messages must be a non-empty list');
  let toolBlocks = false;
  messages.forEach((m, i) => {
    expectWire(isObject(m), 400, `messages[${i}] is not an object`);
    onlyKeys(m, ['role', 'content'], `messages[${i}]`);
    expectWire(
      m.role === (i % 2 === 0 ? 'user' : 'assistant'),
      400,
      'A conversation must start with a user message and alternate between user and assistant roles',
    );
    expectWire(Array.isArray(m.content) && m.content.length > 0, 400, `messages[${i}].content must be a non-empty list`);
    for (const b of m.content) {
      expectWire(isObject(b) && Object.keys(b).length === 1, 400, `messages[${i}]: a content block has exactly one member`);
      if (typeof b.text === 'string') expectWire(b.text.trim() !== '', 400, 'The text field in the ContentBlock object is blank');
      else if (isObject(b.image)) {
        expectWire(IMAGE_FORMATS.includes(String(b.image.format)), 400, `image format ${String(b.image.format)}`);
        expectWire(isObject(b.image.source) && typeof b.image.source.bytes === 'string', 400, 'image.source.bytes');
      } else if (isObject(b.toolUse)) {
        toolBlocks = true;
        expectWire(m.role === 'assistant', 400, 'toolUse in a user message');
        expectWire(
          typeof b.toolUse.toolUseId === 'string' && typeof b.toolUse.name === 'string' && isObject(b.toolUse.input),
          400,
          'toolUse needs toolUseId, name and an input object',
        );
      } else if (isObject(b.toolResult)) {
        toolBlocks = true;
        expectWire(m.role === 'user', 400, 'toolResult in an assistant message');
        expectWire(
          typeof b.toolResult.toolUseId === 'string' && Array.isArray(b.toolResult.content),
          400,
          'toolResult needs toolUseId and content',
        );
      } else throw new Violation(400, `sim: unknown content block ${JSON.stringify(Object.keys(b))}`);
    }
  });
  if (body.system !== undefined) {
    expectWire(
      Array.isArray(body.system) && body.system.every((s) => isObject(s) && typeof s.text === 'string' && s.text.trim() !== ''),
      400,
      'system must be a list of {text}',
    );
  }
  if (body.inferenceConfig !== undefined) {
    expectWire(isObject(body.inferenceConfig), 400, 'inferenceConfig');
    onlyKeys(body.inferenceConfig, ['maxTokens', 'temperature', 'topP', 'stopSequences'], 'inferenceConfig');
  }
  if (toolBlocks)
    expectWire(isObject(body.toolConfig), 400, 'The toolConfig field must be defined when using toolUse and toolResult content blocks.');
  if (body.toolConfig !== undefined) {
    const tc = body.toolConfig;
    expectWire(isObject(tc) && Array.isArray(tc.tools) && tc.tools.length > 0, 400, 'toolConfig.tools must be a non-empty list');
    onlyKeys(tc, ['tools', 'toolChoice'], 'toolConfig');
    for (const t of tc.tools) {
      expectWire(isObject(t) && isObject(t.toolSpec) && typeof t.toolSpec.name === 'string', 400, 'a tool needs toolSpec.name');
      expectWire(isObject(t.toolSpec.inputSchema) && isObject(t.toolSpec.inputSchema.json), 400, 'toolSpec.inputSchema.json');
    }
  }
}

const codec = new EventStreamCodec(toUtf8, fromUtf8);
let padding = 0;

/** One event-stream frame with Bedrock's headers and a padded JSON payload. */
export function bedrockFrame(eventType: string, payload: Record<string, unknown>): Uint8Array {
  const p = 'abcdefghijklmnopqrstuvwxyz'.slice(0, 1 + (padding++ % 26)); // Bedrock pads payloads with a `p` field
  return codec.encode({
    headers: {
      ':event-type': { type: 'string', value: eventType },
      ':content-type': { type: 'string', value: 'application/json' },
      ':message-type': { type: 'string', value: 'event' },
    },
    body: fromUtf8(JSON.stringify({ ...payload, p })),
  });
}

/** An exception frame (an error after the stream started). */
export function bedrockExceptionFrame(type: string, message: string): Uint8Array {
  return codec.encode({
    headers: {
      ':exception-type': { type: 'string', value: type },
      ':content-type': { type: 'string', value: 'application/json' },
      ':message-type': { type: 'string', value: 'exception' },
    },
    body: fromUtf8(JSON.stringify({ message })),
  });
}

/** The frames of a ConverseStream answer for a reply (the simulator's own encoding; tests reuse it). */
export function converseStreamFrames(r: CloudReply): Uint8Array[] {
  const frames = [bedrockFrame('messageStart', { role: 'assistant' })];
  let block = 0;
  if (r.text) {
    for (const piece of pieces(r.text, r.chunks ?? 3))
      frames.push(bedrockFrame('contentBlockDelta', { contentBlockIndex: block, delta: { text: piece } }));
    frames.push(bedrockFrame('contentBlockStop', { contentBlockIndex: block }));
    block++;
  }
  if (r.midStreamError !== undefined) {
    frames.push(bedrockExceptionFrame(r.midStreamError.type, r.midStreamError.message));
    return frames;
  }
  (r.toolCalls ?? []).forEach((t, i) => {
    frames.push(
      bedrockFrame('contentBlockStart', {
        contentBlockIndex: block,
        start: { toolUse: { toolUseId: t.id ?? `tooluse_sim${i}`, name: t.name } },
      }),
    );
    for (const piece of pieces(JSON.stringify(t.args), 2))
      frames.push(bedrockFrame('contentBlockDelta', { contentBlockIndex: block, delta: { toolUse: { input: piece } } }));
    frames.push(bedrockFrame('contentBlockStop', { contentBlockIndex: block }));
    block++;
  });
  const usage = r.usage ?? { input: 11, output: 6 };
  frames.push(bedrockFrame('messageStop', { stopReason: STOP_REASON[finishOf(r)] }));
  frames.push(
    bedrockFrame('metadata', {
      usage: { inputTokens: usage.input, outputTokens: usage.output, totalTokens: usage.input + usage.output },
      metrics: { latencyMs: 12 },
    }),
  );
  return frames;
}

/** A Converse JSON answer for a reply. */
export function converseResponse(r: CloudReply): Record<string, unknown> {
  const content: Record<string, unknown>[] = [];
  if (r.text) content.push({ text: r.text });
  (r.toolCalls ?? []).forEach((t, i) => content.push({ toolUse: { toolUseId: t.id ?? `tooluse_sim${i}`, name: t.name, input: t.args } }));
  const usage = r.usage ?? { input: 11, output: 6 };
  return {
    output: { message: { role: 'assistant', content } },
    stopReason: STOP_REASON[finishOf(r)],
    usage: { inputTokens: usage.input, outputTokens: usage.output, totalTokens: usage.input + usage.output },
    metrics: { latencyMs: 12 },
  };
}

const ERROR_TYPES: Record<number, string> = {
  400: 'ValidationException',
  403: 'AccessDeniedException',
  404: 'ResourceNotFoundException',
  429: 'ThrottlingException',
  500: 'InternalServerException',
  503: 'ServiceUnavailableException',
};

/** Bedrock's `x-amzn-errortype` value for an HTTP status: the exception's name and namespace. */
export function bedrockErrorTypeHeader(status: number): string {
  return `${ERROR_TYPES[status] ?? 'InternalServerException'}:http://internal.amazon.com/coral/com.amazon.bedrock/`;
}

function sendError(res: http.ServerResponse, status: number, message: string): void {
  sendJson(res, status, { message }, { 'x-amzn-errortype': bedrockErrorTypeHeader(status) });
}

export async function startBedrockSim(opts: BedrockSimOptions): Promise<BedrockSim> {
  let reply: ReplyFn = opts.reply ?? (() => ({}));
  const server = await startCloudServer(
    async (req, res) => {
      expectWire(req.method === 'POST', 405, `method ${req.method}`);
      const route = /^\/model\/([^/]+)\/(converse|converse-stream)$/.exec(req.path);
      expectWire(route !== null, 404, `UnknownOperationException: ${req.path}`);
      await verifySignature(req, opts);
      const modelId = decodeURIComponent(route[1]);
      expectWire(route[1] === awsEncode(modelId), 400, `model id not encoded as the AWS SDK encodes it: ${route[1]}`);
      expectWire(opts.models.includes(modelId), 400, `The provided model identifier is invalid: ${modelId}`);
      expectWire((req.headers['content-type'] ?? '').startsWith('application/json'), 415, 'content-type');
      expectWire(req.json !== null, 400, 'body is not a JSON object');
      validateConverse(req.json);
      const r: CloudReply = { text: `sim:bedrock model=${modelId}`, ...reply(req) };
      if (r.errorStatus !== undefined) return sendError(res, r.errorStatus, r.errorMessage ?? 'error');
      if (route[2] === 'converse') return sendJson(res, 200, converseResponse(r));
      res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream', 'x-amzn-requestid': 'sim' });
      for (const f of converseStreamFrames(r)) res.write(f);
      res.end();
    },
    (status, message) => ({
      headers: {
        'content-type': 'application/json',
        'x-amzn-errortype': bedrockErrorTypeHeader(status),
      },
      body: JSON.stringify({ message }),
    }),
  );
  return {
    ...server,
    setReply(fn: ReplyFn) {
      reply = fn;
    },
  };
}
