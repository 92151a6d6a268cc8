/**
 * Gemini generateContent ⇄ the internal model (./model.ts): requests, responses and
 * `streamGenerateContent?alt=sse` chunks. Spoken by the Gemini API and by Vertex AI (same
 * bodies, other URLs and credentials). Gemini is an upstream format only.
 *
 * Gemini's rules honoured here (SPEC §13): roles are `user` and `model`; tool calls carry no
 * id, so each gets a minted one (`call_…`), and tool results are matched to their call by
 * the function name (`functionResponse.name`, filled from the history); STOP with function
 * calls is a tool-call finish; function parameters are Gemini's OpenAPI subset (keys outside
 * it — `additionalProperties`, `$schema`, … — are dropped; an object without properties is
 * sent without parameters, as Gemini refuses an empty one).
 */
import { isObject } from '../table/util.js';
import {
  argsObject,
  emptyRequest,
  eventData,
  linkToolNames,
  mintId,
  num,
  pushMessage,
  str,
  type ChatRequest,
  type ChatResponse,
  type ErrorKind,
  type FinishReason,
  type Json,
  type Part,
  type StreamDecoder,
  type StreamEvent,
  type ToolChoice,
} from './model.js';
import { SseParser } from './sse.js';

// ───────────────────────────── schemas ─────────────────────────────

/** The Schema fields Gemini's function declarations take (an OpenAPI 3.0 subset). */
const SCHEMA_KEYS = new Set([
  'type',
  'format',
  'title',
  'description',
  'nullable',
  'enum',
  'maxItems',
  'minItems',
  'properties',
  'required',
  'minProperties',
  'maxProperties',
  'minLength',
  'maxLength',
  'pattern',
  'example',
  'anyOf',
  'propertyOrdering',
  'default',
  'items',
  'minimum',
  'maximum',
]);

/** A JSON Schema reduced to what Gemini accepts (recursively); `type: [x, "null"]` → `type: x, nullable`. */
export function geminiSchema(s: unknown): Json {
  if (!isObject(s)) return {};
  const out: Json = {};
  for (const [k, v] of Object.entries(s)) {
    if (!SCHEMA_KEYS.has(k)) continue;
    if (k === 'type' && Array.isArray(v)) {
      const types = v.filter((t) => t !== 'null');
      if (types.length > 0) out.type = types[0];
      if (types.length < v.length) out.nullable = true;
    } else if (k === 'properties' && isObject(v)) {
      const props: Json = {};
      for (const [name, sub] of Object.entries(v)) props[name] = geminiSchema(sub);
      out.properties = props;
    } else if (k === 'items') out.items = geminiSchema(v);
    else if (k === 'anyOf' && Array.isArray(v)) out.anyOf = v.map(geminiSchema);
    else out[k] = v;
  }
  return out;
}

function hasProperties(s: Json): boolean {
  return isObject(s.properties) && Object.keys(s.properties).length > 0;
}

// ───────────────────────────── requests ─────────────────────────────

const MIME_BY_EXTENSION: Readonly<Record<string, string>> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  heic: 'image/heic',
  heif: 'image/heif',
};

