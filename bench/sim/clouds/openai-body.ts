/**
 * OpenAI-format answers (chat.completion, chunks, embeddings, completions) for the simulators
 * whose providers speak OpenAI's wire format (Azure OpenAI).
 */
import type http from 'node:http';
import { finishOf, isObject, pieces, sendJson, sendSse, type CloudReply } from './common.js';

const now = () => Math.floor(Date.now() / 1000);

function toolCalls(r: CloudReply): Record<string, unknown>[] {
  return (r.toolCalls ?? []).map((t, i) => ({
    id: t.id ?? `call_sim${i}`,
    type: 'function',
    function: { name: t.name, arguments: JSON.stringify(t.args) },
  }));
}

/** A chat answer, JSON or SSE as the body asks. */
export function sendOpenAIChat(res: http.ServerResponse, body: Record<string, unknown>, model: string, r: CloudReply): void {
  const usage = r.usage ?? { input: 7, output: 5 };
  const u = { prompt_tokens: usage.input, completion_tokens: usage.output, total_tokens: usage.input + usage.output };
  const id = 'chatcmpl-sim';
  const calls = toolCalls(r);
  if (body.stream !== true) {
    const message: Record<string, unknown> = {
      role: 'assistant',
      content: calls.length > 0 && !r.text ? null : (r.text ?? ''),
      refusal: null,
    };
    if (calls.length > 0) message.tool_calls = calls;
    sendJson(res, 200, {
      id,
      object: 'chat.completion',
      created: now(),
      model,
      choices: [{ index: 0, message, logprobs: null, finish_reason: finishOf(r) }],
      usage: u,
    });
    return;
  }
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
    JSON.stringify({
      id,
      object: 'chat.completion.chunk',
      created: now(),
      model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    });
  const events: [string | null, string][] = [[null, chunk({ role: 'assistant', content: '' })]];
  if (r.text) for (const p of pieces(r.text, r.chunks ?? 3)) events.push([null, chunk({ content: p })]);
  calls.forEach((c, index) => {
    const f = c.function as { name: string; arguments: string };
    events.push([null, chunk({ tool_calls: [{ index, id: c.id, type: 'function', function: { name: f.name, arguments: '' } }] })]);
    for (const p of pieces(f.arguments, 2)) events.push([null, chunk({ tool_calls: [{ index, function: { arguments: p } }] })]);
  });
  events.push([null, chunk({}, finishOf(r))]);
  const so = body.stream_options;
  if (isObject(so) && so.include_usage === true) {
    events.push([null, JSON.stringify({ id, object: 'chat.completion.chunk', created: now(), model, choices: [], usage: u })]);
  }
  events.push([null, '[DONE]']);
  sendSse(res, events);
}

/** An embeddings answer: one deterministic vector per input. */
export function sendOpenAIEmbeddings(res: http.ServerResponse, body: Record<string, unknown>, model: string): void {
  const inputs = Array.isArray(body.input) ? body.input : [body.input];
  sendJson(res, 200, {
    object: 'list',
    data: inputs.map((x, index) => ({ object: 'embedding', index, embedding: [String(x).length, index, 0.5] })),
    model,
    usage: { prompt_tokens: inputs.length, total_tokens: inputs.length },
  });
}

/** A legacy completions answer. */
export function sendOpenAICompletion(res: http.ServerResponse, model: string, r: CloudReply): void {
  sendJson(res, 200, {
    id: 'cmpl-sim',
    object: 'text_completion',
    created: now(),
    model,
    choices: [{ index: 0, text: r.text ?? '', logprobs: null, finish_reason: finishOf(r) === 'length' ? 'length' : 'stop' }],
    usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
  });
}
