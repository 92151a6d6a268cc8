/**
 * Gateway error bodies (SPEC §3): OpenAI's envelope with GoModel's fields,
 *
 *   {"error":{"type":"not_found_error","message":"…","code":null,"param":null,
 *             "provider":"vmc","status_code":404}}
 *
 * `provider` names the provider whose failure produced the error (502/503/504 after
 * resolution), or `"vmc"` when the gateway itself rejected the request before any provider
 * was involved (GoModel's schema types the field as a non-nullable string).
 */

/**
 * GoModel `core.ErrorType`, plus OpenAI's `permission_error` for policy denials (403: a
 * user path or key that may not use a model, SPEC §3.3, §12).
 */
export type GatewayErrorType =
  'invalid_request_error' | 'not_found_error' | 'authentication_error' | 'permission_error' | 'provider_error' | 'rate_limit_error';

/** Provider value used when the gateway itself produced the error. */
export const GATEWAY_PROVIDER = 'vmc';

export interface GatewayErrorFields {
  type: GatewayErrorType;
  message: string;
  code: string | null;
  param: string | null;
  provider: string;
  status_code: number;
}

/** Builds the error envelope object. */
export function gatewayError(
  status: number,
  type: GatewayErrorType,
  message: string,
  param: string | null = null,
  provider: string = GATEWAY_PROVIDER,
): { error: GatewayErrorFields } {
  return { error: { type, message, code: null, param, provider, status_code: status } };
}

/** Serialized error envelope, ready to send. */
export function gatewayErrorBody(
  status: number,
  type: GatewayErrorType,
  message: string,
  param: string | null = null,
  provider: string = GATEWAY_PROVIDER,
): Buffer {
  return Buffer.from(JSON.stringify(gatewayError(status, type, message, param, provider)));
}

/** The answer to a request whose handling threw (a gateway bug): nothing about the cause. */
export const INTERNAL_ERROR_BODY: Buffer = gatewayErrorBody(500, 'provider_error', 'internal gateway error');
