/**
 * What the API tests share: a fake Lambda context, API Gateway event builders, stored records,
 * and an in-memory stand-in for the idempotency table that speaks the DynamoDB calls Powertools
 * makes. The environment is set by `env.ts`, which each test file imports first.
 */
import './env.ts';
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type {
  APIGatewayProxyEvent,
  APIGatewayProxyResult,
  APIGatewayTokenAuthorizerEvent,
  Context,
} from 'aws-lambda';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import { beforeEach, expect } from 'vitest';
import { ErrorCodes } from '#shared/errors/codes.ts';
import { ACCOUNT, CURSOR_SECRET, CURSOR_SECRET_ID, IMAGES_BUCKET, REGION } from './env.ts';

/** The AWS clients the API functions speak to, mocked. */
export interface ApiClientMocks {
  /** The document client over the generations, batches and API keys tables. */
  readonly documents: AwsClientStub<DynamoDBDocumentClient>;
  /** The low-level client Powertools' idempotency layer speaks to (see `fakeIdempotencyTable`). */
  readonly idempotencyDb: AwsClientStub<DynamoDBClient>;
  readonly s3: AwsClientStub<S3Client>;
  readonly stepFunctions: AwsClientStub<SFNClient>;
  readonly events: AwsClientStub<EventBridgeClient>;
}

/** Mocks every AWS client an API function speaks to, and resets them all before each test. */
function mockApiClients(): ApiClientMocks {
  const mocks: ApiClientMocks = {
    documents: mockClient(DynamoDBDocumentClient),
    idempotencyDb: mockClient(DynamoDBClient),
    s3: mockClient(S3Client),
    stepFunctions: mockClient(SFNClient),
    events: mockClient(EventBridgeClient),
  };
  beforeEach(() => {
    for (const mock of Object.values(mocks)) mock.reset();
  });
  return mocks;
}

/** The API functions the handler tests load, by entry point. */
const API_FUNCTIONS = {
  'cancel-generation': () => import('../../../../functions/cancel-generation/handler.ts'),
  'get-generation': () => import('../../../../functions/get-generation/handler.ts'),
  'list-generations': () => import('../../../../functions/list-generations/handler.ts'),
  'submit-batch': () => import('../../../../functions/submit-batch/handler.ts'),
  'submit-generation': () => import('../../../../functions/submit-generation/handler.ts'),
};

type ApiFunctionModule<Name extends keyof typeof API_FUNCTIONS> = Awaited<
  ReturnType<(typeof API_FUNCTIONS)[Name]>
>;

/**
 * The named API function, loaded as at a cold start (its configuration is read then: `env.ts` has
 * set it by now), and every AWS client it may speak to, mocked and reset before each test of the
 * calling file. Call it at the top of the file, before its own `beforeEach` hooks: those then run
 * after the reset and set up the answers their tests need.
 */
export async function loadApiFunction<Name extends keyof typeof API_FUNCTIONS>(
  name: Name,
): Promise<ApiClientMocks & ApiFunctionModule<Name>> {
  const mocks = mockApiClients();
  const module = (await API_FUNCTIONS[name]()) as ApiFunctionModule<Name>;
  return { ...mocks, ...module };
}

/**
 * Secrets Manager holding the cursor secret, as the stack makes it: call before importing the
 * list function, which reads it at cold start.
 */
export function mockCursorSecret(): AwsClientStub<SecretsManagerClient> {
  const secrets = mockClient(SecretsManagerClient);
  secrets.on(GetSecretValueCommand, { SecretId: CURSOR_SECRET_ID }).resolves({
    ARN: CURSOR_SECRET_ID,
    SecretString: CURSOR_SECRET,
  });
  return secrets;
}

export {
  ACCOUNT,
  CURSOR_SECRET,
  CURSOR_SECRET_ID,
  EVENT_BUS_NAME,
  IMAGES_BUCKET,
  INPUT_BUCKET,
  PROMPT_FILE_MAX_BYTES,
  REGION,
  STATE_MACHINE_ARN,
  TABLES,
} from './env.ts';

import { lambdaContext as sharedLambdaContext } from '../../../helpers/lambda-context.ts';

