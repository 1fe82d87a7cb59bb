import './env.ts';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { BatchGetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import {
  apiEvent,
  bodyOf,
  documentedBodyOf,
  errorOf,
  fakeIdempotencyTable,
  INPUT_BUCKET,
  lambdaContext,
  loadApiFunction,
  PROMPT_FILE_MAX_BYTES,
  TABLES,
} from './support.ts';
import 'aws-sdk-client-mock-vitest/extend';
import { beforeEach, describe, expect, it } from 'vitest';
import { BATCH_BODY_MAX_BYTES, batchViewSchema } from '#shared/api/batch-schemas.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';

const { handler, documents, s3, idempotencyDb } = await loadApiFunction('submit-batch');

const BATCH_ID = /^b_[0-9a-f]{40}$/;
const FILE = '{"prompt":"a red kite"}\n{"prompt":"a blue boat"}\n';

/** POST /batches with this body and type; the body goes base64, as API Gateway sends it. */
const postEvent = (body: string | Buffer, type: string | undefined, headers = {}) =>
  apiEvent({
    method: 'POST',
    path: '/batches',
    headers: { ...(type !== undefined && { 'Content-Type': type }), ...headers },
    body: Buffer.from(body).toString('base64'),
    isBase64Encoded: true,
  });

let heads: Map<string, Record<string, unknown>>;

beforeEach(() => {
  heads = new Map();
  documents.on(PutCommand).callsFake((input: PutCommand['input']) => {
    const item = input.Item as Record<string, unknown>;
    if (heads.has(item.id as string)) {
      throw new ConditionalCheckFailedException({
        message: 'The conditional request failed',
        $metadata: {},
      });
    }
    heads.set(item.id as string, item);
    return {};
  });
  documents.on(BatchGetCommand).callsFake((input: BatchGetCommand['input']) => {
    const keys = input.RequestItems?.[TABLES.batches]?.Keys ?? [];
    const found = keys.flatMap((key) => {
      const head = heads.get(key.id as string);
      return head ? [head] : [];
    });
    return { Responses: { [TABLES.batches]: found } };
  });
  s3.on(PutObjectCommand).resolves({ ETag: '"abc"' });
  fakeIdempotencyTable(idempotencyDb);
});

describe('POST /batches with the file as the body', () => {
  it('records the batch validating, then puts the file at its key, and answers 201 with it', async () => {
    // Act
    const result = await handler(postEvent(FILE, 'application/jsonl'), lambdaContext());

    // Assess
    const body = documentedBodyOf(result, 201, batchViewSchema);
    const id = body.id as string;
    expect(id).toMatch(BATCH_ID);
    const key = `prompts/alice/batches/${id}.jsonl`;
    expect(body).toMatchObject({
      status: 'validating',
      format: 'jsonl',
      source: { bucket: INPUT_BUCKET, key },
      costUsd: 0,
    });
    expect(documents).toHaveReceivedCommandWith(PutCommand, {
      TableName: TABLES.batches,
      ConditionExpression: 'attribute_not_exists(id)',
      Item: expect.objectContaining({
        id,
        owner: 'alice',
        status: 'validating',
        ownerStatus: 'alice#validating',
        origin: 'api',
        read: false,
        lines: 0,
        rejected: 0,
        unfinished: 'unfinished',
        expiresAt: expect.any(Number),
      }),
    });
    expect(s3).toHaveReceivedCommandWith(PutObjectCommand, {
      Bucket: INPUT_BUCKET,
      Key: key,
      ContentType: 'application/jsonl',
    });
    const put = s3.commandCalls(PutObjectCommand)[0]?.args[0].input;
    expect(Buffer.from(put?.Body as Uint8Array).toString()).toBe(FILE);
  });

  it.each([
    ['application/x-ndjson', 'jsonl'],
    ['text/plain; charset=utf-8', 'txt'],
    ['application/json', 'json'],
  ])('reads %s as a .%s file', async (type, format) => {
    const result = await handler(postEvent('[{"prompt":"x"}]', type), lambdaContext());
    expect(result.statusCode).toBe(201);
    expect(bodyOf(result).format).toBe(format);
  });

  it.each([
    ['an empty body', '', 'application/jsonl', 400, ErrorCodes.BATCH_EMPTY_BODY],
    ['no Content-Type', FILE, undefined, 415, ErrorCodes.API_UNSUPPORTED_MEDIA_TYPE],
    ['a CSV', 'a,b', 'text/csv', 415, ErrorCodes.API_UNSUPPORTED_MEDIA_TYPE],
    [
      'a body past the limit',
      Buffer.alloc(BATCH_BODY_MAX_BYTES + 1, 0x23),
      'text/plain',
      413,
      ErrorCodes.API_BODY_TOO_LARGE,
    ],
  ])('refuses %s with %s %s and stores nothing', async (_, body, type, status, code) => {
    const result = await handler(postEvent(body, type), lambdaContext());
    expect(result.statusCode).toBe(status);
    expect(errorOf(result).code).toBe(code);
    expect(documents).not.toHaveReceivedCommand(PutCommand);
    expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
  });

  it('ends the batch failed when its file cannot be stored, and answers 500', async () => {
    s3.on(PutObjectCommand).rejects(new Error('S3 is down'));
    documents.on(UpdateCommand).resolves({ Attributes: { status: 'validating' } });

    const result = await handler(postEvent(FILE, 'application/jsonl'), lambdaContext());

    expect(result.statusCode).toBe(500);
    expect(documents).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: TABLES.batches,
      ExpressionAttributeValues: expect.objectContaining({
        ':error': expect.objectContaining({ code: ErrorCodes.API_INTERNAL_ERROR }),
      }),
    });
  });
});

