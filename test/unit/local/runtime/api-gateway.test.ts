// Quiet Powertools (the real authorizer logic logs), as the API tests have it.
import '../../functions/api/env.ts';
import { connect } from 'node:net';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { APIGatewayProxyEvent, APIGatewayTokenAuthorizerEvent } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CfnTemplate } from '../../../../infra/asl.ts';
import { parseStackConfig } from '../../../../infra/config.ts';
import { SparkT2iStack } from '../../../../infra/stack.ts';
import { LambdaFunctionError } from '../../../../local/lambda/errors.ts';
import {
  type LocalApiGateway,
  type RestApiModel,
  restApiFromTemplate,
  startApiGateway,
} from '../../../../local/runtime/api-gateway.ts';
import { authorizeToken } from '../../../../shared/api/authorizer.ts';
import { BEARER_TOKEN_PATTERN } from '../../../../shared/api/bearer.ts';
import { SECURITY_HEADERS } from '../../../../shared/api/responses.ts';
import { ErrorCodes } from '../../../../shared/errors/codes.ts';

const ALICE_KEY = 'alice_key_0123456789abcdef';
const BOB_KEY = 'bob-key-0123456789abcdef';
const REVOKED_KEY = 'revoked-0123456789abcdef';
/** A key as short as a local one (`SPARK_T2I_API_KEYS="dave:key1"`). */
const SHORT_KEY = 'key1';
const OWNERS: Record<string, string> = {
  [ALICE_KEY]: 'alice',
  [BOB_KEY]: 'bob',
  [SHORT_KEY]: 'dave',
};

let template: CfnTemplate;
let model: RestApiModel;

beforeAll(() => {
  // The deployed stack, synthesized in-process; the bundling-stacks context skips esbuild.
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new SparkT2iStack(app, 'SparkT2i', { config: parseStackConfig({}) });
  template = Template.fromStack(stack).toJSON() as CfnTemplate;
  model = restApiFromTemplate(template);
});

/** The logical id of the one function whose id starts with `prefix`. */
function functionId(prefix: string): string {
  const ids = Object.entries(template.Resources)
    .filter(([id, resource]) => resource.Type === 'AWS::Lambda::Function' && id.startsWith(prefix))
    .map(([id]) => id);
  expect(ids).toHaveLength(1);
  return ids[0] as string;
}

describe('restApiFromTemplate on the synthesized stack', () => {
  it('finds the authorised generation and batch routes and the open openapi and console routes', () => {
    const routes = model.routes.map(
      ({ method, pathTemplate, functionLogicalId, authorization }) => ({
        method,
        pathTemplate,
        functionLogicalId,
        authorization,
      }),
    );
    expect(routes).toEqual(
      expect.arrayContaining([
        {
          method: 'POST',
          pathTemplate: '/generations',
          functionLogicalId: functionId('ApiSubmitGeneration'),
          authorization: 'CUSTOM',
        },
        {
          method: 'GET',
          pathTemplate: '/generations',
          functionLogicalId: functionId('ApiListGenerations'),
          authorization: 'CUSTOM',
        },
        {
          method: 'GET',
          pathTemplate: '/generations/{id}',
          functionLogicalId: functionId('ApiGetGeneration'),
          authorization: 'CUSTOM',
        },
        {
          method: 'DELETE',
          pathTemplate: '/generations/{id}',
          functionLogicalId: functionId('ApiCancelGeneration'),
          authorization: 'CUSTOM',
        },
        {
          method: 'GET',
          pathTemplate: '/openapi.json',
          functionLogicalId: functionId('ApiOpenApi'),
          authorization: 'NONE',
        },
        {
          method: 'GET',
          pathTemplate: '/',
          functionLogicalId: functionId('ApiConsole'),
          authorization: 'NONE',
        },
        {
          method: 'GET',
          pathTemplate: '/console/{file}',
          functionLogicalId: functionId('ApiConsole'),
          authorization: 'NONE',
        },
        ...(
          [
            ['POST', '/batches', 'ApiSubmitBatch'],
            ['GET', '/batches', 'ApiReadBatches'],
            ['GET', '/batches/{id}', 'ApiReadBatches'],
            ['DELETE', '/batches/{id}', 'ApiCancelBatch'],
            ['GET', '/batches/{id}/generations', 'ApiReadBatches'],
            ['GET', '/batches/{id}/report', 'ApiReadBatches'],
            ['GET', '/webhooks/secret', 'ApiWebhookSecret'],
            ['POST', '/webhooks/secret/rotate', 'ApiWebhookSecret'],
            ['GET', '/generations/{id}/deliveries', 'ApiListDeliveries'],
          ] as const
        ).map(([method, pathTemplate, fn]) => ({
          method,
          pathTemplate,
          functionLogicalId: functionId(fn),
          authorization: 'CUSTOM',
        })),
      ]),
    );
    expect(routes.filter((route) => route.method !== 'ANY')).toHaveLength(16);
  });

  it('finds the mock ANY method of each resource that answers 405 with its Allow header', () => {
    const mocks = model.routes.filter((route) => route.method === 'ANY');
    expect(
      mocks.map((route) => [route.pathTemplate, route.mock?.statusCode, route.mock?.headers.Allow]),
    ).toEqual([
      ['/', 405, 'GET'],
      ['/batches', 405, 'GET, POST'],
      ['/batches/{id}', 405, 'GET, DELETE'],
      ['/batches/{id}/generations', 405, 'GET'],
      ['/batches/{id}/report', 405, 'GET'],
      ['/console/{file}', 405, 'GET'],
      ['/generations', 405, 'GET, POST'],
      ['/generations/{id}', 405, 'GET, DELETE'],
      ['/generations/{id}/deliveries', 405, 'GET'],
      ['/openapi.json', 405, 'GET'],
      ['/webhooks/secret', 405, 'GET'],
      ['/webhooks/secret/rotate', 405, 'POST'],
    ]);
  });

  it('finds the token authorizer on the Authorization header with its validation and cache TTL', () => {
    expect(model.authorizer).toEqual({
      functionLogicalId: functionId('ApiAuthorizer'),
      headerName: 'Authorization',
      validationRegex: BEARER_TOKEN_PATTERN,
      cacheTtlSeconds: 300,
    });
  });

  it('reads the stage, its throttling and every gateway response of the template', () => {
    expect(model.stage).toBe('v1');
    expect(model.throttle).toEqual({
      rateLimit: expect.any(Number),
      burstLimit: expect.any(Number),
    });
    expect(Object.keys(model.gatewayResponses).sort()).toEqual(
      [
        'ACCESS_DENIED',
        'DEFAULT_4XX',
        'DEFAULT_5XX',
        'MISSING_AUTHENTICATION_TOKEN',
        'QUOTA_EXCEEDED',
        'REQUEST_TOO_LARGE',
        'RESOURCE_NOT_FOUND',
        'THROTTLED',
        'UNAUTHORIZED',
        'UNSUPPORTED_MEDIA_TYPE',
      ].sort(),
    );
    expect(model.gatewayResponses.MISSING_AUTHENTICATION_TOKEN?.statusCode).toBe(404);
    expect(model.gatewayResponses.UNAUTHORIZED?.template).toContain('$context.error.messageString');
  });

  it('refuses a template without a REST API', () => {
    expect(() => restApiFromTemplate({ Resources: {} })).toThrow(/AWS::ApiGateway::RestApi/);
  });
});