/** A Lambda context good enough for middy, Powertools and idempotency. */
export function lambdaContext(requestId = 'lambda-request-1'): Context {
  return sharedLambdaContext({ requestId });
}

export interface ApiEventOptions {
  readonly method?: string;
  readonly path?: string;
  /** The authorizer's owner; `null` for a request without one. */
  readonly owner?: string | null;
  readonly headers?: Record<string, string>;
  readonly body?: string | null;
  readonly isBase64Encoded?: boolean;
  readonly pathParameters?: Record<string, string> | null;
  readonly query?: Record<string, string> | null;
  readonly requestId?: string;
}

/** An API Gateway REST proxy event, headers in the mixed case clients send. */
export function apiEvent(options: ApiEventOptions = {}): APIGatewayProxyEvent {
  const owner = options.owner === undefined ? 'alice' : options.owner;
  const method = options.method ?? 'GET';
  const path = options.path ?? '/generations';
  return {
    httpMethod: method,
    path,
    resource: path,
    body: options.body ?? null,
    isBase64Encoded: options.isBase64Encoded ?? false,
    headers: { Host: 'api.example.com', ...options.headers },
    multiValueHeaders: {},
    pathParameters: options.pathParameters ?? null,
    queryStringParameters: options.query ?? null,
    multiValueQueryStringParameters: null,
    stageVariables: null,
    requestContext: {
      accountId: ACCOUNT,
      apiId: 'abc123',
      authorizer: owner === null ? null : { owner, principalId: owner },
      protocol: 'HTTP/1.1',
      httpMethod: method,
      identity: {} as APIGatewayProxyEvent['requestContext']['identity'],
      path: `/v1${path}`,
      stage: 'v1',
      requestId: options.requestId ?? 'apigw-request-1',
      requestTimeEpoch: 1_700_000_000_000,
      resourceId: 'res1',
      resourcePath: path,
    },
  };
}

