/**
 * JSON answers on the adapter's response writer: the one place that knows the headers of a
 * JSON body and the SPEC §3 error envelope's wire form.
 */
import { gatewayErrorBody, type GatewayErrorType } from '../errors.js';
import { JSON_HEADERS, type HeaderValue, type HttpResponse } from './adapter.js';

export { JSON_HEADERS };

/** Sends `body` (serialized unless already bytes) as JSON, with optional extra headers. */
export function sendJson(res: HttpResponse, status: number, body: unknown, extra?: Record<string, string>): void {
  let headers = JSON_HEADERS;
  if (extra !== undefined) {
    const h: HeaderValue[] = [...JSON_HEADERS];
    for (const k in extra) h.push(k.toLowerCase(), extra[k]);
    headers = h;
  }
  res.respond(status, headers, body instanceof Uint8Array ? body : JSON.stringify(body));
}

/** Sends the SPEC §3 error envelope (`provider: "vmc"`: the gateway itself answers). */
export function sendError(
  res: HttpResponse,
  status: number,
  type: GatewayErrorType,
  message: string,
  param: string | null = null,
  extra?: Record<string, string>,
): void {
  sendJson(res, status, gatewayErrorBody(status, type, message, param), extra);
}
