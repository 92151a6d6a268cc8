/**
 * Gemini's generateContent wire format, shared by the Gemini API and Vertex AI simulators:
 * strict request validation (as Google's JSON parsing refuses unknown fields) and answers —
 * JSON, or `streamGenerateContent?alt=sse` events (CRLF-separated, as Google sends them).
 */
import type http from 'node:http';
import { expectWire, finishOf, isObject, onlyKeys, pieces, sendJson, Violation, type CloudReply } from './common.js';

const TOP_LEVEL = ['contents', 'systemInstruction', 'generationConfig', 'tools', 'toolConfig', 'safetySettings', 'cachedContent', 'labels'];
const GENERATION_CONFIG = [
  'maxOutputTokens',
  'temperature',
  'topP',
  'topK',
  'stopSequences',
  'candidateCount',
  'responseMimeType',
  'responseSchema',
  'presencePenalty',
  'frequencyPenalty',
  'seed',
  'thinkingConfig',
];
const PART_DATA = ['text', 'inlineData', 'fileData', 'functionCall', 'functionResponse', 'executableCode', 'codeExecutionResult'];
const SCHEMA_KEYS = [
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
];

/** Google's wording for an unknown field. */
function unknown(name: string, where: string): never {
  throw new Violation(400, `sim: Invalid JSON payload received. Unknown name ${JSON.stringify(name)} at '${where}': Cannot find field.`);
}

function checkSchema(s: unknown, where: string): void {
  expectWire(isObject(s), 400, `${where} is not a schema object`);
  for (const k of Object.keys(s)) if (!SCHEMA_KEYS.includes(k)) unknown(k, where);
  if (String(s.type).toLowerCase() === 'object' && s.properties !== undefined) {
    expectWire(
      isObject(s.properties) && Object.keys(s.properties).length > 0,
      400,
      `${where}.properties: should be non-empty for OBJECT type`,
    );
  }
  if (isObject(s.properties)) for (const [k, v] of Object.entries(s.properties)) checkSchema(v, `${where}.properties[${k}]`);
  if (s.items !== undefined) checkSchema(s.items, `${where}.items`);
}

/** Validates a generateContent body (throws a 400 INVALID_ARGUMENT Violation). */
export function validateGenerateContent(body: Record<string, unknown>): void {
  for (const k of Object.keys(body)) if (!TOP_LEVEL.includes(k)) unknown(k, '');
  const contents = body.contents;
  expectWire(Array.isArray(contents) && contents.length > 0, 400, '* GenerateContentRequest.contents: contents is not specified');
  contents.forEach((c, i) => {
    expectWire(isObject(c), 400, `contents[${i}]`);
    onlyKeys(c, ['role', 'parts'], `contents[${i}]`);
    expectWire(c.role === 'user' || c.role === 'model', 400, `contents[${i}].role: Please use a valid role: user, model.`);
    expectWire(Array.isArray(c.parts) && c.parts.length > 0, 400, `contents[${i}].parts: contents.parts must not be empty.`);
    c.parts.forEach((p, j) => {
      expectWire(isObject(p), 400, `contents[${i}].parts[${j}]`);
      const data = Object.keys(p).filter((k) => PART_DATA.includes(k));
      for (const k of Object.keys(p))
        if (!PART_DATA.includes(k) && k !== 'thought' && k !== 'thoughtSignature') unknown(k, `contents[${i}].parts[${j}]`);
      expectWire(data.length === 1, 400, `contents[${i}].parts[${j}]: exactly one data field`);
      if (isObject(p.functionResponse)) {
        expectWire(typeof p.functionResponse.name === 'string' && p.functionResponse.name !== '', 400, 'functionResponse.name is required');
        expectWire(isObject(p.functionResponse.response), 400, 'functionResponse.response must be an object');
      }
      if (isObject(p.functionCall)) expectWire(typeof p.functionCall.name === 'string', 400, 'functionCall.name is required');
      if (isObject(p.inlineData))
        expectWire(typeof p.inlineData.mimeType === 'string' && typeof p.inlineData.data === 'string', 400, 'inlineData');
    });
  });
  if (body.systemInstruction !== undefined) {
    const si = body.systemInstruction;
    expectWire(
      isObject(si) && Array.isArray(si.parts) && si.parts.every((p) => isObject(p) && typeof p.text === 'string'),
      400,
      'systemInstruction',
    );
  }
  if (body.generationConfig !== undefined) {
    expectWire(isObject(body.generationConfig), 400, 'generationConfig');
    for (const k of Object.keys(body.generationConfig)) if (!GENERATION_CONFIG.includes(k)) unknown(k, 'generation_config');
  }
  if (body.tools !== undefined) {
    expectWire(Array.isArray(body.tools), 400, 'tools');
    body.tools.forEach((t, i) => {
      expectWire(isObject(t) && Array.isArray(t.functionDeclarations), 400, `tools[${i}].functionDeclarations`);
      t.functionDeclarations.forEach((f, j) => {
        expectWire(isObject(f) && typeof f.name === 'string', 400, `tools[${i}].function_declarations[${j}].name`);
        onlyKeys(f, ['name', 'description', 'parameters', 'parametersJsonSchema', 'response'], `tools[${i}].function_declarations[${j}]`);
        if (f.parameters !== undefined) checkSchema(f.parameters, `tools[${i}].function_declarations[${j}].parameters`);
      });
    });
  }
  if (body.toolConfig !== undefined) {
    const tc = body.toolConfig;
    expectWire(isObject(tc) && isObject(tc.functionCallingConfig), 400, 'toolConfig.functionCallingConfig');
    expectWire(['AUTO', 'ANY', 'NONE', 'VALIDATED'].includes(String(tc.functionCallingConfig.mode)), 400, 'functionCallingConfig.mode');
  }
}