describe('POST /batches with an upload request', () => {
  const upload = (request: unknown, headers = {}) =>
    handler(postEvent(JSON.stringify(request), 'application/json', headers), lambdaContext());

  it('records the batch awaiting its upload and answers a PUT signed for that size and type', async () => {
    const before = Date.now();
    const result = await upload({ upload: { format: 'txt', bytes: 1234 }, metadata: { a: 1 } });

    expect(result.statusCode).toBe(201);
    const body = bodyOf(result);
    expect(batchViewSchema.parse(body)).toEqual(body);
    const id = body.id as string;
    expect(body).toMatchObject({ status: 'awaiting_upload', format: 'txt', metadata: { a: 1 } });
    const answer = body.upload as {
      url: string;
      headers: Record<string, string>;
      expiresAt: string;
    };
    expect(answer.headers).toEqual({ 'content-type': 'text/plain', 'content-length': '1234' });
    const url = new URL(answer.url);
    expect(url.pathname).toContain(`prompts/alice/batches/${id}.txt`);
    expect(url.searchParams.get('X-Amz-SignedHeaders')?.split(';').sort()).toEqual([
      'content-length',
      'content-type',
      'host',
    ]);
    expect(Number(url.searchParams.get('X-Amz-Expires'))).toBeGreaterThan(14 * 60);
    expect(Date.parse(answer.expiresAt) - before).toBeGreaterThanOrEqual(15 * 60 * 1000 - 1000);
    expect(heads.get(id)).toMatchObject({
      status: 'awaiting_upload',
      metadata: '{"a":1}',
      uploadExpiresAt: answer.expiresAt,
    });
    expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
  });

  it.each([
    ['bytes missing', { upload: { format: 'jsonl' } }],
    ['bytes 0', { upload: { format: 'jsonl', bytes: 0 } }],
    [
      'bytes past the prompt-file limit',
      { upload: { format: 'jsonl', bytes: PROMPT_FILE_MAX_BYTES + 1 } },
    ],
    ['an unknown format', { upload: { format: 'csv', bytes: 10 } }],
    ['an unknown field', { upload: { format: 'txt', bytes: 10, md5: 'x' } }],
    ['upload not an object', { upload: 'big' }],
  ])('refuses an upload request with %s: 400 090006003', async (_, request) => {
    const result = await upload(request);
    expect(result.statusCode).toBe(400);
    expect(errorOf(result).code).toBe(ErrorCodes.BATCH_INVALID_UPLOAD);
    expect(documents).not.toHaveReceivedCommand(PutCommand);
  });

  it('takes an upload of exactly the prompt-file limit', async () => {
    const result = await upload({ upload: { format: 'json', bytes: PROMPT_FILE_MAX_BYTES } });
    expect(result.statusCode).toBe(201);
  });

  it('refuses metadata that is not an object with 400 090004010', async () => {
    const result = await upload({ upload: { format: 'txt', bytes: 3 }, metadata: [1] });
    expect(result.statusCode).toBe(400);
    expect(errorOf(result).code).toBe(ErrorCodes.API_INVALID_METADATA);
  });

  it('stores a webhook for batch.completed on the head', async () => {
    const result = await upload({
      upload: { format: 'txt', bytes: 3 },
      webhook: { url: 'https://hooks.example.com/batches' },
    });
    expect(result.statusCode).toBe(201);
    expect(heads.get(bodyOf(result).id as string)).toMatchObject({
      webhook: { url: 'https://hooks.example.com/batches', events: ['batch.completed'] },
    });
  });

  it.each([
    [
      'a generation event',
      { url: 'https://h.example.com', events: ['generation.completed'] },
      ErrorCodes.WEBHOOK_INVALID,
    ],
    ['a private address', { url: 'https://192.168.0.10/hook' }, ErrorCodes.WEBHOOK_URL_REFUSED],
  ])('refuses a webhook with %s', async (_, webhook, code) => {
    const result = await upload({ upload: { format: 'txt', bytes: 3 }, webhook });
    expect(result.statusCode).toBe(400);
    expect(errorOf(result).code).toBe(code);
    expect(documents).not.toHaveReceivedCommand(PutCommand);
  });

  it('reads a JSON body without the upload key as a .json prompt file', async () => {
    const result = await upload({ defaults: { width: 1024 }, prompts: ['a'] });
    expect(result.statusCode).toBe(201);
    expect(bodyOf(result)).toMatchObject({ status: 'validating', format: 'json' });
    expect(s3).toHaveReceivedCommand(PutObjectCommand);
  });
});

