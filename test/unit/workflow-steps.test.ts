/**
 * The workflow's Lambda handlers through their middy chains, with DynamoDB, S3 and Secrets
 * Manager mocked (aws-sdk-client-mock) and the Spark simulator as the provider.
 */
import { createHash } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { type RunningSimulator, startSimulator } from '#local/simulator/index.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';
import type { TaskState } from '#shared/generation/steps.ts';

const SPARK_KEY = 'spark-test-key';
const dynamo = mockClient(DynamoDBDocumentClient);
const s3 = mockClient(S3Client);
const secrets = mockClient(SecretsManagerClient);
const context = {
  functionName: 'test',
  awsRequestId: 'req-1',
  getRemainingTimeInMillis: () => 30_000,
} as unknown as Context;

let simulator: RunningSimulator;
let faulty: RunningSimulator;
let garbled: RunningSimulator;
type Handler<E> = (event: E, context: Context) => Promise<unknown>;
let createTask: Handler<{ id: string }>;
let pollTask: Handler<unknown>;
let copyImages: Handler<unknown>;
let classifyFailure: Handler<unknown>;

const queued = {
  id: 'gen-1',
  owner: 'alice',
  status: 'queued',
  request: { prompt: 'a lighthouse', use_pre_llm: true, seed: 7, width: 512, height: 512 },
  source: 'http',
  polls: 0,
  images: [],
  createdAt: '2026-11-24T10:00:00.000Z',
  updatedAt: '2026-11-24T10:00:00.000Z',
};

beforeAll(async () => {
  simulator = await startSimulator({ latencyMs: 30, apiKey: SPARK_KEY });
  faulty = await startSimulator({
    latencyMs: 30,
    apiKey: SPARK_KEY,
    faults: { create5xx: 1 },
  });
  garbled = await startSimulator({
    latencyMs: 30,
    apiKey: SPARK_KEY,
    faults: { pollMalformed: 1 },
  });
  Object.assign(process.env, {
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_TRACE_ENABLED: 'false',
    POWERTOOLS_METRICS_DISABLED: 'true',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    GENERATIONS_TABLE: 'generations',
    IMAGES_BUCKET: 'images',
    SPARK_BASE_URL: simulator.url,
    SPARK_API_KEY_SECRET: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:spark',
    SPARK_REQUEST_TIMEOUT_MS: '2000',
    POLL_EXPECTED_GENERATION_SECONDS: '9',
    POLL_MAX_POLLS: '4',
    // One check per poll here; the in-process re-checks have their own test below.
    POLL_RECHECK_SECONDS: '0',
    IMAGE_ALLOW_INSECURE_LOCAL_URLS: 'true',
  });
  ({ handler: createTask } = (await import('../../functions/create-task/handler.ts')) as never);
  ({ handler: pollTask } = (await import('../../functions/poll-task/handler.ts')) as never);
  ({ handler: copyImages } = (await import('../../functions/copy-images/handler.ts')) as never);
  ({ handler: classifyFailure } = (await import(
    '../../functions/classify-failure/handler.ts'
  )) as never);
});

afterAll(async () => {
  await simulator.close();
  await faulty.close();
  await garbled.close();
});

beforeEach(async () => {
  dynamo.reset();
  s3.reset();
  secrets.reset();
  secrets.on(GetSecretValueCommand).resolves({ SecretString: SPARK_KEY });
  await fetch(`${simulator.url}/__sim/reset`, { method: 'POST' });
});

/** Imports a handler again, so it reads the environment as it is now (a new cold start). */
async function freshImport(path: string): Promise<unknown> {
  vi.resetModules();
  return import(path);
}

async function tasksCreated(on = simulator): Promise<number> {
  const stats = (await (await fetch(`${on.url}/__sim/stats`)).json()) as { tasksCreated: number };
  return stats.tasksCreated;
}