interface Call {
  readonly functionLogicalId: string;
  readonly event: unknown;
}

/** A fake Lambda service: the real authorizer logic over fixed keys, echoing route functions. */
function fakeLambda() {
  const calls: Call[] = [];
  const behaviours = new Map<string, (event: APIGatewayProxyEvent) => unknown>();
  let authorizerOverride: ((event: APIGatewayTokenAuthorizerEvent) => unknown) | undefined;
  const invoke = async (functionLogicalId: string, event: unknown): Promise<unknown> => {
    calls.push({ functionLogicalId, event });
    if (functionLogicalId === model.authorizer?.functionLogicalId) {
      const tokenEvent = event as APIGatewayTokenAuthorizerEvent;
      if (authorizerOverride) return authorizerOverride(tokenEvent);
      return authorizeToken(tokenEvent, { resolve: async (key) => OWNERS[key] });
    }
    const behaviour = behaviours.get(functionLogicalId);
    if (behaviour) return behaviour(event as APIGatewayProxyEvent);
    return {
      statusCode: 200,
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(event),
    };
  };
  return {
    invoke,
    calls,
    behaviours,
    setAuthorizer(fn: ((event: APIGatewayTokenAuthorizerEvent) => unknown) | undefined) {
      authorizerOverride = fn;
    },
    callsOf: (functionLogicalId: string | undefined) =>
      calls.filter((call) => call.functionLogicalId === functionLogicalId),
    reset() {
      calls.length = 0;
      behaviours.clear();
      authorizerOverride = undefined;
    },
  };
}

const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

async function errorOf(response: Response): Promise<{ code: string; message: string }> {
  expect(response.headers.get('content-type')).toBe('application/json');
  const body = (await response.json()) as { error: { code: string; message: string } };
  return body.error;
}

