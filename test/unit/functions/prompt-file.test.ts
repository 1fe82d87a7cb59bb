import { DynamoDBClient, QueryCommand } from '@aws-sdk/client-dynamodb';
import {
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import {
  BatchGetCommand,
  DynamoDBDocumentClient,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ErrorCodes } from '#shared/errors/codes.ts';
import { lambdaContext } from '../../helpers/lambda-context.ts';
import { BUCKET, STATE_MACHINE_ARN, s3Event, sdkBody } from '../shared/prompt-files/helpers.ts';

const s3Mock = mockClient(S3Client);
const dynamoMock = mockClient(DynamoDBClient);
const sfnMock = mockClient(SFNClient);
const documentMock = mockClient(DynamoDBDocumentClient);

const context = lambdaContext({ functionName: 'prompt-file', remainingMs: 900_000, memoryMb: 512 });

const ENV = {
  AWS_REGION: 'us-east-1',
  POWERTOOLS_LOG_LEVEL: 'SILENT',
  POWERTOOLS_METRICS_DISABLED: 'true',
  STATE_MACHINE_ARN,
  DEFAULT_OWNER: 'local',
  PROMPT_FILE_MAX_BYTES: '1048576',
  PROMPT_FILE_MAX_LINES: '2',
  API_KEYS_TABLE: 'api-keys',
  GENERATIONS_TABLE: 'generations',
  BATCHES_TABLE: 'batches',
  EVENT_BUS_NAME: 'bus',
};

async function loadHandler(env: Record<string, string | undefined> = {}) {
  for (const [name, value] of Object.entries({ ...ENV, ...env })) {
    if (value === undefined) vi.stubEnv(name, undefined);
    else vi.stubEnv(name, value);
  }
  vi.resetModules();
  const { handler } = await import('../../../functions/prompt-file/handler.ts');
  return handler;
}

describe('prompt-file handler', () => {
  beforeEach(() => {
    s3Mock.reset();
    sfnMock.reset();
    dynamoMock.reset();
    sfnMock.on(StartExecutionCommand).resolves({ executionArn: 'arn', startDate: new Date() });
    s3Mock.on(PutObjectCommand).resolves({});
    // The file's batch: opened, its lines recorded, its reading recorded; it never ends here.
    documentMock.reset();
    documentMock.on(PutCommand).resolves({});
    documentMock.on(TransactWriteCommand).resolves({});
    documentMock.on(UpdateCommand).resolves({ Attributes: { id: 'b', status: 'in_progress' } });
    documentMock.on(BatchGetCommand).resolves({ Responses: {} });
  });

  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('starts the lines of a file with the configured state machine, owner and limits', async () => {
    const handler = await loadHandler();
    s3Mock.on(HeadObjectCommand).resolves({ ETag: '"e"', ContentLength: 16 });
    s3Mock.on(GetObjectCommand).callsFake(async () => ({ Body: sdkBody('one\ntwo\nthree\n') }));

    const result = await handler(s3Event({ key: 'prompts/batch.txt' }), context);

    expect(result.records).toEqual([
      {
        status: 'reported',
        bucket: BUCKET,
        key: 'prompts/batch.txt',
        reportKey: 'reports/prompts/batch.txt.json',
        summary: { lines: 2, accepted: 2, rejected: 0, skipped: 0 },
        error: { code: ErrorCodes.PROMPT_FILE_TOO_MANY_LINES, message: expect.any(String) },
      },
    ]);
    const starts = sfnMock.commandCalls(StartExecutionCommand).map((call) => call.args[0].input);
    expect(starts.map((input) => input.stateMachineArn)).toEqual([
      STATE_MACHINE_ARN,
      STATE_MACHINE_ARN,
    ]);
    expect(starts.map((input) => JSON.parse(String(input.input)).owner)).toEqual([
      'local',
      'local',
    ]);
  });

  it('refuses a file over PROMPT_FILE_MAX_BYTES without reading it', async () => {
    const handler = await loadHandler({ PROMPT_FILE_MAX_BYTES: '1024' });
    s3Mock.on(HeadObjectCommand).resolves({ ETag: '"e"', ContentLength: 4096 });

    const result = await handler(s3Event({ key: 'prompts/big.txt' }), context);

    expect(result.records[0]).toMatchObject({ error: { code: ErrorCodes.PROMPT_FILE_TOO_LARGE } });
    expect(s3Mock.commandCalls(GetObjectCommand)).toHaveLength(0);
  });

  it('returns normally for a report, touching nothing', async () => {
    const handler = await loadHandler();

    const result = await handler(s3Event({ key: 'reports/prompts/batch.txt.json' }), context);

    expect(result.records).toEqual([
      {
        status: 'ignored',
        bucket: BUCKET,
        key: 'reports/prompts/batch.txt.json',
        reason: 'report',
      },
    ]);
    expect(s3Mock.calls()).toHaveLength(0);
  });

  it('throws a transient S3 failure so Lambda retries the event', async () => {
    const handler = await loadHandler();
    s3Mock.on(HeadObjectCommand).rejects(
      Object.assign(new Error('slow down'), {
        name: 'SlowDown',
        $metadata: { httpStatusCode: 503 },
      }),
    );

    await expect(handler(s3Event({ key: 'prompts/batch.txt' }), context)).rejects.toMatchObject({
      name: 'PromptFileEventError',
    });
  });

  it.each([
    ['STATE_MACHINE_ARN is missing', { STATE_MACHINE_ARN: undefined }, /STATE_MACHINE_ARN/],
    ['DEFAULT_OWNER is missing', { DEFAULT_OWNER: undefined }, /DEFAULT_OWNER/],
    ['DEFAULT_OWNER is not an owner name', { DEFAULT_OWNER: 'Not An Owner' }, /DEFAULT_OWNER/],
    [
      'PROMPT_FILE_MAX_LINES is not a number',
      { PROMPT_FILE_MAX_LINES: 'many' },
      /PROMPT_FILE_MAX_LINES/,
    ],
    ['PROMPT_FILE_MAX_BYTES is zero', { PROMPT_FILE_MAX_BYTES: '0' }, /PROMPT_FILE_MAX_BYTES/],
  ])('fails at cold start when %s', async (_name, env, message) => {
    await expect(loadHandler(env)).rejects.toThrow(message);
  });

  it('uses 50 MiB and 50,000 lines when the limits are not set', async () => {
    const handler = await loadHandler({
      PROMPT_FILE_MAX_BYTES: undefined,
      PROMPT_FILE_MAX_LINES: undefined,
    });
    s3Mock.on(HeadObjectCommand).resolves({ ETag: '"e"', ContentLength: 50 * 1024 * 1024 + 1 });

    const result = await handler(s3Event({ key: 'prompts/big.txt' }), context);

    expect(result.records[0]).toMatchObject({
      error: {
        code: ErrorCodes.PROMPT_FILE_TOO_LARGE,
        message: expect.stringContaining('52428800'),
      },
    });
  });

  it("looks up a folder owner's keys on the table's byOwner index, and refuses an owner without one", async () => {
    const handler = await loadHandler();
    s3Mock.on(HeadObjectCommand).resolves({ ETag: '"e"', ContentLength: 4 });
    s3Mock.on(GetObjectCommand).callsFake(async () => ({ Body: sdkBody('one\n') }));
    dynamoMock
      .on(QueryCommand, { ExpressionAttributeValues: { ':owner': { S: 'alice' } } })
      .resolves({ Count: 1, Items: [{ keyHash: { S: 'h' }, owner: { S: 'alice' } }] })
      .on(QueryCommand, { ExpressionAttributeValues: { ':owner': { S: 'nobody' } } })
      .resolves({ Count: 0, Items: [] });

    const ok = await handler(s3Event({ key: 'prompts/alice/a.txt' }), context);
    const refused = await handler(s3Event({ key: 'prompts/nobody/a.txt' }), context);
    // The default owner's folder and files directly under prompts/ need no lookup.
    await handler(s3Event({ key: 'prompts/local/a.txt' }), context);

    expect(ok.records[0]).toMatchObject({ summary: { accepted: 1 } });
    expect(ok.records[0]).not.toHaveProperty('error');
    expect(refused.records[0]).toMatchObject({
      summary: { accepted: 0 },
      error: { code: ErrorCodes.PROMPT_FILE_BAD_OWNER, message: expect.stringContaining('nobody') },
    });
    const queries = dynamoMock.commandCalls(QueryCommand).map((call) => call.args[0].input);
    expect(queries).toHaveLength(2);
    expect(queries[0]).toMatchObject({
      TableName: 'api-keys',
      IndexName: 'byOwner',
      FilterExpression: 'attribute_not_exists(revokedAt)',
    });
    expect(sfnMock.commandCalls(StartExecutionCommand)).toHaveLength(2);
  });

  it('throws when the owner lookup fails, so Lambda retries the event', async () => {
    const handler = await loadHandler();
    s3Mock.on(HeadObjectCommand).resolves({ ETag: '"e"', ContentLength: 4 });
    dynamoMock.on(QueryCommand).rejects(new Error('ProvisionedThroughputExceeded'));

    await expect(handler(s3Event({ key: 'prompts/alice/a.txt' }), context)).rejects.toMatchObject({
      name: 'PromptFileEventError',
      cause: { name: 'OwnerLookupError', message: expect.stringContaining('owner "alice"') },
    });
    expect(sfnMock.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });
});