async function completedTask(): Promise<TaskState> {
  dynamo.on(GetCommand).resolves({ Item: queued });
  dynamo.on(UpdateCommand).resolves({});
  const task = (await createTask({ id: 'gen-1' }, context)) as TaskState;
  for (let attempt = 0; attempt < 50; attempt++) {
    const polled = (await pollTask(
      { id: 'gen-1', task, startedAt: new Date().toISOString() },
      context,
    )) as TaskState;
    if (polled.state === 'completed') return polled;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('task did not complete');
}

describe('CreateTask', () => {
  it('creates the Spark task, records its id and running status, and asks for the first wait', async () => {
    dynamo.on(GetCommand).resolves({ Item: queued });
    dynamo.on(UpdateCommand).resolves({});

    const task = (await createTask({ id: 'gen-1' }, context)) as TaskState;

    expect(task).toMatchObject({ state: 'pending', polls: 0, nextWaitSeconds: 9 });
    expect(task.sparkTaskId).toMatch(/\S/);
    expect(await tasksCreated()).toBe(1);
    const update = dynamo.commandCalls(UpdateCommand)[0]?.args[0].input;
    expect(update?.ExpressionAttributeValues).toMatchObject({
      ':task': task.sparkTaskId,
      ':running': 'running',
    });
    expect(update?.ConditionExpression).toContain('attribute_not_exists(sparkTaskId)');
    // The first call of the file: the key came from Secrets Manager (then it is cached).
    expect(secrets.commandCalls(GetSecretValueCommand)[0]?.args[0].input.SecretId).toBe(
      process.env.SPARK_API_KEY_SECRET,
    );
  });

  it('does not pay twice: a generation that already has a task gets that task back', async () => {
    dynamo
      .on(GetCommand)
      .resolves({ Item: { ...queued, status: 'running', sparkTaskId: 'task-9', polls: 2 } });

    const task = (await createTask({ id: 'gen-1' }, context)) as TaskState;

    expect(task).toMatchObject({ sparkTaskId: 'task-9', polls: 2, state: 'pending' });
    expect(await tasksCreated()).toBe(0);
    expect(dynamo.commandCalls(UpdateCommand)).toHaveLength(0);
  });

  it.each(['completed', 'failed', 'cancelled'])(
    'refuses a generation that is already %s',
    async (status) => {
      dynamo.on(GetCommand).resolves({ Item: { ...queued, status } });
      await expect(createTask({ id: 'gen-1' }, context)).rejects.toMatchObject({
        name: 'GenerationAlreadyFinishedError',
      });
      expect(await tasksCreated()).toBe(0);
    },
  );

  it('refuses a generation without a record', async () => {
    dynamo.on(GetCommand).resolves({});
    await expect(createTask({ id: 'gen-1' }, context)).rejects.toMatchObject({
      name: 'GenerationNotFoundError',
    });
  });

  it('ends as already finished when the generation was cancelled while its task was created', async () => {
    dynamo.on(GetCommand).resolves({ Item: queued });
    dynamo
      .on(UpdateCommand)
      .rejects(new ConditionalCheckFailedException({ message: 'no', $metadata: {} }));
    await expect(createTask({ id: 'gen-1' }, context)).rejects.toMatchObject({
      name: 'GenerationAlreadyFinishedError',
    });
  });

  it('throws the retryable provider error for the workflow to retry, recording nothing', async () => {
    process.env.SPARK_BASE_URL = faulty.url;
    const { handler } = (await freshImport('../../functions/create-task/handler.ts')) as {
      handler: Handler<unknown>;
    };
    process.env.SPARK_BASE_URL = simulator.url;
    dynamo.on(GetCommand).resolves({ Item: queued });

    await expect(handler({ id: 'gen-1' }, context)).rejects.toMatchObject({
      name: 'SparkServerError',
      retryable: true,
    });
    expect(dynamo.commandCalls(UpdateCommand)).toHaveLength(0);
  });
});

describe('PollTask', () => {
  it('answers pending with the next, growing wait while the task runs', async () => {
    const pending: TaskState = { sparkTaskId: 'x', state: 'pending', polls: 0, nextWaitSeconds: 9 };
    dynamo.on(GetCommand).resolves({ Item: queued });
    dynamo.on(UpdateCommand).resolves({});
    const created = (await createTask({ id: 'gen-1' }, context)) as TaskState;
    const task = { ...pending, sparkTaskId: created.sparkTaskId };

    const first = (await pollTask(
      { id: 'gen-1', task, startedAt: new Date().toISOString() },
      context,
    )) as TaskState;

    expect(first).toMatchObject({ state: 'pending', polls: 1, nextWaitSeconds: 2 });
  });

  it('re-checks in-process on the first poll until the task is done, and learns its duration', async () => {
    process.env.POLL_RECHECK_SECONDS = '2';
    process.env.POLL_RECHECK_INTERVAL_MS = '10';
    const { handler } = (await freshImport('../../functions/poll-task/handler.ts')) as {
      handler: Handler<unknown>;
    };
    process.env.POLL_RECHECK_SECONDS = '0';
    dynamo.on(GetCommand).resolves({ Item: queued });
    dynamo.on(UpdateCommand).resolves({});
    const created = (await createTask({ id: 'gen-1' }, context)) as TaskState;

    // Polled at once, the 30 ms task is still running: only a re-check can see it completed.
    const answer = (await handler(
      { id: 'gen-1', task: created, startedAt: new Date().toISOString() },
      context,
    )) as TaskState;

    expect(answer).toMatchObject({ state: 'completed', polls: 1 });
    const stats = (await fetch(`${simulator.url}/__sim/stats`).then((r) => r.json())) as {
      requests: { poll: number };
    };
    expect(stats.requests.poll).toBeGreaterThan(1);
    const learned = dynamo
      .commandCalls(UpdateCommand)
      .map((call) => call.args[0].input)
      .find((input) => input.Key?.id === '#polling-stats');
    expect(learned?.ExpressionAttributeValues?.[':sample']).toEqual([expect.any(Number)]);
  });

  it('answers completed with the images, the cost and the DynamoDB values of the success write', async () => {
    const done = await completedTask();
    expect(done.images?.[0]?.url).toContain(simulator.url);
    expect(typeof done.costUsd).toBe('number');
    expect(done.attributes?.costUsd).toEqual({ N: String(done.costUsd) });
    expect(done.attributes?.usage).toHaveProperty('M.cost.S');
  });

  it('fails the generation with the timeout code once the poll budget is spent', async () => {
    const task: TaskState = { sparkTaskId: 'x', state: 'pending', polls: 3, nextWaitSeconds: 2 };
    dynamo.on(GetCommand).resolves({ Item: queued });
    dynamo.on(UpdateCommand).resolves({});
    const created = (await createTask({ id: 'gen-1' }, context)) as TaskState;
    // The simulator's latency is 30 ms; poll at once so the task is still running.
    const answer = (await pollTask(
      {
        id: 'gen-1',
        task: { ...task, sparkTaskId: created.sparkTaskId },
        startedAt: new Date().toISOString(),
      },
      context,
    )) as TaskState;
    expect(answer).toMatchObject({
      state: 'failed',
      polls: 4,
      failure: { code: ErrorCodes.GENERATION_TIMED_OUT },
    });
  });

  it('throws SparkResponseParseError on a malformed answer, for a bounded retry', async () => {
    process.env.SPARK_BASE_URL = garbled.url;
    const { handler } = (await freshImport('../../functions/poll-task/handler.ts')) as {
      handler: Handler<unknown>;
    };
    process.env.SPARK_BASE_URL = simulator.url;
    const created = await fetch(`${garbled.url}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${SPARK_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'spark_t2i_3_0', prompt: 'x' }),
    });
    const { id } = (await created.json()) as { id: string };
    const task: TaskState = { sparkTaskId: id, state: 'pending', polls: 0, nextWaitSeconds: 2 };
    await expect(
      handler({ id: 'gen-1', task, startedAt: new Date().toISOString() }, context),
    ).rejects.toMatchObject({
      name: 'SparkResponseParseError',
    });
  });
});

describe('CopyImages', () => {
  it('streams each image into the images bucket with its sha256, type and size', async () => {
    const done = await completedTask();
    // S3 reads the streamed body; the mock must too, or the copy never sees its bytes.
    s3.on(PutObjectCommand).callsFake(async (input: { Body: AsyncIterable<Buffer> }) => {
      for await (const _chunk of input.Body);
      return {};
    });
    const imageUrl = done.images?.[0]?.url as string;
    const served = Buffer.from(await (await fetch(imageUrl)).arrayBuffer());

    const result = (await copyImages(
      { id: 'gen-1', owner: 'alice', request: queued.request, images: done.images },
      context,
    )) as { images: Array<Record<string, unknown>>; dynamoImages: unknown[] };

    expect(result.images).toEqual([
      {
        bucket: 'images',
        key: 'images/alice/gen-1/0.png',
        size: served.length,
        sha256: createHash('sha256').update(served).digest('hex'),
        contentType: 'image/png',
        width: 512,
        height: 512,
        jobId: done.images?.[0]?.jobId,
      },
    ]);
    expect(result.dynamoImages).toEqual([
      expect.objectContaining({
        M: expect.objectContaining({ key: { S: 'images/alice/gen-1/0.png' } }),
      }),
    ]);
    const put = s3.commandCalls(PutObjectCommand)[0]?.args[0].input;
    expect(put).toMatchObject({
      Bucket: 'images',
      Key: 'images/alice/gen-1/0.png',
      ContentType: 'image/png',
      ContentLength: served.length,
    });
  });

  it('fails with ImageTruncatedError, for the workflow to retry, when the download is cut short', async () => {
    const truncating = await startSimulator({ latencyMs: 0, faults: { imageTruncated: 1 } });
    try {
      const headers = { authorization: 'Bearer any', 'content-type': 'application/json' };
      const created = await fetch(`${truncating.url}/v1/images/generations`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ model: 'spark_t2i_3_0', prompt: 'x', width: 512, height: 512 }),
      });
      const { id } = (await created.json()) as { id: string };
      const polled = (await (
        await fetch(`${truncating.url}/v1/tasks/${id}`, { headers })
      ).json()) as {
        output: Array<{ content: Array<{ url: string }> }>;
      };
      s3.on(PutObjectCommand).callsFake(async (input: { Body: AsyncIterable<Buffer> }) => {
        for await (const _chunk of input.Body);
        return {};
      });

      await expect(
        copyImages(
          {
            id: 'gen-1',
            owner: 'alice',
            request: queued.request,
            images: polled.output[0]?.content,
          },
          context,
        ),
      ).rejects.toMatchObject({ name: 'ImageTruncatedError' });
    } finally {
      await truncating.close();
    }
  });

  it('refuses a URL pointing inside the network when not running locally', async () => {
    process.env.IMAGE_ALLOW_INSECURE_LOCAL_URLS = 'false';
    const { handler } = (await freshImport('../../functions/copy-images/handler.ts')) as {
      handler: Handler<unknown>;
    };
    process.env.IMAGE_ALLOW_INSECURE_LOCAL_URLS = 'true';
    const images = [{ url: 'https://169.254.169.254/latest/meta-data/iam' }];
    await expect(
      handler({ id: 'gen-1', owner: 'alice', request: queued.request, images }, context),
    ).rejects.toMatchObject({
      name: 'ImageUrlRefusedError',
    });
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0);
  });
});

describe('ClassifyFailure', () => {
  it('answers the documented code of a caught error', async () => {
    const caught = {
      Error: 'SparkThrottledError',
      Cause: JSON.stringify({ errorType: 'SparkThrottledError', errorMessage: 'slow down' }),
    };
    expect(await classifyFailure(caught, context)).toEqual({
      code: ErrorCodes.PROVIDER_THROTTLED,
      message: 'slow down',
    });
  });
});
