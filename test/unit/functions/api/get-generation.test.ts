import './env.ts';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import {
  apiEvent,
  bodyOf,
  COMPLETED_IMAGE,
  completedRecord,
  documentedBodyOf,
  EXPECTED_HEADERS,
  errorOf,
  expectInternalErrorHiding,
  lambdaContext,
  loadApiFunction,
  STORED_REQUEST,
  storedRecord,
  TABLES,
} from './support.ts';
import 'aws-sdk-client-mock-vitest/extend';
import { describe, expect, it } from 'vitest';
import { generationViewSchema } from '#shared/api/schemas.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';

const { handler, documents } = await loadApiFunction('get-generation');

const getEvent = (id: string, owner: string | null = 'alice') =>
  apiEvent({ path: `/generations/${id}`, pathParameters: { id }, owner });

describe('GET /generations/{id}', () => {
  it('answers 200 with the completed record and a pre-signed URL for each image', async () => {
    // Prepare
    documents.on(GetCommand).resolves({ Item: completedRecord() });

    // Act
    const result = await handler(getEvent('gen-1'), lambdaContext());

    // Assess
    const body = documentedBodyOf(result, 200, generationViewSchema);
    // The stored image, less the provider's job id, with a URL to fetch it.
    const { jobId: _jobId, ...imageShown } = COMPLETED_IMAGE;
    expect(body).toEqual({
      id: 'gen-1',
      status: 'completed',
      request: STORED_REQUEST,
      source: 'http',
      sourceRef: 'http:apigw-request-0',
      sparkTaskId: 'task-9',
      polls: 3,
      images: [{ url: expect.any(String), ...imageShown }],
      usage: { cost: '0.04', discount: 0, input_tokens: 10, output_tokens: 0, total_tokens: 10 },
      costUsd: 0.04,
      createdAt: '2024-05-01T10:00:00.000Z',
      updatedAt: '2024-05-01T10:00:20.000Z',
      completedAt: '2024-05-01T10:00:20.000Z',
    });
    const url = new URL((body.images as { url: string }[])[0]?.url ?? '');
    expect(url.pathname).toContain('images/alice/gen-1/0.png');
    expect(url.searchParams.get('X-Amz-Expires')).toBe('900');
    expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    expect(documents).toHaveReceivedCommandWith(GetCommand, {
      TableName: TABLES.generations,
      Key: { id: 'gen-1' },
      ConsistentRead: true,
    });
  });

  it('answers a queued record without the fields it does not have yet', async () => {
    // Prepare
    documents
      .on(GetCommand)
      .resolves({ Item: storedRecord({ metadata: '{"campaign":"spring"}' }) });

    // Act
    const result = await handler(getEvent('gen-1'), lambdaContext());

    // Assess
    expect(result.statusCode).toBe(200);
    expect(bodyOf(result)).toEqual({
      id: 'gen-1',
      status: 'queued',
      request: STORED_REQUEST,
      source: 'http',
      sourceRef: 'http:apigw-request-0',
      polls: 0,
      images: [],
      metadata: { campaign: 'spring' },
      createdAt: '2024-05-01T10:00:00.000Z',
      updatedAt: '2024-05-01T10:00:00.000Z',
    });
  });

  it.each([
    ['JSON text', '{"n":1e16,"deep":{"x":[1e-131]}}', { n: 1e16, deep: { x: [1e-131] } }],
    [
      'a map (records stored before metadata was text)',
      { campaign: 'spring' },
      { campaign: 'spring' },
    ],
  ])('gives back the metadata stored as %s', async (_name, stored, expected) => {
    // Prepare
    documents.on(GetCommand).resolves({ Item: storedRecord({ metadata: stored }) });

    // Act
    const result = await handler(getEvent('gen-1'), lambdaContext());

    // Assess
    expect(result.statusCode).toBe(200);
    expect(bodyOf(result).metadata).toEqual(expected);
  });

  it.each([
    ['text that is not JSON', '{"campaign":'],
    ['JSON that is not an object', '[1,2]'],
  ])('leaves out metadata stored as %s rather than failing', async (_name, stored) => {
    // Prepare
    documents.on(GetCommand).resolves({ Item: storedRecord({ metadata: stored }) });

    // Act
    const result = await handler(getEvent('gen-1'), lambdaContext());

    // Assess
    expect(result.statusCode).toBe(200);
    expect(bodyOf(result)).not.toHaveProperty('metadata');
  });

  it('leaves out usage and costUsd stored as NULL, and shows the error of a failed record', async () => {
    // Prepare
    const failed = storedRecord({
      status: 'failed',
      usage: null,
      costUsd: null,
      error: { code: '003001095', message: 'Internal generation error' },
      completedAt: '2024-05-01T10:01:00.000Z',
    });
    documents.on(GetCommand).resolves({ Item: failed });

    // Act
    const result = await handler(getEvent('gen-1'), lambdaContext());

    // Assess
    const body = bodyOf(result);
    expect(body).not.toHaveProperty('usage');
    expect(body).not.toHaveProperty('costUsd');
    expect(body.error).toEqual({ code: '003001095', message: 'Internal generation error' });
    expect(body.status).toBe('failed');
  });

  it("answers 404 090004002 for another owner's generation, exactly as for a missing one", async () => {
    // Prepare
    documents.on(GetCommand).resolves({ Item: completedRecord({ owner: 'bob' }) });
    const foreign = await handler(getEvent('gen-1'), lambdaContext());
    documents.on(GetCommand).resolves({});

    // Act
    const missing = await handler(getEvent('gen-1'), lambdaContext());

    // Assess
    expect(foreign.statusCode).toBe(404);
    expect(missing.statusCode).toBe(404);
    expect(foreign.body).toBe(missing.body);
    expect(errorOf(foreign)).toEqual({
      code: ErrorCodes.API_NOT_FOUND,
      message: 'No such generation',
    });
    expect(foreign.headers).toEqual(EXPECTED_HEADERS);
  });

  it.each([
    ['has characters an execution name cannot have', 'gen 1'],
    ['is too long', 'g'.repeat(81)],
    ['is empty', ''],
  ])('answers 404 without reading the table when the id %s', async (_name, id) => {
    // Act
    const result = await handler(getEvent(id), lambdaContext());

    // Assess
    expect(result.statusCode).toBe(404);
    expect(documents).not.toHaveReceivedAnyCommand();
  });

  it('answers 401 090004001 when the authorizer gave no owner', async () => {
    // Act
    const result = await handler(getEvent('gen-1', null), lambdaContext());

    // Assess
    expect(result.statusCode).toBe(401);
    expect(errorOf(result).code).toBe(ErrorCodes.API_UNAUTHORIZED);
  });

  it('answers a generic 500 without the internal message when DynamoDB fails', async () => {
    // Prepare
    documents
      .on(GetCommand)
      .rejects(new Error('ResourceNotFoundException: table generations-table'));

    // Act
    const result = await handler(getEvent('gen-1'), lambdaContext());

    // Assess
    expectInternalErrorHiding(result, 'generations-table');
  });
});