const FINISH = { stop: 'STOP', length: 'MAX_TOKENS', tool_calls: 'STOP', content_filter: 'SAFETY' } as const;

function usageMetadata(r: CloudReply): Record<string, number> {
  const u = r.usage ?? { input: 9, output: 4 };
  return { promptTokenCount: u.input, candidatesTokenCount: u.output, totalTokenCount: u.input + u.output };
}

function callParts(r: CloudReply): Record<string, unknown>[] {
  return (r.toolCalls ?? []).map((t) => ({ functionCall: { name: t.name, args: t.args } }));
}

/** A generateContent JSON answer. */
export function generateContentResponse(r: CloudReply, modelVersion: string): Record<string, unknown> {
  const parts: Record<string, unknown>[] = [];
  if (r.text) parts.push({ text: r.text });
  parts.push(...callParts(r));
  return {
    candidates: [{ content: { role: 'model', parts }, finishReason: FINISH[finishOf(r)], index: 0 }],
    usageMetadata: usageMetadata(r),
    modelVersion,
    responseId: 'sim-response-1',
  };
}

/** The `data:` payloads of a streamGenerateContent?alt=sse answer (tests reuse them). */
export function generateContentStreamEvents(r: CloudReply, modelVersion: string): string[] {
  const chunk = (parts: Record<string, unknown>[], extra: Record<string, unknown> = {}) =>
    JSON.stringify({ candidates: [{ content: { role: 'model', parts }, index: 0, ...extra }], modelVersion, responseId: 'sim-response-1' });
  const events: string[] = [];
  const texts = r.text ? pieces(r.text, r.chunks ?? 3) : [];
  texts.forEach((t) => events.push(chunk([{ text: t }])));
  if (r.midStreamError !== undefined) {
    events.push(JSON.stringify({ error: { code: 500, message: r.midStreamError.message, status: r.midStreamError.type } }));
    return events;
  }
  const calls = callParts(r);
  if (calls.length > 0) events.push(chunk(calls));
  // the last chunk: finish reason and usage (Gemini sends an empty text part with them)
  events.push(
    JSON.stringify({
      candidates: [{ content: { role: 'model', parts: [{ text: '' }] }, finishReason: FINISH[finishOf(r)], index: 0 }],
      usageMetadata: usageMetadata(r),
      modelVersion,
      responseId: 'sim-response-1',
    }),
  );
  return events;
}

/** Google's error envelope. */
export function googleError(status: number, message: string): Record<string, unknown> {
  const names: Record<number, string> = {
    400: 'INVALID_ARGUMENT',
    401: 'UNAUTHENTICATED',
    403: 'PERMISSION_DENIED',
    404: 'NOT_FOUND',
    429: 'RESOURCE_EXHAUSTED',
    500: 'INTERNAL',
    503: 'UNAVAILABLE',
  };
  return { error: { code: status, message, status: names[status] ?? 'UNKNOWN' } };
}

/** Answers a validated generateContent / streamGenerateContent request. */
export function sendGenerateContent(res: http.ServerResponse, stream: boolean, r: CloudReply, modelVersion: string): void {
  if (r.errorStatus !== undefined) return sendJson(res, r.errorStatus, googleError(r.errorStatus, r.errorMessage ?? 'error'));
  if (!stream) return sendJson(res, 200, generateContentResponse(r, modelVersion));
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  for (const e of generateContentStreamEvents(r, modelVersion)) res.write(`data: ${e}\r\n\r\n`);
  res.end();
}
