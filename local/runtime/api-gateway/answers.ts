/**
 * What the local gateway answers: a Lambda proxy result checked and turned into the HTTP answer,
 * or one of API Gateway's own errors rendered through the API's gateway responses.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LambdaRequestTooLargeError } from '#local/lambda/errors.ts';
import { ACCOUNT, API_ID, type RestApiModel } from '#local/runtime/api-gateway/model.ts';
import type { RequestInfo } from '#local/runtime/api-gateway/request.ts';
import { SECURITY_HEADERS } from '#shared/api/responses.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';

export interface Reply {
  readonly status: number;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: Buffer;
}

/** An error API Gateway answers itself, through a gateway response. */
export interface GatewayError {
  /** The gateway response type that customises it; undefined = only the DEFAULT_4XX/5XX fallback. */
  readonly type: string | undefined;
  readonly status: number;
  /** `$context.error.message`; null where API Gateway answers `{"message":null}`. */
  readonly message: string | null;
  readonly errorType?: string;
}

export const Errors = {
  missingToken: {
    type: 'MISSING_AUTHENTICATION_TOKEN',
    status: 403,
    message: 'Missing Authentication Token',
    errorType: 'MissingAuthenticationTokenException',
  },
  unauthorized: {
    type: 'UNAUTHORIZED',
    status: 401,
    message: 'Unauthorized',
    errorType: 'UnauthorizedException',
  },
  implicitDeny: {
    type: 'ACCESS_DENIED',
    status: 403,
    message: 'User is not authorized to access this resource',
    errorType: 'AccessDeniedException',
  },
  explicitDeny: {
    type: 'ACCESS_DENIED',
    status: 403,
    message: 'User is not authorized to access this resource with an explicit deny',
    errorType: 'AccessDeniedException',
  },
  authorizerConfiguration: {
    type: 'AUTHORIZER_CONFIGURATION_ERROR',
    status: 500,
    message: null,
    errorType: 'AuthorizerConfigurationException',
  },
  tooLarge: { type: 'REQUEST_TOO_LARGE', status: 413, message: 'Request Too Long' },
  throttled: { type: 'THROTTLED', status: 429, message: 'Too Many Requests' },
  lambdaFailure: {
    type: undefined,
    status: 502,
    message: 'Internal server error',
    errorType: 'InternalServerErrorException',
  },
  integrationTimeout: {
    type: 'INTEGRATION_TIMEOUT',
    status: 504,
    message: 'Endpoint request timed out',
  },
  internal: {
    type: undefined,
    status: 500,
    message: 'Internal server error',
    errorType: 'InternalServerErrorException',
  },
} as const satisfies Record<string, GatewayError>;

/**
 * The gateway's own answer to an integration Lambda refused without running it: an event over
 * Lambda's 6,291,456-byte request limit is API Gateway's 413 `Request Too Long` (the
 * REQUEST_TOO_LARGE response), though the body passed the gateway's 10 MiB. Undefined for a
 * function error (that is a 502).
 */
export function invokeRefusal(error: unknown): GatewayError | undefined {
  return error instanceof LambdaRequestTooLargeError ? Errors.tooLarge : undefined;
}

/** The message of a function error, as Lambda reports it (`errorMessage`) or as thrown. */
export function functionErrorMessage(error: unknown): string {
  if (error !== null && typeof error === 'object') {
    const reported = (error as { errorMessage?: unknown }).errorMessage;
    if (typeof reported === 'string') return reported;
  }
  if (error instanceof Error) {
    try {
      const parsed = JSON.parse(error.message) as { errorMessage?: unknown };
      if (typeof parsed?.errorMessage === 'string') return parsed.errorMessage;
    } catch {
      // not a Lambda error payload
    }
    return error.message;
  }
  return String(error);
}

