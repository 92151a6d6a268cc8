/**
 * The client-facing inference endpoints (SPEC §6), defined once: their ids, gateway paths and
 * the `model_types` value each one requires. The runtime routes by these, the compiler's
 * schema enum for `model_types` lists the same values, and the generated client calls the
 * same paths.
 */

export const EP_CHAT = 0;
export const EP_COMPLETIONS = 1;
export const EP_EMBEDDINGS = 2;
export const EP_RESPONSES = 3;
export const EP_MESSAGES = 4;
export const ENDPOINT_COUNT = 5;

/** Gateway path by endpoint id. */
export const ENDPOINT_PATHS: readonly string[] = [
  '/v1/chat/completions',
  '/v1/completions',
  '/v1/embeddings',
  '/v1/responses',
  '/v1/messages',
];

/**
 * `model_types` value each endpoint requires. Chat and messages admit each other: they are one
 * operation in two wire formats, and the gateway translates between them.
 */
export const ENDPOINT_MODEL_TYPES: readonly string[] = ['chat', 'completion', 'embedding', 'responses', 'messages'];

/** Endpoint id of a gateway path, or -1 when the path is not an inference endpoint. */
export function endpointOfPath(path: string): number {
  switch (path) {
    case '/v1/chat/completions':
      return EP_CHAT;
    case '/v1/completions':
      return EP_COMPLETIONS;
    case '/v1/embeddings':
      return EP_EMBEDDINGS;
    case '/v1/responses':
      return EP_RESPONSES;
    case '/v1/messages':
      return EP_MESSAGES;
    default:
      return -1;
  }
}

/**
 * Bit `ep` set when a model with these `model_types` may serve endpoint `ep` (every bit when
 * the list is empty).
 */
export function endpointMaskOf(modelTypes: readonly string[]): number {
  let mask = 0;
  for (let ep = 0; ep < ENDPOINT_COUNT; ep++) {
    const need = ENDPOINT_MODEL_TYPES[ep];
    const ok =
      modelTypes.length === 0 ||
      modelTypes.includes(need) ||
      (need === 'chat' && modelTypes.includes('messages')) ||
      (need === 'messages' && modelTypes.includes('chat'));
    if (ok) mask |= 1 << ep;
  }
  return mask;
}