describe('the local gateway on the synthesized API', () => {
  const lambda = fakeLambda();
  let gateway: LocalApiGateway;
  let clock = 1_000_000;
  const logged: string[] = [];

  beforeAll(async () => {
    gateway = await startApiGateway({
      model,
      invoke: lambda.invoke,
      now: () => clock,
      log: (line) => logged.push(line),
    });
  });
  afterAll(() => gateway.close());
  beforeEach(() => {
    lambda.reset();
    gateway.clearAuthorizerCache();
    logged.length = 0;
  });

  const api = (path: string, init: RequestInit = {}) => fetch(`${gateway.url}${path}`, init);
  const echoed = async (response: Response) => {
    expect(response.status).toBe(200);
    return (await response.json()) as APIGatewayProxyEvent;
  };

  it('listens on 127.0.0.1 and gives its URL without a trailing slash', () => {
    expect(gateway.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(gateway.url).toBe(`http://127.0.0.1:${gateway.port}`);
  });

  it('gives the route function the path parameters URL-decoded, the resource and the stage', async () => {
    const event = await echoed(
      await api('/generations/gen%20one%2Fx', { headers: bearer(ALICE_KEY) }),
    );
    expect(event.resource).toBe('/generations/{id}');
    expect(event.path).toBe('/generations/gen%20one%2Fx');
    expect(event.httpMethod).toBe('GET');
    expect(event.pathParameters).toEqual({ id: 'gen one/x' });
    expect(event.requestContext).toMatchObject({
      stage: 'v1',
      resourcePath: '/generations/{id}',
      httpMethod: 'GET',
      path: '/v1/generations/gen%20one%2Fx',
      identity: { sourceIp: '127.0.0.1' },
    });
    expect(event.requestContext.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(event.requestContext.requestTimeEpoch).toBeGreaterThan(0);
    expect(lambda.callsOf(functionId('ApiGetGeneration'))).toHaveLength(1);
  });

  it('gives the query string as single values (the last) and as lists', async () => {
    const event = await echoed(
      await api('/generations?status=running&limit=5&limit=7&cursor=a%2Bb%3D&flag', {
        headers: bearer(ALICE_KEY),
      }),
    );
    expect(event.queryStringParameters).toEqual({
      status: 'running',
      limit: '7',
      cursor: 'a+b=',
      flag: '',
    });
    expect(event.multiValueQueryStringParameters).toEqual({
      status: ['running'],
      limit: ['5', '7'],
      cursor: ['a+b='],
      flag: [''],
    });
    expect(event.pathParameters).toBeNull();
    expect(event.body).toBeNull();
    expect(event.isBase64Encoded).toBe(false);
  });

  it("gives the headers in the caller's case, single and multi-valued", async () => {
    const headers = new Headers(bearer(ALICE_KEY));
    headers.append('X-Custom', 'one');
    headers.append('x-custom', 'two');
    const event = await echoed(await api('/generations', { headers }));
    const authorization = Object.entries(event.headers).find(
      ([name]) => name.toLowerCase() === 'authorization',
    );
    expect(authorization?.[1]).toBe(`Bearer ${ALICE_KEY}`);
    const custom = Object.entries(event.multiValueHeaders).find(
      ([name]) => name.toLowerCase() === 'x-custom',
    );
    expect(custom?.[1]?.join(', ')).toMatch(/one.*two/);
    expect(event.headers['X-Forwarded-For']).toBe('127.0.0.1');
  });

  it('keeps a header name exactly as a raw HTTP client sent it', async () => {
    const raw = await rawRequest(
      gateway.port,
      `GET /generations HTTP/1.1\r\nHost: localhost\r\nAUTHORIZATION: Bearer ${ALICE_KEY}\r\nX-MiXeD-CaSe: yes\r\nConnection: close\r\n\r\n`,
    );
    expect(raw).toMatch(/^HTTP\/1\.1 200/);
    const event = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as APIGatewayProxyEvent;
    expect(event.headers['X-MiXeD-CaSe']).toBe('yes');
    expect(event.multiValueHeaders['X-MiXeD-CaSe']).toEqual(['yes']);
    expect(event.headers.AUTHORIZATION).toBe(`Bearer ${ALICE_KEY}`);
  });

  it('sends every body as the bytes sent, base64-encoded: the API declares every type binary', async () => {
    expect(model.binaryMediaTypes).toEqual(['*/*']);
    for (const [contentType, bytes] of [
      ['application/json', Buffer.from('{"prompt":"un phare à l’aube"}')],
      ['application/json', Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d])],
      ['application/octet-stream', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff, 0xfe])],
      [undefined, Buffer.from('{"prompt":"no type"}')],
    ] as const) {
      const event = await echoed(
        await api('/generations', {
          method: 'POST',
          headers: {
            ...bearer(ALICE_KEY),
            ...(contentType !== undefined && { 'Content-Type': contentType }),
          },
          body: bytes,
        }),
      );
      expect(event.isBase64Encoded).toBe(true);
      expect(Buffer.from(event.body ?? '', 'base64')).toEqual(bytes);
    }
  });

  it('sends a UTF-8 body as text, and any other as base64, to an API without binary media types', async () => {
    const textual = await startApiGateway({
      model: { ...model, binaryMediaTypes: [] },
      invoke: async (_id, event) =>
        _id === model.authorizer?.functionLogicalId
          ? authorizeToken(event as APIGatewayTokenAuthorizerEvent, {
              resolve: async () => 'alice',
            })
          : { statusCode: 200, body: JSON.stringify(event) },
      log: () => undefined,
    });
    try {
      const send = async (bytes: Buffer) =>
        (await (
          await fetch(`${textual.url}/generations`, {
            method: 'POST',
            headers: { ...bearer(ALICE_KEY), 'Content-Type': 'application/json' },
            body: bytes,
          })
        ).json()) as APIGatewayProxyEvent;
      const text = await send(Buffer.from('{"prompt":"un phare à l’aube"}'));
      expect(text).toMatchObject({
        body: '{"prompt":"un phare à l’aube"}',
        isBase64Encoded: false,
      });
      const bytes = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff, 0xfe]);
      const binary = await send(bytes);
      expect(binary.isBase64Encoded).toBe(true);
      expect(Buffer.from(binary.body ?? '', 'base64')).toEqual(bytes);
    } finally {
      await textual.close();
    }
  });

  it('serves GET /openapi.json without calling the authorizer', async () => {
    const event = await echoed(await api('/openapi.json'));
    expect(event.resource).toBe('/openapi.json');
    expect(event.requestContext.authorizer).toBeUndefined();
    expect(lambda.callsOf(model.authorizer?.functionLogicalId)).toHaveLength(0);
  });

  it("passes the authorizer's context and principal to the route function", async () => {
    const event = await echoed(await api('/generations', { headers: bearer(BOB_KEY) }));
    expect(event.requestContext.authorizer).toMatchObject({ owner: 'bob', principalId: 'bob' });
  });

  it('asks the authorizer with a TOKEN event and the method ARN of the request', async () => {
    await api('/generations/abc', { method: 'DELETE', headers: bearer(ALICE_KEY) });
    expect(lambda.callsOf(model.authorizer?.functionLogicalId).map((call) => call.event)).toEqual([
      {
        type: 'TOKEN',
        authorizationToken: `Bearer ${ALICE_KEY}`,
        methodArn: 'arn:aws:execute-api:us-east-1:000000000000:local/v1/DELETE/generations/abc',
      },
    ]);
  });

  it('answers 401 without an Authorization header, without calling the authorizer', async () => {
    const response = await api('/generations');
    expect(response.status).toBe(401);
    expect(await errorOf(response)).toEqual({
      code: ErrorCodes.API_UNAUTHORIZED,
      message: 'Unauthorized',
    });
    expect(lambda.calls).toHaveLength(0);
  });

  it('answers 401 for an Authorization header the validation expression refuses, without calling the authorizer', async () => {
    for (const value of ['Basic dXNlcjpwYXNzd29yZA==', 'Bearer', 'Bearer two keys', '']) {
      const response = await api('/generations', { headers: { Authorization: value } });
      expect(response.status).toBe(401);
      expect((await errorOf(response)).code).toBe(ErrorCodes.API_UNAUTHORIZED);
    }
    expect(lambda.calls).toHaveLength(0);
  });

  it('passes any key and the scheme in any case to the authorizer, as API Gateway would', async () => {
    for (const value of [`Bearer ${SHORT_KEY}`, `bearer ${SHORT_KEY}`, `BEARER  ${SHORT_KEY} `]) {
      lambda.reset();
      const response = await api('/generations', { headers: { Authorization: value } });
      expect(response.status).toBe(200);
      expect(lambda.callsOf(model.authorizer?.functionLogicalId)).toHaveLength(1);
      const event = (await response.json()) as APIGatewayProxyEvent;
      expect(event.requestContext.authorizer).toMatchObject({ owner: 'dave' });
    }
  });

  it('answers 401 when the authorizer rejects the key', async () => {
    const response = await api('/generations', { headers: bearer(REVOKED_KEY) });
    expect(response.status).toBe(401);
    expect(await errorOf(response)).toEqual({
      code: ErrorCodes.API_UNAUTHORIZED,
      message: 'Unauthorized',
    });
    expect(lambda.callsOf(model.authorizer?.functionLogicalId)).toHaveLength(1);
    expect(lambda.callsOf(functionId('ApiListGenerations'))).toHaveLength(0);
  });

  it('answers 401 when the local Lambda reports the authorizer error Unauthorized', async () => {
    lambda.setAuthorizer(() => {
      throw new LambdaFunctionError('Error', 'Unauthorized');
    });
    const response = await api('/generations', { headers: bearer(ALICE_KEY) });
    expect(response.status).toBe(401);
  });

  it('answers the 5XX response when the authorizer fails with another error, as API Gateway does', async () => {
    lambda.setAuthorizer(() => {
      throw new LambdaFunctionError('ResourceNotFoundException', 'table not found');
    });
    const response = await api('/generations', { headers: bearer(ALICE_KEY) });
    expect(response.status).toBe(500);
    expect((await errorOf(response)).code).toBe(ErrorCodes.API_INTERNAL_ERROR);
    expect(logged.join('\n')).toContain('table not found');
  });

  it('answers the ACCESS_DENIED response when the policy does not allow the method', async () => {
    lambda.setAuthorizer((event) => ({
      principalId: 'alice',
      policyDocument: {
        Version: '2012-10-17',
        Statement: [
          { Action: 'execute-api:Invoke', Effect: 'Allow', Resource: event.methodArn },
          {
            Action: 'execute-api:Invoke',
            Effect: 'Deny',
            Resource: 'arn:aws:execute-api:*:*:*/v1/DELETE/*',
          },
        ],
      },
      context: { owner: 'alice' },
    }));
    // Allowed for GET /generations only; explicitly denied for any DELETE.
    expect((await api('/generations', { headers: bearer(ALICE_KEY) })).status).toBe(200);
    const other = await api('/generations/abc', { headers: bearer(ALICE_KEY) });
    expect(other.status).toBe(401);
    expect(await errorOf(other)).toEqual({
      code: ErrorCodes.API_UNAUTHORIZED,
      message: 'User is not authorized to access this resource',
    });
    const denied = await api('/generations/abc', { method: 'DELETE', headers: bearer(ALICE_KEY) });
    expect(denied.status).toBe(401);
    expect((await errorOf(denied)).message).toBe(
      'User is not authorized to access this resource with an explicit deny',
    );
    // One answer, cached for the token and evaluated per method.
    expect(lambda.callsOf(model.authorizer?.functionLogicalId)).toHaveLength(1);
    expect(lambda.callsOf(functionId('ApiGetGeneration'))).toHaveLength(0);
  });

  it("caches the authorizer's whole-API answer per token across routes until the cache is cleared", async () => {
    await echoed(await api('/generations', { headers: bearer(ALICE_KEY) }));
    await echoed(await api('/generations/abc', { headers: bearer(ALICE_KEY) }));
    expect(lambda.callsOf(model.authorizer?.functionLogicalId)).toHaveLength(1);

    // Another token is another cache entry.
    await echoed(await api('/generations', { headers: bearer(BOB_KEY) }));
    expect(lambda.callsOf(model.authorizer?.functionLogicalId)).toHaveLength(2);

    gateway.clearAuthorizerCache();
    await echoed(await api('/generations', { headers: bearer(ALICE_KEY) }));
    expect(lambda.callsOf(model.authorizer?.functionLogicalId)).toHaveLength(3);
  });

  it('serves a revoked key from the cache until its TTL passes', async () => {
    const key = 'carol-key-0123456789abcdef';
    OWNERS[key] = 'carol';
    try {
      await echoed(await api('/generations', { headers: bearer(key) }));
      delete OWNERS[key];
      clock += (model.authorizer?.cacheTtlSeconds ?? 0) * 1000 - 1;
      await echoed(await api('/generations', { headers: bearer(key) }));
      clock += 2;
      expect((await api('/generations', { headers: bearer(key) })).status).toBe(401);
      expect(lambda.callsOf(model.authorizer?.functionLogicalId)).toHaveLength(2);
    } finally {
      delete OWNERS[key];
    }
  });

  it('does not cache a rejection', async () => {
    expect((await api('/generations', { headers: bearer(REVOKED_KEY) })).status).toBe(401);
    expect((await api('/generations', { headers: bearer(REVOKED_KEY) })).status).toBe(401);
    expect(lambda.callsOf(model.authorizer?.functionLogicalId)).toHaveLength(2);
  });

  it('answers 404 Missing Authentication Token for an unknown path, authorised or not', async () => {
    for (const init of [{}, { headers: bearer(ALICE_KEY) }]) {
      const response = await api('/nothing/here', init);
      expect(response.status).toBe(404);
      expect(await errorOf(response)).toEqual({
        code: ErrorCodes.API_NOT_FOUND,
        message: 'Missing Authentication Token',
      });
    }
    // `/` is the console page; its folder has no method of its own, and no deeper path.
    expect((await api('/console', {})).status).toBe(404);
    expect((await api('/console/a/b', {})).status).toBe(404);
    expect((await api('/generations/a/b', { headers: bearer(ALICE_KEY) })).status).toBe(404);
    expect(lambda.calls).toHaveLength(0);
  });

  it('answers 405 from the mock for a known path with a method it does not have, calling no function', async () => {
    for (const [method, path] of [
      ['PUT', '/generations'],
      ['DELETE', '/generations'],
      ['POST', '/generations/abc'],
      ['POST', '/openapi.json'],
    ] as const) {
      const response = await api(path, { method, headers: bearer(ALICE_KEY) });
      expect(response.status).toBe(405);
      expect((await errorOf(response)).code).toBe(ErrorCodes.API_METHOD_NOT_ALLOWED);
    }
    expect(lambda.calls).toHaveLength(0);
  });

  it('treats a trailing slash as the same resource', async () => {
    const event = await echoed(await api('/generations/abc/', { headers: bearer(ALICE_KEY) }));
    expect(event.resource).toBe('/generations/{id}');
    expect(event.pathParameters).toEqual({ id: 'abc' });
  });

  it('answers 413 for a body over 10 MiB without calling anything', async () => {
    const response = await api('/generations', {
      method: 'POST',
      headers: { ...bearer(ALICE_KEY), 'Content-Type': 'application/json' },
      body: Buffer.alloc(10 * 1024 * 1024 + 1, 0x20),
    });
    expect(response.status).toBe(413);
    expect(await errorOf(response)).toEqual({
      code: ErrorCodes.API_BODY_TOO_LARGE,
      message: 'Request Too Long',
    });
    expect(lambda.calls).toHaveLength(0);
    // The gateway is still there.
    expect((await api('/openapi.json')).status).toBe(200);
  });

  it.each([
    ['401', '/generations', {}],
    ['404', '/nothing/here', {}],
    ['405', '/generations', { method: 'PUT', headers: bearer(ALICE_KEY) }],
    [
      '413',
      '/generations',
      { method: 'POST', headers: bearer(ALICE_KEY), body: Buffer.alloc(10 * 1024 * 1024 + 1) },
    ],
  ] as const)(
    'gives its own %s answer the same security headers as the handlers, and JSON',
    async (status, path, init) => {
      const response = await api(path, init as RequestInit);
      expect(String(response.status)).toBe(status);
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
        expect(response.headers.get(name), name).toBe(value);
      }
      expect(response.headers.get('content-type')).toBe('application/json');
    },
  );

  it('gives its DEFAULT_5XX answer the same security headers as the handlers', async () => {
    lambda.behaviours.set(functionId('ApiListGenerations'), () => {
      throw new LambdaFunctionError('TypeError', 'boom');
    });
    const response = await api('/generations', { headers: bearer(ALICE_KEY) });
    expect(response.status).toBe(500);
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
      expect(response.headers.get(name), name).toBe(value);
    }
  });

  it('answers the DEFAULT_5XX response (500 in this template) when the function throws', async () => {
    lambda.behaviours.set(functionId('ApiListGenerations'), () => {
      throw new LambdaFunctionError('TypeError', 'boom');
    });
    const response = await api('/generations', { headers: bearer(ALICE_KEY) });
    expect(response.status).toBe(500);
    expect(await errorOf(response)).toEqual({
      code: ErrorCodes.API_INTERNAL_ERROR,
      message: 'Internal server error',
    });
    expect(logged.join('\n')).toContain('boom');
  });

  it('answers the DEFAULT_5XX response when the function returns something that is not a proxy result', async () => {
    for (const answer of [
      null,
      'ok',
      { body: 'no status' },
      { statusCode: 200, body: { not: 'a string' } },
      { statusCode: 200, headers: { 'X-Nested': { a: 1 } } },
    ]) {
      lambda.behaviours.set(functionId('ApiListGenerations'), () => answer);
      const response = await api('/generations', { headers: bearer(ALICE_KEY) });
      expect(response.status).toBe(500);
      expect((await errorOf(response)).code).toBe(ErrorCodes.API_INTERNAL_ERROR);
    }
  });

  it("answers with the function's status, single and multi-value headers and decoded base64 body", async () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0xff]);
    lambda.behaviours.set(functionId('ApiGetGeneration'), () => ({
      statusCode: 201,
      headers: { 'Content-Type': 'image/png', 'X-Single': 'one', 'X-Both': 'from-headers' },
      multiValueHeaders: { 'Set-Cookie': ['a=1', 'b=2'], 'X-Both': ['m1', 'm2'] },
      body: png.toString('base64'),
      isBase64Encoded: true,
    }));
    const response = await api('/generations/abc', { headers: bearer(ALICE_KEY) });
    expect(response.status).toBe(201);
    expect(response.headers.get('content-type')).toBe('image/png');
    expect(response.headers.get('x-single')).toBe('one');
    expect(response.headers.get('x-both')).toBe('m1, m2');
    expect(response.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(response.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
    expect(Buffer.from(await response.arrayBuffer())).toEqual(png);
  });

  it('answers application/json when the function names no content type, and an empty body when it gives none', async () => {
    lambda.behaviours.set(functionId('ApiCancelGeneration'), () => ({ statusCode: 204 }));
    const response = await api('/generations/abc', {
      method: 'DELETE',
      headers: bearer(ALICE_KEY),
    });
    expect(response.status).toBe(204);
    expect(await response.text()).toBe('');
  });

  it('survives malformed requests and clients that disconnect mid-request', async () => {
    const garbage = await rawRequest(gateway.port, 'THIS IS NOT HTTP\r\n\r\n');
    expect(garbage).toMatch(/^HTTP\/1\.1 400/);

    // A body promised but never sent whole.
    await new Promise<void>((resolve) => {
      const socket = connect(gateway.port, '127.0.0.1', () => {
        socket.write(
          `POST /generations HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${ALICE_KEY}\r\nContent-Length: 100\r\n\r\n{"pro`,
          () => {
            socket.destroy();
            resolve();
          },
        );
      });
    });

    // A client that leaves while the function runs.
    let release: () => void = () => undefined;
    lambda.behaviours.set(
      functionId('ApiListGenerations'),
      () =>
        new Promise((resolve) => {
          release = () => resolve({ statusCode: 200, body: 'late' });
        }),
    );
    const controller = new AbortController();
    const pending = api('/generations', { headers: bearer(ALICE_KEY), signal: controller.signal });
    await waitFor(() => lambda.callsOf(functionId('ApiListGenerations')).length === 1);
    controller.abort();
    await expect(pending).rejects.toThrow();
    release();

    expect((await api('/generations/%E0%A4%A', { headers: bearer(ALICE_KEY) })).status).toBe(200);
    expect((await api('/openapi.json')).status).toBe(200);
  });
});

