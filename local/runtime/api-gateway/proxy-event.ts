/** The Lambda proxy integration's event, as API Gateway builds it from a request. */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { ACCOUNT, API_ID, type ApiRoute } from '#local/runtime/api-gateway/model.ts';
import { headerValue, type RequestInfo } from '#local/runtime/api-gateway/request.ts';

export interface ProxyEventInput {
  readonly req: IncomingMessage;
  readonly info: RequestInfo;
  readonly route: ApiRoute;
  readonly body: Buffer;
  /** The body's type is one of the API's binary media types: it goes as base64, whatever it is. */
  readonly binary: boolean;
  readonly stage: string;
  readonly requestTimeEpoch: number;
  readonly authorizerContext: Record<string, unknown> | undefined;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function proxyEvent(input: ProxyEventInput): APIGatewayProxyEvent {
  const { req, info, route } = input;
  // Headers in the caller's case; a repeated header's last value in `headers`, all in `multiValueHeaders`.
  const multiValueHeaders: Record<string, string[]> = {};
  const raw = req.rawHeaders;
  for (let index = 0; index + 1 < raw.length; index += 2) {
    const name = raw[index] as string;
    if (!Object.hasOwn(multiValueHeaders, name)) multiValueHeaders[name] = [];
    multiValueHeaders[name]?.push(raw[index + 1] as string);
  }
  const existing = (lower: string) =>
    Object.keys(multiValueHeaders).find((name) => name.toLowerCase() === lower);
  const forwardedFor = existing('x-forwarded-for');
  if (forwardedFor === undefined) multiValueHeaders['X-Forwarded-For'] = [info.sourceIp];
  else {
    const values = multiValueHeaders[forwardedFor] as string[];
    values[values.length - 1] = `${values[values.length - 1]}, ${info.sourceIp}`;
  }
  if (existing('x-forwarded-port') === undefined) {
    multiValueHeaders['X-Forwarded-Port'] = [String(req.socket.localPort ?? '')];
  }
  if (existing('x-forwarded-proto') === undefined)
    multiValueHeaders['X-Forwarded-Proto'] = ['http'];
  if (existing('x-amzn-trace-id') === undefined) {
    multiValueHeaders['X-Amzn-Trace-Id'] = [traceId(input.requestTimeEpoch)];
  }
  const headers = Object.fromEntries(
    Object.entries(multiValueHeaders).map(([name, values]) => [name, values[values.length - 1]]),
  ) as Record<string, string>;

  let body: string | null = null;
  let isBase64Encoded = false;
  if (input.body.byteLength > 0) {
    try {
      if (input.binary) throw new Error('binary');
      body = utf8.decode(input.body);
    } catch {
      body = input.body.toString('base64');
      isBase64Encoded = true;
    }
  }
  const hasQuery = Object.keys(info.query.single).length > 0;
  const pathParameters = info.pathParameters ?? {};
  const hasPathParameters = Object.keys(pathParameters).length > 0;
  const userAgent = headerValue(req, 'user-agent') ?? null;
  return {
    resource: route.pathTemplate,
    path: info.rawPath,
    httpMethod: info.method,
    headers,
    multiValueHeaders,
    queryStringParameters: hasQuery ? info.query.single : null,
    multiValueQueryStringParameters: hasQuery ? info.query.multi : null,
    pathParameters: hasPathParameters ? pathParameters : null,
    stageVariables: null,
    requestContext: {
      accountId: ACCOUNT,
      apiId: API_ID,
      resourceId: createHash('sha256').update(route.pathTemplate).digest('hex').slice(0, 6),
      resourcePath: route.pathTemplate,
      httpMethod: info.method,
      path: `/${input.stage}${info.rawPath}`,
      stage: input.stage,
      requestId: info.requestId,
      extendedRequestId: info.requestId,
      requestTime: requestTime(input.requestTimeEpoch),
      requestTimeEpoch: input.requestTimeEpoch,
      protocol: `HTTP/${req.httpVersion}`,
      domainName: headerValue(req, 'host') ?? 'localhost',
      domainPrefix: (headerValue(req, 'host') ?? 'localhost').split('.')[0],
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: info.sourceIp,
        user: null,
        userAgent,
        userArn: null,
      },
      authorizer: input.authorizerContext,
    },
    body,
    isBase64Encoded,
  };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `$context.requestTime`: `24/Nov/2025:11:07:00 +0000`. */
function requestTime(epoch: number): string {
  const date = new Date(epoch);
  const two = (value: number) => String(value).padStart(2, '0');
  return `${two(date.getUTCDate())}/${MONTHS[date.getUTCMonth()]}/${date.getUTCFullYear()}:${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())} +0000`;
}

function traceId(epoch: number): string {
  return `Root=1-${Math.floor(epoch / 1000).toString(16)}-${randomBytes(12).toString('hex')}`;
}