/** Media type of an image URL by its extension (Gemini's fileData needs one); JPEG when unknown. */
function imageMime(url: string): string {
  const m = /\.([a-z0-9]+)(?:[?#]|$)/i.exec(url);
  return (m && MIME_BY_EXTENSION[m[1].toLowerCase()]) ?? 'image/jpeg';
}

function geminiPart(p: Part): Json | null {
  switch (p.type) {
    case 'text':
      return p.text === '' ? null : { text: p.text };
    case 'image':
      return { inlineData: { mimeType: p.mediaType, data: p.data } };
    case 'image_url':
      return { fileData: { mimeType: imageMime(p.url), fileUri: p.url } };
    case 'tool_call':
      return { functionCall: { name: p.name, args: argsObject(p.args) } };
    case 'tool_result':
      return {
        functionResponse: { name: p.name === '' ? p.id : p.name, response: p.isError ? { error: p.content } : { content: p.content } },
      };
  }
}

/** Internal request → generateContent body (no model: it is in the path). */
export function encodeGeminiRequest(r: ChatRequest): Json {
  const contents: Json[] = [];
  for (const m of r.messages) {
    const parts = m.parts.map(geminiPart).filter((p): p is Json => p !== null);
    if (parts.length === 0) continue;
    const role = m.role === 'assistant' ? 'model' : 'user';
    const last = contents[contents.length - 1];
    if (last !== undefined && last.role === role) (last.parts as Json[]).push(...parts);
    else contents.push({ role, parts });
  }
  const out: Json = { contents };
  const system = r.system.filter((s) => s !== '').map((text) => ({ text }));
  if (system.length > 0) out.systemInstruction = { parts: system };
  const gc: Json = {};
  if (r.maxTokens !== null) gc.maxOutputTokens = r.maxTokens;
  if (r.temperature !== null) gc.temperature = r.temperature;
  if (r.topP !== null) gc.topP = r.topP;
  if (r.stop !== null && r.stop.length > 0) gc.stopSequences = r.stop;
  if (Object.keys(gc).length > 0) out.generationConfig = gc;
  if (r.tools !== null && r.tools.length > 0) {
    out.tools = [
      {
        functionDeclarations: r.tools.map((t) => {
          const decl: Json = { name: t.name };
          if (t.description !== null) decl.description = t.description;
          const schema = geminiSchema(t.parameters);
          if (hasProperties(schema)) decl.parameters = schema;
          return decl;
        }),
      },
    ];
  }
  const tc = r.toolChoice;
  if (tc !== null) {
    const config: Json =
      tc.type === 'tool'
        ? { mode: 'ANY', allowedFunctionNames: [tc.name] }
        : { mode: tc.type === 'auto' ? 'AUTO' : tc.type === 'any' ? 'ANY' : 'NONE' };
    out.toolConfig = { functionCallingConfig: config };
  }
  return out;
}

/** generateContent body → internal request (the simulators' view; used by round-trip tests). */
export function decodeGeminiRequest(body: Json): ChatRequest {
  const r = emptyRequest();
  const si = isObject(body.systemInstruction) ? body.systemInstruction : null;
  for (const p of Array.isArray(si?.parts) ? si.parts : []) if (isObject(p) && typeof p.text === 'string') r.system.push(p.text);
  for (const c of Array.isArray(body.contents) ? body.contents : []) {
    if (!isObject(c)) continue;
    const parts: Part[] = [];
    for (const p of Array.isArray(c.parts) ? c.parts : []) {
      if (!isObject(p)) continue;
      if (typeof p.text === 'string') parts.push({ type: 'text', text: p.text });
      else if (isObject(p.inlineData)) parts.push({ type: 'image', mediaType: str(p.inlineData.mimeType), data: str(p.inlineData.data) });
      else if (isObject(p.fileData)) parts.push({ type: 'image_url', url: str(p.fileData.fileUri) });
      else if (isObject(p.functionCall)) {
        parts.push({ type: 'tool_call', id: str(p.functionCall.id), name: str(p.functionCall.name), args: p.functionCall.args ?? {} });
      } else if (isObject(p.functionResponse)) {
        const fr = p.functionResponse;
        const res = isObject(fr.response) ? fr.response : {};
        const isError = res.error !== undefined && res.content === undefined;
        const v = isError ? res.error : res.content;
        parts.push({
          type: 'tool_result',
          id: str(fr.id),
          name: str(fr.name),
          content: typeof v === 'string' ? v : JSON.stringify(v ?? res),
          isError,
        });
      }
    }
    pushMessage(r.messages, c.role === 'model' ? 'assistant' : 'user', parts);
  }
  linkToolNames(r.messages);
  const gc = isObject(body.generationConfig) ? body.generationConfig : {};
  r.maxTokens = num(gc.maxOutputTokens);
  r.temperature = num(gc.temperature);
  r.topP = num(gc.topP);
  if (Array.isArray(gc.stopSequences)) r.stop = gc.stopSequences.map(str);
  if (Array.isArray(body.tools)) {
    r.tools = [];
    for (const t of body.tools) {
      if (!isObject(t) || !Array.isArray(t.functionDeclarations)) continue;
      for (const f of t.functionDeclarations) {
        if (!isObject(f)) continue;
        r.tools.push({
          name: str(f.name),
          description: typeof f.description === 'string' ? f.description : null,
          parameters: isObject(f.parameters) ? f.parameters : { type: 'object', properties: {} },
        });
      }
    }
  }
  const fcc = isObject(body.toolConfig) && isObject(body.toolConfig.functionCallingConfig) ? body.toolConfig.functionCallingConfig : null;
  if (fcc !== null) {
    const names = Array.isArray(fcc.allowedFunctionNames) ? fcc.allowedFunctionNames : [];
    let choice: ToolChoice = { type: 'auto' };
    if (fcc.mode === 'ANY') choice = names.length === 1 ? { type: 'tool', name: str(names[0]) } : { type: 'any' };
    else if (fcc.mode === 'NONE') choice = { type: 'none' };
    r.toolChoice = choice;
  }
  return r;
}

// ───────────────────────────── responses ─────────────────────────────

const CONTENT_FILTER = new Set(['SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII', 'IMAGE_SAFETY']);

/** A Gemini finishReason as an internal one; STOP with function calls is `tool_calls`. */
export function geminiFinish(reason: unknown, sawToolCall: boolean): FinishReason {
  const r = str(reason);
  if (r === 'MAX_TOKENS') return 'length';
  if (CONTENT_FILTER.has(r)) return 'content_filter';
  return sawToolCall ? 'tool_calls' : 'stop';
}

interface Candidate {
  parts: ChatResponse['parts'];
  finishReason: unknown;
}

/** The first candidate's answer parts (thought parts left out; tool calls get minted ids when Gemini sent none). */
function candidate(res: Json): Candidate {
  const c = Array.isArray(res.candidates) && isObject(res.candidates[0]) ? res.candidates[0] : {};
  const content = isObject(c.content) ? c.content : {};
  const parts: ChatResponse['parts'] = [];
  for (const p of Array.isArray(content.parts) ? content.parts : []) {
    if (!isObject(p) || p.thought === true) continue;
    if (typeof p.text === 'string') parts.push({ type: 'text', text: p.text });
    else if (isObject(p.functionCall)) {
      const f = p.functionCall;
      parts.push({ type: 'tool_call', id: str(f.id) || mintId('call_'), name: str(f.name), args: f.args ?? {} });
    }
  }
  // a prompt blocked before any candidate: no candidate, promptFeedback.blockReason
  const blocked = !Array.isArray(res.candidates) && isObject(res.promptFeedback) && res.promptFeedback.blockReason !== undefined;
  return { parts, finishReason: blocked ? 'SAFETY' : c.finishReason };
}

function usageOf(res: Json): { input: number | null; output: number | null } {
  const u = isObject(res.usageMetadata) ? res.usageMetadata : null;
  if (u === null) return { input: null, output: null };
  const candidates = num(u.candidatesTokenCount) ?? 0;
  const thoughts = num(u.thoughtsTokenCount) ?? 0;
  return { input: num(u.promptTokenCount) ?? 0, output: candidates + thoughts };
}

/** generateContent response → internal response. */
export function decodeGeminiResponse(res: Json, model: string | null = null): ChatResponse {
  const { parts, finishReason } = candidate(res);
  const merged: ChatResponse['parts'] = [];
  for (const p of parts) {
    const last = merged[merged.length - 1];
    if (p.type === 'text' && last !== undefined && last.type === 'text')
      merged[merged.length - 1] = { type: 'text', text: last.text + p.text };
    else merged.push(p);
  }
  const u = usageOf(res);
  return {
    id: str(res.responseId) || null,
    model: str(res.modelVersion) || model,
    parts: merged,
    finish: geminiFinish(
      finishReason,
      merged.some((p) => p.type === 'tool_call'),
    ),
    usage: { input: u.input ?? 0, output: u.output ?? 0 },
  };
}

/** Error kind of a Google RPC status (`INVALID_ARGUMENT`, `RESOURCE_EXHAUSTED`, …). */
export function googleErrorKind(status: string): ErrorKind | null {
  switch (status) {
    case 'INVALID_ARGUMENT':
    case 'FAILED_PRECONDITION':
    case 'OUT_OF_RANGE':
      return 'invalid_request';
    case 'UNAUTHENTICATED':
      return 'authentication';
    case 'PERMISSION_DENIED':
      return 'permission';
    case 'NOT_FOUND':
      return 'not_found';
    case 'RESOURCE_EXHAUSTED':
      return 'rate_limit';
    case 'UNAVAILABLE':
      return 'overloaded';
    case 'INTERNAL':
    case 'UNKNOWN':
    case 'DEADLINE_EXCEEDED':
      return 'server';
    default:
      return null;
  }
}

// ───────────────────────────── streams ─────────────────────────────

/** `streamGenerateContent?alt=sse` → events. Each chunk is a partial GenerateContentResponse. */
export class GeminiStreamDecoder implements StreamDecoder {
  #parser = new SseParser();
  #started = false;
  #tools = 0;

  constructor(readonly model: string | null = null) {}

  push(chunk: Uint8Array): StreamEvent[] {
    const out: StreamEvent[] = [];
    for (const ev of this.#parser.push(chunk)) this.#event(ev.data, out);
    return out;
  }

  end(): StreamEvent[] {
    const out: StreamEvent[] = [];
    for (const ev of this.#parser.end()) this.#event(ev.data, out);
    return out;
  }

  #event(data: string, out: StreamEvent[]): void {
    const d = eventData(data);
    if (d === null) return;
    if (isObject(d.error)) {
      const e = d.error;
      out.push({ t: 'error', kind: googleErrorKind(str(e.status)) ?? 'server', message: str(e.message) });
      return;
    }
    if (!this.#started) {
      this.#started = true;
      out.push({ t: 'start', id: str(d.responseId) || null, model: str(d.modelVersion) || this.model, input: null });
    }
    const { parts, finishReason } = candidate(d);
    for (const p of parts) {
      if (p.type === 'text') {
        if (p.text !== '') out.push({ t: 'text', text: p.text });
        continue;
      }
      const index = this.#tools++;
      out.push({ t: 'tool_start', index, id: p.id, name: p.name });
      out.push({ t: 'tool_args', index, args: JSON.stringify(p.args ?? {}) });
    }
    const u = usageOf(d);
    if (u.input !== null) out.push({ t: 'usage', input: u.input, output: u.output });
    if (finishReason !== undefined && finishReason !== null && finishReason !== '') {
      out.push({ t: 'finish', reason: geminiFinish(finishReason, this.#tools > 0) });
    }
  }
}