describe('the local gateway on hand-written models', () => {
  const base: RestApiModel = {
    restApiLogicalId: 'Api',
    stage: 'test',
    routes: [
      {
        method: 'GET',
        pathTemplate: '/things',
        functionLogicalId: 'Things',
        authorization: 'NONE',
      },
      {
        method: 'GET',
        pathTemplate: '/search',
        functionLogicalId: 'Search',
        authorization: 'NONE',
        requiredParameters: ['method.request.querystring.q'],
      },
      {
        method: 'ANY',
        pathTemplate: '/files/{path+}',
        functionLogicalId: 'Files',
        authorization: 'NONE',
      },
    ],
    gatewayResponses: {},
  };
  const started: LocalApiGateway[] = [];
  afterAll(() => Promise.all(started.map((gateway) => gateway.close())));

  async function start(
    model: RestApiModel,
    invoke: (id: string, event: unknown) => Promise<unknown>,
    extra: {
      maxBodyBytes?: number;
      integrationTimeoutMs?: number;
      enforceThrottling?: boolean;
    } = {},
  ) {
    const gateway = await startApiGateway({ model, invoke, log: () => undefined, ...extra });
    started.push(gateway);
    return gateway;
  }
  const echo = async (_id: string, event: unknown) => ({
    statusCode: 200,
    body: JSON.stringify(event),
  });

  it("answers API Gateway's own default bodies when the API customises none", async () => {
    const gateway = await start(base, async () => {
      throw new Error('boom');
    });
    const missing = await fetch(`${gateway.url}/nope`);
    expect(missing.status).toBe(403);
    expect(await missing.json()).toEqual({ message: 'Missing Authentication Token' });
    const failed = await fetch(`${gateway.url}/things`);
    expect(failed.status).toBe(502);
    expect(await failed.json()).toEqual({ message: 'Internal server error' });
  });

  it("renders a gateway response's template, static headers and headers mapped from the request", async () => {
    const gateway = await start(
      {
        ...base,
        gatewayResponses: {
          MISSING_AUTHENTICATION_TOKEN: {
            statusCode: 404,
            headers: { 'X-Content-Type-Options': 'nosniff' },
            headerMappings: { 'Access-Control-Allow-Origin': 'method.request.header.Origin' },
            template:
              '{"message":$context.error.messageString,"quoted":"$context.error.messageString","type":"$context.error.responseType"}',
          },
        },
      },
      echo,
    );
    const response = await fetch(`${gateway.url}/nope`, {
      headers: { Origin: 'https://a.example' },
    });
    expect(response.status).toBe(404);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('access-control-allow-origin')).toBe('https://a.example');
    expect(await response.json()).toEqual({
      message: 'Missing Authentication Token',
      quoted: 'Missing Authentication Token',
      type: 'MISSING_AUTHENTICATION_TOKEN',
    });
  });

  it('applies a DEFAULT_4XX status and template to the 4XX responses the API does not customise', async () => {
    const gateway = await start(
      {
        ...base,
        gatewayResponses: {
          DEFAULT_4XX: {
            statusCode: 400,
            headers: {},
            template: '{"oops":"$context.error.message"}',
          },
        },
      },
      echo,
    );
    const response = await fetch(`${gateway.url}/nope`);
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ oops: 'Missing Authentication Token' });
  });

  it('matches {proxy+} paths and ANY methods', async () => {
    const gateway = await start(base, echo);
    const response = await fetch(`${gateway.url}/files/a/b%20c/d.txt`, { method: 'PATCH' });
    const event = (await response.json()) as APIGatewayProxyEvent;
    expect(event.resource).toBe('/files/{path+}');
    expect(event.pathParameters).toEqual({ path: 'a/b c/d.txt' });
    expect(event.httpMethod).toBe('PATCH');
  });

  it('refuses a request without a required parameter when the validator checks parameters', async () => {
    const gateway = await start(base, echo);
    const missing = await fetch(`${gateway.url}/search`);
    expect(missing.status).toBe(400);
    expect(await missing.json()).toEqual({ message: 'Missing required request parameters: [q]' });
    expect((await fetch(`${gateway.url}/search?q=x`)).status).toBe(200);
  });

  it('answers 413 for a body over maxBodyBytes, streamed or declared', async () => {
    const gateway = await start(base, echo, { maxBodyBytes: 1024 });
    const declared = await fetch(`${gateway.url}/things`, {
      method: 'POST',
      body: 'x'.repeat(1025),
    });
    expect(declared.status).toBe(413);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let index = 0; index < 4; index += 1) controller.enqueue(new Uint8Array(512));
        controller.close();
      },
    });
    const streamed = await fetch(`${gateway.url}/files/x`, {
      method: 'POST',
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(streamed.status).toBe(413);
    const fits = await fetch(`${gateway.url}/files/x`, { method: 'POST', body: 'x'.repeat(1024) });
    expect(fits.status).toBe(200);
  });

  it('answers 504 when the function outlasts the integration timeout', async () => {
    const gateway = await start(base, () => new Promise(() => undefined), {
      integrationTimeoutMs: 50,
    });
    const response = await fetch(`${gateway.url}/things`);
    expect(response.status).toBe(504);
    expect(await response.json()).toEqual({ message: 'Endpoint request timed out' });
  });

  it("throttles at the stage's burst limit when asked to", async () => {
    const gateway = await start({ ...base, throttle: { rateLimit: 1, burstLimit: 2 } }, echo, {
      enforceThrottling: true,
    });
    const statuses = [];
    for (let index = 0; index < 3; index += 1) {
      statuses.push((await fetch(`${gateway.url}/things`)).status);
    }
    expect(statuses).toEqual([200, 200, 429]);
  });

  it('closes promptly with keep-alive connections open, and can be closed twice', async () => {
    const gateway = await startApiGateway({ model: base, invoke: echo, log: () => undefined });
    const socket = connect(gateway.port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write('GET /things HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n');
    await new Promise<void>((resolve) => socket.once('data', () => resolve()));
    const closedAt = Date.now();
    await gateway.close();
    await gateway.close();
    expect(Date.now() - closedAt).toBeLessThan(1000);
    socket.destroy();
  });
});

