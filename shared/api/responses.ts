/**
 * The shape of every HTTP answer of the API: a JSON body and the same security headers, whether
 * the answer is a success, a refusal or an internal error.
 */
import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyResult } from 'aws-lambda';

/**
 * Headers every answer carries. The API serves JSON only, so nothing may be framed or sniffed.
 * The one list: the handlers add it to their answers, and the API construct to API Gateway's own.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'strict-transport-security': 'max-age=63072000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'",
  'referrer-policy': 'no-referrer',
};

export const JSON_CONTENT_TYPE = 'application/json';

/** A JSON answer with the security headers. */
export function jsonResponse(
  statusCode: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): APIGatewayProxyResult {
  return {
    statusCode,
    headers: { ...SECURITY_HEADERS, 'content-type': JSON_CONTENT_TYPE, ...headers },
    body: JSON.stringify(body),
  };
}

/**
 * Middleware that puts the security headers on whatever answer leaves the handler, including the
 * ones another middleware made (use it before the error handler, so its `onError` runs after).
 */
export function securityHeaders(): MiddlewareObj<unknown, APIGatewayProxyResult> {
  const addSecurityHeaders = (request: { response: APIGatewayProxyResult | null | undefined }) => {
    const response = request.response;
    if (response === null || typeof response !== 'object') return;
    const present = new Set(Object.keys(response.headers ?? {}).map((name) => name.toLowerCase()));
    const missing = Object.entries(SECURITY_HEADERS).filter(([name]) => !present.has(name));
    response.headers = { ...Object.fromEntries(missing), ...response.headers };
  };
  return {
    name: 'securityHeaders',
    after: addSecurityHeaders,
    onError: addSecurityHeaders,
  };
}