/** POST /generations with a JSON body. */
export function submitEvent(
  body: unknown,
  options: Omit<ApiEventOptions, 'body' | 'method' | 'path'> = {},
): APIGatewayProxyEvent {
  return apiEvent({
    ...options,
    method: 'POST',
    path: '/generations',
    headers: { 'Content-Type': 'application/json', ...options.headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

export function tokenEvent(authorizationToken: string): APIGatewayTokenAuthorizerEvent {
  return {
    type: 'TOKEN',
    authorizationToken,
    methodArn: `arn:aws:execute-api:${REGION}:${ACCOUNT}:abc123/v1/POST/generations`,
  };
}

/** The answer's JSON body. */
export function bodyOf(result: APIGatewayProxyResult): Record<string, unknown> {
  return JSON.parse(result.body) as Record<string, unknown>;
}

/** The error part of an error answer. */
export function errorOf(result: APIGatewayProxyResult): {
  code: string;
  message: string;
  details?: { code: string; message: string; field?: string }[];
} {
  return (bodyOf(result) as { error: ReturnType<typeof errorOf> }).error;
}

/** The headers every answer of the API carries. */
export const EXPECTED_HEADERS = {
  'content-type': 'application/json',
  'strict-transport-security': 'max-age=63072000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'",
  'referrer-policy': 'no-referrer',
};

/**
 * The body of an answer, which must have this status, the headers every answer carries, and a
 * body its schema documents in full (parsing it drops nothing).
 */
export function documentedBodyOf(
  result: APIGatewayProxyResult,
  status: number,
  schema: { parse(value: unknown): unknown },
): Record<string, unknown> {
  expect(result.statusCode).toBe(status);
  expect(result.headers).toEqual(EXPECTED_HEADERS);
  const body = bodyOf(result);
  expect(schema.parse(body)).toEqual(body);
  return body;
}

/** The request of every stored record below, which a view gives back as it is. */
export const STORED_REQUEST = {
  prompt: 'a lighthouse at dawn',
  use_pre_llm: true,
  seed: -1,
  width: 1328,
  height: 1328,
} as const;

/**
 * A 500 answer with the generic internal error, the headers every answer carries, and nothing of
 * the failure: `hidden` (a resource name, an ARN) is not in the body.
 */
export function expectInternalErrorHiding(result: APIGatewayProxyResult, hidden: string): void {
  expect(result.statusCode).toBe(500);
  expect(result.headers).toEqual(EXPECTED_HEADERS);
  expect(errorOf(result)).toEqual({
    code: ErrorCodes.API_INTERNAL_ERROR,
    message: 'Internal error; please try again later',
  });
  expect(result.body).not.toContain(hidden);
}

/** A stored generation record, as DynamoDB's document client gives it back. */
export function storedRecord(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'gen-1',
    owner: 'alice',
    status: 'queued',
    ownerStatus: 'alice#queued',
    request: { ...STORED_REQUEST },
    source: 'http',
    sourceRef: 'http:apigw-request-0',
    polls: 0,
    images: [],
    createdAt: '2024-05-01T10:00:00.000Z',
    updatedAt: '2024-05-01T10:00:00.000Z',
    ...overrides,
  };
}

/** The one image of `completedRecord`, as it is stored. */
export const COMPLETED_IMAGE = {
  bucket: IMAGES_BUCKET,
  key: 'images/alice/gen-1/0.png',
  size: 123_456,
  sha256: 'a'.repeat(64),
  contentType: 'image/png',
  width: 1328,
  height: 1328,
  jobId: 'job-1',
} as const;

export function completedRecord(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return storedRecord({
    status: 'completed',
    ownerStatus: 'alice#completed',
    sparkTaskId: 'task-9',
    polls: 3,
    images: [{ ...COMPLETED_IMAGE }],
    usage: { cost: '0.04', discount: 0, input_tokens: 10, output_tokens: 0, total_tokens: 10 },
    costUsd: 0.04,
    updatedAt: '2024-05-01T10:00:20.000Z',
    completedAt: '2024-05-01T10:00:20.000Z',
    ...overrides,
  });
}

/**
 * An in-memory idempotency table behind a mocked low-level DynamoDB client: conditional put
 * (absent, expired, or in progress past its expiry), update, get and delete, as Powertools'
 * DynamoDB persistence layer uses them.
 */
export function fakeIdempotencyTable(
  mock: AwsClientStub<DynamoDBClient>,
): Map<string, Record<string, AttributeValue>> {
  const items = new Map<string, Record<string, AttributeValue>>();
  const keyOf = (key: Record<string, AttributeValue> | undefined) => key?.id?.S ?? '';
  mock.on(PutItemCommand).callsFake((input: PutItemCommand['input']) => {
    const item = input.Item ?? {};
    const existing = items.get(keyOf(item));
    if (existing) {
      const values = input.ExpressionAttributeValues ?? {};
      const now = Number(values[':now']?.N);
      const nowMs = Number(values[':now_in_millis']?.N);
      const expired = Number(existing.expiration?.N) < now;
      const inProgressExpired =
        existing.status?.S === 'INPROGRESS' &&
        existing.in_progress_expiration !== undefined &&
        Number(existing.in_progress_expiration.N) < nowMs;
      if (!expired && !inProgressExpired) {
        throw new ConditionalCheckFailedException({
          message: 'The conditional request failed',
          $metadata: {},
          Item: existing,
        });
      }
    }
    items.set(keyOf(item), { ...item });
    return {};
  });
  mock.on(UpdateItemCommand).callsFake((input: UpdateItemCommand['input']) => {
    const id = keyOf(input.Key);
    const item = { ...(items.get(id) ?? input.Key ?? {}) };
    const assignments = (input.UpdateExpression ?? '').replace(/^SET /, '').split(',');
    for (const assignment of assignments) {
      const [name, value] = assignment.split('=').map((part) => part.trim()) as [string, string];
      const attribute = input.ExpressionAttributeNames?.[name] ?? name;
      const attributeValue = input.ExpressionAttributeValues?.[value];
      if (attributeValue !== undefined) item[attribute] = attributeValue;
    }
    items.set(id, item);
    return {};
  });
  mock.on(GetItemCommand).callsFake((input: GetItemCommand['input']) => ({
    Item: items.get(keyOf(input.Key)),
  }));
  mock.on(DeleteItemCommand).callsFake((input: DeleteItemCommand['input']) => {
    items.delete(keyOf(input.Key));
    return {};
  });
  return items;
}