/** Sends raw bytes and returns everything the server answers before closing. */
describe('slow clients and open connections', () => {
  const lambda = fakeLambda();
  /** Short here; 30 s by default, so the test does not wait for the real limit. */
  const RECEIVE_MS = 300;
  let gateway: LocalApiGateway;

  beforeAll(async () => {
    gateway = await startApiGateway({
      model,
      invoke: lambda.invoke,
      requestReceiveTimeoutMs: RECEIVE_MS,
      maxConnections: 4,
      log: () => undefined,
    });
  });
  afterAll(() => gateway.close());
  beforeEach(() => lambda.reset());

  /** Writes `parts` over a raw socket, `gapMs` apart; answers what came back and when it closed. */
  function slowClient(parts: readonly string[], gapMs: number) {
    return new Promise<{ answer: string; closedAfterMs: number }>((resolve, reject) => {
      const started = Date.now();
      const chunks: Buffer[] = [];
      const socket = connect(gateway.port, '127.0.0.1');
      let next = 0;
      const timer = setInterval(() => {
        if (next < parts.length && socket.writable) socket.write(parts[next++] as string);
      }, gapMs);
      socket.on('data', (chunk) => chunks.push(chunk));
      socket.on('error', () => undefined);
      socket.on('close', () => {
        clearInterval(timer);
        resolve({
          answer: Buffer.concat(chunks).toString('utf8'),
          closedAfterMs: Date.now() - started,
        });
      });
      setTimeout(() => {
        socket.destroy();
        reject(new Error('the gateway never cut the slow request'));
      }, 5000);
    });
  }

  it('cuts a request whose headers are not wholly received in time, with 408 in the error shape', async () => {
    // Act: one header line every 100 ms, never the blank line that ends them.
    const { answer, closedAfterMs } = await slowClient(
      ['GET /generations HTTP/1.1\r\n', 'Host: localhost\r\n', ...Array(40).fill('X-Slow: 1\r\n')],
      100,
    );

    // Assess
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(answer).toContain(ErrorCodes.API_REQUEST_REFUSED);
    expect(closedAfterMs).toBeGreaterThanOrEqual(RECEIVE_MS - 50);
    expect(closedAfterMs).toBeLessThan(2000);
    expect(lambda.calls).toHaveLength(0);
  });

  it('cuts a request whose body is not wholly received in time, before any function runs', async () => {
    // Act: the headers at once, then the body a byte at a time.
    const head = `POST /generations HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${ALICE_KEY}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n`;
    const { answer, closedAfterMs } = await slowClient([head, ...Array(100).fill('x')], 50);

    // Assess
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(closedAfterMs).toBeLessThan(2000);
    expect(lambda.calls).toHaveLength(0);
  });

  it('does not cut a request received in time whose function takes longer than that', async () => {
    // Prepare
    lambda.behaviours.set(functionId('ApiListGenerations'), async () => {
      await new Promise((resolve) => setTimeout(resolve, RECEIVE_MS * 3));
      return { statusCode: 200, body: '{"items":[]}' };
    });

    // Act
    const response = await fetch(`${gateway.url}/generations`, { headers: bearer(ALICE_KEY) });

    // Assess
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ items: [] });
  });

  it('holds at most maxConnections open: one more is closed at once, and a freed place is taken again', async () => {
    // Prepare: four idle connections, the cap.
    const open = await Promise.all(
      Array.from(
        { length: 4 },
        () =>
          new Promise<ReturnType<typeof connect>>((resolve) => {
            const socket = connect(gateway.port, '127.0.0.1', () => resolve(socket));
            socket.on('error', () => undefined);
          }),
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 50));

    // Act
    const refused = await rawRequest(
      gateway.port,
      'GET /openapi.json HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
    ).catch(() => '');
    for (const socket of open) socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const served = await rawRequest(
      gateway.port,
      'GET /openapi.json HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
    );

    // Assess
    expect(refused).toBe('');
    expect(served).toMatch(/^HTTP\/1\.1 200/);
  });
});

function rawRequest(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, '127.0.0.1', () => socket.write(request));
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