/** The raw 408 a client gets when its request was not wholly received in time. */
export function requestTimeoutAnswer(timeoutMs: number): string {
  const body = JSON.stringify({
    error: {
      code: ErrorCodes.API_REQUEST_REFUSED,
      message: `The request was not received whole within ${timeoutMs / 1000} s`,
    },
  });
  const headers = [
    'HTTP/1.1 408 Request Timeout',
    'Content-Type: application/json',
    ...Object.entries(SECURITY_HEADERS).map(([name, value]) => `${name}: ${value}`),
    'Connection: close',
    `Content-Length: ${Buffer.byteLength(body)}`,
  ];
  return `${headers.join('\r\n')}\r\n\r\n${body}`;
}

/** Headers API Gateway never passes through from an integration; it renames them. */
const REMAPPED = new Set(['connection', 'content-length', 'date', 'server', 'transfer-encoding']);

/** A Lambda proxy result as the HTTP answer; a string says why it is malformed. */
export function proxyReply(value: unknown, requestId: string): Reply | string {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return 'not an object';
  }
  const result = value as Record<string, unknown>;
  const status =
    typeof result.statusCode === 'string' && /^\d+$/.test(result.statusCode)
      ? Number(result.statusCode)
      : result.statusCode;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599) {
    return `statusCode ${JSON.stringify(result.statusCode)}`;
  }
  if (result.body !== undefined && result.body !== null && typeof result.body !== 'string') {
    return 'body is not a string';
  }
  if (result.isBase64Encoded !== undefined && typeof result.isBase64Encoded !== 'boolean') {
    return 'isBase64Encoded is not a boolean';
  }
  const isPrimitive = (item: unknown) =>
    typeof item === 'string' || typeof item === 'number' || typeof item === 'boolean';
  const merged = new Map<string, { name: string; values: string[] }>();
  const single = result.headers ?? {};
  const multi = result.multiValueHeaders ?? {};
  if (single === null || typeof single !== 'object' || Array.isArray(single)) {
    return 'headers is not an object';
  }
  if (multi === null || typeof multi !== 'object' || Array.isArray(multi)) {
    return 'multiValueHeaders is not an object';
  }
  for (const [name, item] of Object.entries(single)) {
    if (item === null || item === undefined) continue;
    if (!isPrimitive(item)) return `headers.${name} is not a string`;
    merged.set(name.toLowerCase(), { name, values: [String(item)] });
  }
  // Where both name a header, multiValueHeaders wins.
  for (const [name, items] of Object.entries(multi)) {
    if (items === null || items === undefined) continue;
    if (!Array.isArray(items) || !items.every(isPrimitive)) {
      return `multiValueHeaders.${name} is not a list of strings`;
    }
    merged.set(name.toLowerCase(), { name, values: items.map(String) });
  }
  const headers: Array<[string, string]> = [];
  for (const [key, { name, values }] of merged) {
    const shown = REMAPPED.has(key) ? `x-amzn-Remapped-${name}` : name;
    for (const item of values) headers.push([shown, item]);
  }
  if (!merged.has('content-type')) headers.push(['Content-Type', 'application/json']);
  headers.push(['x-amzn-RequestId', requestId]);
  const text = typeof result.body === 'string' ? result.body : '';
  const body =
    result.isBase64Encoded === true ? Buffer.from(text, 'base64') : Buffer.from(text, 'utf8');
  return { status, headers, body };
}

/**
 * The gateway response for an error: the response of its type if the API defines one, else the
 * DEFAULT_4XX / DEFAULT_5XX one, else API Gateway's own `{"message": ...}`. A status code on
 * DEFAULT_4XX/5XX applies to every response of its class that does not set its own.
 */
