export const BUILTIN_MIDDLEWARE = {
  request: ['set-params', 'strip-params', 'set-headers'],
  response: ['set-response-headers'],
  post_response: ['log'],
} as const;
