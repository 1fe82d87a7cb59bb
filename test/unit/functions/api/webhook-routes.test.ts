import './env.ts';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { apiEvent, bodyOf, EXPECTED_HEADERS, errorOf, lambdaContext, TABLES } from './support.ts';
import 'aws-sdk-client-mock-vitest/extend';
import { beforeEach, describe, expect, it } from 'vitest';
import { deliveriesSchema, webhookSecretSchema } from '#shared/api/webhook-schemas.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';

const documents = mockClient(DynamoDBDocumentClient);

// The functions read their configuration at cold start: support.ts has set it by now.
const { handler: secretHandler } = await import('../../../../functions/webhook-secret/handler.ts');
const { handler: deliveriesHandler } = await import(
  '../../../../functions/list-deliveries/handler.ts'
);

const SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
const secretItem = {
  keyHash: 'webhook-secret#alice',
  secret: SECRET,
  createdAt: '2026-12-08T00:00:00Z',
};

beforeEach(() => {
  documents.reset();
});

describe('GET /webhooks/secret', () => {
  it("answers the owner's secret, read from its item in the keys table", async () => {
    // Prepare
    documents.on(GetCommand).resolves({ Item: secretItem });

    // Act
    const result = await secretHandler(apiEvent({ path: '/webhooks/secret' }), lambdaContext());

    // Assess
    expect(result.statusCode).toBe(200);
    expect(result.headers).toEqual(EXPECTED_HEADERS);
    expect(webhookSecretSchema.parse(bodyOf(result))).toEqual({ secret: SECRET });
    expect(documents).toHaveReceivedCommandWith(GetCommand, {
      TableName: TABLES.apiKeys,
      Key: { keyHash: 'webhook-secret#alice' },
    });
    expect(documents).not.toHaveReceivedCommand(PutCommand);
  });

  it('makes the secret on the first read, once', async () => {
    // Prepare
    documents.on(GetCommand).resolves({});
    documents.on(PutCommand).resolves({});

    // Act
    const result = await secretHandler(apiEvent({ path: '/webhooks/secret' }), lambdaContext());

    // Assess
    const { secret } = webhookSecretSchema.parse(bodyOf(result));
    expect(documents).toHaveReceivedCommandWith(PutCommand, {
      TableName: TABLES.apiKeys,
      Item: expect.objectContaining({ keyHash: 'webhook-secret#alice', secret }),
      ConditionExpression: 'attribute_not_exists(keyHash)',
    });
  });

  it('answers 401 without an owner', async () => {
    const result = await secretHandler(
      apiEvent({ path: '/webhooks/secret', owner: null }),
      lambdaContext(),
    );
    expect(result.statusCode).toBe(401);
    expect(documents).not.toHaveReceivedAnyCommand();
  });
});

describe('POST /webhooks/secret/rotate', () => {
  it('answers a new secret and keeps the previous one for 24 h', async () => {
    // Prepare
    documents.on(GetCommand).resolves({ Item: secretItem });
    documents.on(UpdateCommand).resolves({});

    // Act
    const result = await secretHandler(
      apiEvent({ method: 'POST', path: '/webhooks/secret/rotate' }),
      lambdaContext(),
    );

    // Assess
    expect(result.statusCode).toBe(200);
    const { secret } = webhookSecretSchema.parse(bodyOf(result));
    expect(secret).not.toBe(SECRET);
    expect(documents).toHaveReceivedCommandWith(UpdateCommand, {
      Key: { keyHash: 'webhook-secret#alice' },
      ConditionExpression: 'secret = :previous',
      ExpressionAttributeValues: expect.objectContaining({
        ':secret': secret,
        ':previous': SECRET,
      }),
    });
  });

  it('tries again on what a concurrent rotation made', async () => {
    // Prepare
    const other = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
    documents
      .on(GetCommand)
      .resolvesOnce({ Item: secretItem })
      .resolves({ Item: { ...secretItem, secret: other } });
    documents
      .on(UpdateCommand)
      .rejectsOnce(new ConditionalCheckFailedException({ message: 'no', $metadata: {} }))
      .resolves({});

    // Act
    const result = await secretHandler(
      apiEvent({ method: 'POST', path: '/webhooks/secret/rotate' }),
      lambdaContext(),
    );

    // Assess
    expect(result.statusCode).toBe(200);
    expect(documents).toHaveReceivedCommandTimes(UpdateCommand, 2);
    expect(documents).toHaveReceivedNthCommandWith(UpdateCommand, 2, {
      ExpressionAttributeValues: expect.objectContaining({ ':previous': other }),
    });
  });
});

describe('GET /generations/{id}/deliveries', () => {
  const event = (owner = 'alice') =>
    apiEvent({ path: '/generations/gen-1/deliveries', pathParameters: { id: 'gen-1' }, owner });
  const attempt = {
    at: '2026-12-08T01:00:01.000Z',
    event: 'generation.completed',
    webhookId: 'msg_0123456789abcdef0123456789abcdef',
    attempt: 1,
    statusCode: 500,
    durationMs: 42,
  };

  it('lists every attempt and the final failure', async () => {
    // Prepare
    const failure = {
      at: '2026-12-09T01:00:00.000Z',
      event: 'generation.completed',
      webhookId: attempt.webhookId,
      attempts: 14,
      code: ErrorCodes.WEBHOOK_DELIVERY_FAILED,
      message: 'No 2xx answer in 24 h; last: HTTP 500',
    };
    documents.on(GetCommand).resolves({
      Item: { id: 'gen-1', owner: 'alice', webhookDeliveries: [attempt], webhookFailure: failure },
    });

    // Act
    const result = await deliveriesHandler(event(), lambdaContext());

    // Assess
    expect(result.statusCode).toBe(200);
    const body = bodyOf(result);
    expect(deliveriesSchema.parse(body)).toEqual(body);
    expect(body).toEqual({ items: [attempt], failure });
  });

  it('answers an empty list for a generation never delivered', async () => {
    documents.on(GetCommand).resolves({ Item: { id: 'gen-1', owner: 'alice' } });
    const result = await deliveriesHandler(event(), lambdaContext());
    expect(bodyOf(result)).toEqual({ items: [] });
  });

  it("answers another owner's generation as a missing one (404)", async () => {
    documents.on(GetCommand).resolves({
      Item: { id: 'gen-1', owner: 'alice', webhookDeliveries: [attempt] },
    });
    const result = await deliveriesHandler(event('mallory'), lambdaContext());
    expect(result.statusCode).toBe(404);
    expect(errorOf(result).code).toBe(ErrorCodes.API_NOT_FOUND);
  });
});