export function renderGatewayResponse(
  model: RestApiModel,
  error: GatewayError,
  info: RequestInfo | undefined,
): Reply {
  const specific = error.type === undefined ? undefined : model.gatewayResponses[error.type];
  const fallback = model.gatewayResponses[error.status >= 500 ? 'DEFAULT_5XX' : 'DEFAULT_4XX'];
  const status = specific?.statusCode ?? fallback?.statusCode ?? error.status;
  const chosen = specific ?? fallback;
  const template = chosen?.template ?? '{"message":$context.error.messageString}';
  const requestId = info?.requestId ?? randomUUID();
  const variables: Record<string, string> = {
    'context.requestId': requestId,
    'context.extendedRequestId': requestId,
    'context.error.message': error.message ?? '',
    'context.error.responseType':
      error.type ?? (error.status >= 500 ? 'DEFAULT_5XX' : 'DEFAULT_4XX'),
    'context.error.validationErrorString': '',
    'context.stage': model.stage,
    'context.apiId': API_ID,
    'context.accountId': ACCOUNT,
    'context.httpMethod': info?.method ?? '',
    'context.path': info?.rawPath ?? '',
    'context.resourcePath': info?.resourcePath ?? '',
    'context.identity.sourceIp': info?.sourceIp ?? '',
  };
  const body = template.replace(
    /\$context\.[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*/g,
    (found, offset: number) => {
      const name = found.slice(1);
      if (name === 'context.error.messageString') {
        // `messageString` is the message as a JSON string, quotes included. Where the template
        // already quotes it ("message":"$context.error.messageString"), the quotes are not doubled.
        const quoted = template[offset - 1] === '"' && template[offset + found.length] === '"';
        if (error.message === null) return quoted ? '' : 'null';
        const json = JSON.stringify(error.message);
        return quoted ? json.slice(1, -1) : json;
      }
      return variables[name] ?? '';
    },
  );
  const headers: Array<[string, string]> = [['Content-Type', 'application/json']];
  for (const [name, value] of Object.entries(chosen?.headers ?? {})) {
    if (name.toLowerCase() === 'content-type') headers.splice(0, 1);
    headers.push([name, value]);
  }
  for (const [name, expression] of Object.entries(chosen?.headerMappings ?? {})) {
    const value = mappedValue(expression, info);
    if (value !== undefined) headers.push([name, value]);
  }
  if (error.errorType !== undefined) headers.push(['x-amzn-ErrorType', error.errorType]);
  headers.push(['x-amzn-RequestId', requestId]);
  return { status, headers, body: Buffer.from(body, 'utf8') };
}

/** A gateway response header mapped from the request (`method.request.header.Origin`, ...). */
function mappedValue(expression: string, info: RequestInfo | undefined): string | undefined {
  if (info === undefined) return undefined;
  const match = /^method\.request\.(header|querystring|path)\.(.+)$/.exec(expression);
  if (match === null) return undefined;
  const [, where, name] = match as unknown as [string, string, string];
  if (where === 'header') {
    const value = info.headers[name.toLowerCase()];
    return Array.isArray(value) ? value[value.length - 1] : value;
  }
  if (where === 'querystring') return info.query.single[name];
  return info.pathParameters?.[name];
}

export function send(
  req: IncomingMessage,
  res: ServerResponse,
  reply: Reply | undefined,
  log: (line: string) => void,
): void {
  if (reply === undefined || res.headersSent || res.destroyed) {
    if (reply === undefined && !res.destroyed) res.destroy();
    return;
  }
  try {
    const grouped = new Map<string, { name: string; values: string[] }>();
    for (const [name, value] of reply.headers) {
      const key = name.toLowerCase();
      const entry = grouped.get(key) ?? { name, values: [] };
      entry.values.push(value);
      grouped.set(key, entry);
    }
    for (const { name, values } of grouped.values()) {
      res.setHeader(name, values.length === 1 ? (values[0] as string) : values);
    }
    // A request whose body was not read whole (413) cannot leave the connection reusable.
    if (!req.complete) res.setHeader('Connection', 'close');
    res.statusCode = reply.status;
    res.end(reply.body);
  } catch (error) {
    log(`Local API Gateway could not answer: ${functionErrorMessage(error)}`);
    if (!res.headersSent) {
      res.removeHeader('Connection');
      for (const name of res.getHeaderNames()) res.removeHeader(name);
      res.statusCode = 502;
      res.setHeader('Content-Type', 'application/json');
      res.end('{"message":"Internal server error"}');
    } else {
      res.destroy();
    }
  }
}