describe('Idempotency-Key on POST /batches', () => {
  const keyed = (body: string, key = 'nightly-1', owner = 'alice') =>
    handler(
      {
        ...postEvent(body, 'application/jsonl', { 'Idempotency-Key': key }),
        requestContext: {
          ...postEvent(body, 'application/jsonl').requestContext,
          authorizer: { owner, principalId: owner },
        },
      },
      lambdaContext(),
    );

  it('answers the same batch, 201 again, for the same key and body, and stores the file once', async () => {
    const first = await keyed(FILE);
    const again = await keyed(FILE);

    expect(first.statusCode).toBe(201);
    expect(again.statusCode).toBe(201);
    expect(bodyOf(again).id).toBe(bodyOf(first).id);
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(1);
    expect(heads.size).toBe(1);
  });

  it('answers 409 090004007 for the same key with another body', async () => {
    await keyed(FILE);
    const other = await keyed('{"prompt":"another"}\n');
    expect(other.statusCode).toBe(409);
    expect(errorOf(other).code).toBe(ErrorCodes.API_IDEMPOTENCY_CONFLICT);
  });

  it("keeps owners' keys apart", async () => {
    const alice = await keyed(FILE, 'same-key', 'alice');
    const bob = await keyed(FILE, 'same-key', 'bob');
    expect(bob.statusCode).toBe(201);
    expect(bodyOf(bob).id).not.toBe(bodyOf(alice).id);
  });
});
