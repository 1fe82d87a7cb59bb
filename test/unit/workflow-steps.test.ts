/**
 * The workflow's Lambda handlers through their middy chains, with DynamoDB, S3 and Secrets
 * Manager mocked (aws-sdk-client-mock), the Spark simulator as the provider, and image URLs
 * served by a real HTTP server on 127.0.0.1 for the copy's wire-level failures.
 */
import { createHash } from 'node:crypto';
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import {
  DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { type RunningSimulator, renderPng, startSimulator } from '#local/simulator/index.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';
import { copyImagesStep } from '#shared/generation/copy-step.ts';
import { CODE_BY_ERROR_NAME } from '#shared/generation/failures.ts';
import type { TaskState } from '#shared/generation/steps.ts';
import { RETRYABLE_SPARK_ERRORS } from '#shared/spark/errors.ts';

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
let failing: RunningSimulator;
let images: ImageServer;
/** A small real PNG (64x48), as the provider would serve it. */
let png: Buffer;
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
  failing = await startSimulator({ latencyMs: 0, apiKey: SPARK_KEY, faults: { taskFailed: 1 } });
  images = await startImageServer();
  png = await renderPng({ prompt: 'a test card', seed: 1, width: 64, height: 48 });
  Object.assign(process.env, {
    POWERTOOLS_LOG_LEVEL: 'SILENT',
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
    // The simulator and the image server stand for the provider: both plain http on 127.0.0.1.
    IMAGE_INSECURE_ORIGINS: `${simulator.url},${images.origin}`,
    SLOTS_TABLE: 'slots',
    MAX_CONCURRENT_TASKS: '3',
    // One check per poll here; the in-process re-checks have their own test below.
    POLL_RECHECK_SECONDS: '0',
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
  await failing.close();
  await images.close();
});

beforeEach(async () => {
  dynamo.reset();
  // Releasing a slot looks at the free slots and the waiters to wake: all free, none waiting.
  dynamo.on(GetCommand).resolves({});
  dynamo.on(QueryCommand).resolves({ Items: [] });
  s3.reset();
  secrets.reset();
  secrets.on(GetSecretValueCommand).resolves({ SecretString: SPARK_KEY });
  await fetch(`${simulator.url}/__sim/reset`, { method: 'POST' });
});

/** A real HTTP server on 127.0.0.1 serving each image path the way the test scripts it. */
interface ImageServer {
  /** Its origin (`http://127.0.0.1:PORT`). */
  readonly origin: string;
  /** Serves `path` with `listener`; answers its full URL. */
  route(path: string, listener: RequestListener): string;
  /** Paths requested so far. */
  readonly requested: string[];
  close(): Promise<void>;
}

async function startImageServer(): Promise<ImageServer> {
  const routes = new Map<string, RequestListener>();
  const requested: string[] = [];
  const server = createServer((request, response) => {
    requested.push(request.url ?? '');
    const listener = routes.get(request.url ?? '');
    if (listener) listener(request, response);
    else response.writeHead(500).end('no route');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin: base,
    requested,
    route(path, listener) {
      routes.set(path, listener);
      return `${base}${path}`;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

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

  it('gives back its provider slot when the task has ended, and keeps it while it runs', async () => {
    const semaphoreReleases = () =>
      dynamo
        .commandCalls(UpdateCommand)
        .filter((call) => call.args[0].input.TableName === 'slots')
        .map((call) => call.args[0].input);
    await completedTask();
    // Polls that found the task running released nothing; the one that saw it end did, once.
    expect(semaphoreReleases()).toEqual([
      expect.objectContaining({
        Key: { pk: 'semaphore', sk: 'provider' },
        UpdateExpression: 'DELETE holders :ids',
        ExpressionAttributeValues: { ':ids': new Set(['gen-1']) },
      }),
    ]);
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

      // This simulator is another local origin: a handler configured to exempt it too.
      process.env.IMAGE_INSECURE_ORIGINS = `${process.env.IMAGE_INSECURE_ORIGINS},${truncating.url}`;
      const { handler } = (await freshImport('../../functions/copy-images/handler.ts')) as {
        handler: Handler<unknown>;
      };
      await expect(
        handler(
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

  it.each([
    'https://169.254.169.254/latest/meta-data/iam',
    'http://169.254.169.254/latest/meta-data/iam',
    'http://10.0.0.7/images/a.png',
  ])('refuses %s, although the simulator origin is exempt', async (url) => {
    const images = [{ url }];
    await expect(
      copyImages({ id: 'gen-1', owner: 'alice', request: queued.request, images }, context),
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

/** The input Step Functions hands a Catch and then ClassifyFailure, for an error a step threw. */
function caughtAs(error: { name: string; message: string }) {
  return {
    Error: error.name,
    Cause: JSON.stringify({ errorType: error.name, errorMessage: error.message }),
  };
}

/** Imports a Spark step again, reading its key from a secret of its own (the cache is by name). */
async function withSecret(path: string, secretName: string): Promise<Handler<unknown>> {
  const previous = process.env.SPARK_API_KEY_SECRET;
  process.env.SPARK_API_KEY_SECRET = secretName;
  try {
    return ((await freshImport(path)) as { handler: Handler<unknown> }).handler;
  } finally {
    process.env.SPARK_API_KEY_SECRET = previous;
  }
}

describe('CreateTask and PollTask, failure paths', () => {
  it('stops at a request the provider refuses (HTTP 400 with its code): no retry, nothing recorded', async () => {
    dynamo
      .on(GetCommand)
      .resolves({ Item: { ...queued, request: { ...queued.request, prompt: '' } } });
    dynamo.on(UpdateCommand).resolves({});

    const error = await createTask({ id: 'gen-1' }, context).catch((caught: unknown) => caught);

    expect(error).toMatchObject({ name: 'SparkRejectedError', retryable: false });
    expect(simulator.stats().requests.create).toBe(1);
    expect(await tasksCreated()).toBe(0);
    expect(dynamo.commandCalls(UpdateCommand)).toHaveLength(0);
    // The record then carries the provider's own code.
    expect(await classifyFailure(caughtAs(error as Error), context)).toMatchObject({
      code: ErrorCodes.INVALID_PROMPT_LENGTH,
    });
  });

  it('stops at a task the provider does not know (HTTP 404 on poll) with the status-check code', async () => {
    const task: TaskState = {
      sparkTaskId: 'no-such-task',
      state: 'pending',
      polls: 0,
      nextWaitSeconds: 2,
    };

    const error = await pollTask(
      { id: 'gen-1', task, startedAt: new Date().toISOString() },
      context,
    ).catch((caught: unknown) => caught);

    expect(error).toMatchObject({
      name: 'SparkHttpError',
      retryable: false,
      code: ErrorCodes.STATUS_CHECK_ERROR,
    });
    expect(await classifyFailure(caughtAs(error as Error), context)).toMatchObject({
      code: ErrorCodes.STATUS_CHECK_ERROR,
    });
  });

  it('stops with SparkAuthError when the secret holds a key the provider refuses', async () => {
    const handler = await withSecret('../../functions/create-task/handler.ts', 'spark-wrong-key');
    secrets.on(GetSecretValueCommand, { SecretId: 'spark-wrong-key' }).resolves({
      SecretString: 'not-the-key',
    });
    dynamo.on(GetCommand).resolves({ Item: queued });

    await expect(handler({ id: 'gen-1' }, context)).rejects.toMatchObject({
      name: 'SparkAuthError',
      retryable: false,
    });
    expect(await tasksCreated()).toBe(0);
    expect(dynamo.commandCalls(UpdateCommand)).toHaveLength(0);
  });

  it.each([
    [
      'create-task',
      'is missing',
      () => new ResourceNotFoundException({ message: 'no', $metadata: {} }),
    ],
    ['create-task', 'is an empty string', () => ({ SecretString: '  ' })],
    ['create-task', 'is binary', () => ({ SecretBinary: new Uint8Array([1, 2, 3]) })],
    [
      'poll-task',
      'is missing',
      () => new ResourceNotFoundException({ message: 'no', $metadata: {} }),
    ],
    ['poll-task', 'is an empty string', () => ({ SecretString: '' })],
  ] as const)(
    '%s fails without calling the provider when the Spark secret %s, and the record says internal error',
    async (step, what, answer) => {
      const secretName = `spark-secret-${step}-${what.replaceAll(' ', '-')}`;
      const handler = await withSecret(`../../functions/${step}/handler.ts`, secretName);
      const outcome = answer();
      if (outcome instanceof Error)
        secrets.on(GetSecretValueCommand, { SecretId: secretName }).rejects(outcome);
      else secrets.on(GetSecretValueCommand, { SecretId: secretName }).resolves(outcome);
      dynamo.on(GetCommand).resolves({ Item: queued });
      const task: TaskState = {
        sparkTaskId: 'task-1',
        state: 'pending',
        polls: 0,
        nextWaitSeconds: 2,
      };
      const event =
        step === 'create-task'
          ? { id: 'gen-1' }
          : { id: 'gen-1', task, startedAt: new Date().toISOString() };

      const error = (await handler(event, context).catch((caught: unknown) => caught)) as Error;

      expect(error).toBeInstanceOf(Error);
      // Not a name the workflow retries: a missing key does not appear by trying again.
      expect(RETRYABLE_SPARK_ERRORS).not.toContain(error.name);
      expect(simulator.stats().requests).toMatchObject({ create: 0, poll: 0 });
      expect(dynamo.commandCalls(UpdateCommand)).toHaveLength(0);
      expect(secrets.commandCalls(GetSecretValueCommand, { SecretId: secretName })).toHaveLength(1);
      expect(await classifyFailure(caughtAs(error), context)).toMatchObject({
        code: ErrorCodes.INTERNAL_ERROR,
      });
    },
  );

  it('refuses a terminal record even when it already has a task, rather than handing the task back', async () => {
    dynamo.on(GetCommand).resolves({
      Item: { ...queued, status: 'completed', sparkTaskId: 'task-9', polls: 3 },
    });
    await expect(createTask({ id: 'gen-1' }, context)).rejects.toMatchObject({
      name: 'GenerationAlreadyFinishedError',
    });
    expect(dynamo.commandCalls(UpdateCommand)).toHaveLength(0);
  });

  it('answers failed, as data, with the provider code of a task the provider failed', async () => {
    process.env.SPARK_BASE_URL = failing.url;
    const { handler } = (await freshImport('../../functions/poll-task/handler.ts')) as {
      handler: Handler<unknown>;
    };
    process.env.SPARK_BASE_URL = simulator.url;
    const created = await fetch(`${failing.url}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${SPARK_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'spark_t2i_3_0', prompt: 'x' }),
    });
    const { id } = (await created.json()) as { id: string };
    const task: TaskState = { sparkTaskId: id, state: 'pending', polls: 1, nextWaitSeconds: 2 };

    const answer = await handler(
      { id: 'gen-1', task, startedAt: new Date().toISOString() },
      context,
    );

    expect(answer).toEqual({
      sparkTaskId: id,
      state: 'failed',
      polls: 2,
      nextWaitSeconds: 0,
      failure: { code: ErrorCodes.INTERNAL_GENERATION_ERROR, message: expect.any(String) },
    });
  });
});

describe('CopyImages, failure paths', () => {
  const copy = (url: string) =>
    copyImages(
      { id: 'gen-1', owner: 'alice', request: queued.request, images: [{ url }] },
      context,
    );
  /** The step itself, for the settings a handler only takes from its environment. */
  const copyStep = (url: string, deps: Partial<Parameters<typeof copyImagesStep>[1]> = {}) =>
    copyImagesStep(
      { id: 'gen-1', owner: 'alice', request: queued.request, images: [{ url }] },
      {
        s3: new S3Client({}),
        bucket: 'images',
        policy: { insecureOrigins: [new URL(url).origin], allowedHosts: [] },
        maxImageBytes: 50 * 1024 * 1024,
        timeoutMs: 30_000,
        ...deps,
      },
    );
  const stored = () =>
    s3.commandCalls(PutObjectCommand).length +
    s3.commandCalls(CompleteMultipartUploadCommand).length;

  beforeEach(() => {
    // A streaming PUT reads its body as S3 would, so the copy sees every byte go out.
    s3.on(PutObjectCommand).callsFake(async (input: { Body: AsyncIterable<Buffer> }) => {
      for await (const _chunk of input.Body);
      return {};
    });
  });

  it('stores a PNG served by a plain HTTP server, with its sha256 and its own size', async () => {
    const url = images.route('/fine.png', (_, response) => {
      response.writeHead(200, { 'content-type': 'image/png', 'content-length': png.length });
      response.end(png);
    });

    const result = (await copy(url)) as { images: Array<Record<string, unknown>> };

    expect(result.images).toEqual([
      {
        bucket: 'images',
        key: 'images/alice/gen-1/0.png',
        size: png.length,
        sha256: createHash('sha256').update(png).digest('hex'),
        contentType: 'image/png',
        width: 64,
        height: 48,
      },
    ]);
    expect(stored()).toBe(1);
  });

  it.each([
    [404, 'ImageDownloadError', /HTTP 404/],
    [500, 'ImageDownloadError', /HTTP 500/],
    [403, 'ImageUrlExpiredError', /403/],
  ])('fails an image URL answering %i with %s, storing nothing', async (status, name, message) => {
    const url = images.route(`/status-${status}.png`, (_, response) => {
      response.writeHead(status, { 'content-type': 'application/json' }).end('{"error":"no"}');
    });
    await expect(copy(url)).rejects.toMatchObject({
      name,
      message: expect.stringMatching(message),
    });
    expect(stored()).toBe(0);
  });

  it('fails with ImageTruncatedError when the body ends before its Content-Length', async () => {
    const url = images.route('/truncated.png', (_, response) => {
      response.writeHead(200, { 'content-type': 'image/png', 'content-length': png.length + 1000 });
      response.write(png, () => response.destroy());
    });
    await expect(copy(url)).rejects.toMatchObject({
      name: 'ImageTruncatedError',
      message: `Image download ended after ${png.length} of ${png.length + 1000} bytes`,
    });
    // A declared length makes the copy one streaming PUT of exactly that length: S3 refuses a
    // body that ends short of it, so nothing is stored (the mock only sees the request begin).
  });

  it.each([
    ['text/html', 'the content type', /served text\/html/],
    ['application/json; charset=utf-8', 'the content type', /served application\/json/],
  ])(
    'refuses a body served as %s (by %s), whatever its bytes',
    async (contentType, _by, message) => {
      const url = images.route(`/typed-${contentType.replaceAll(/\W/g, '')}`, (_, response) => {
        response.writeHead(200, { 'content-type': contentType }).end(png);
      });
      await expect(copy(url)).rejects.toMatchObject({
        name: 'NotAnImageError',
        message: expect.stringMatching(message),
      });
      expect(stored()).toBe(0);
    },
  );

  it.each([
    ['a GIF', Buffer.concat([Buffer.from('GIF89a'), Buffer.alloc(200, 7)])],
    ['an HTML page', Buffer.from(`<html><body>${'x'.repeat(200)}</body></html>`)],
    [
      'a RIFF file that is not WebP',
      Buffer.concat([Buffer.from('RIFF\0\0\0\0WAVE'), Buffer.alloc(100)]),
    ],
    ['shorter than any image header', Buffer.from('nope')],
    ['empty', Buffer.alloc(0)],
  ])('refuses a body that is %s, even when it claims image/png', async (what, body) => {
    const url = images.route(`/magic-${what.replaceAll(' ', '-')}`, (_, response) => {
      response.writeHead(200, { 'content-type': 'image/png', 'content-length': body.length });
      response.end(body);
    });
    await expect(copy(url)).rejects.toMatchObject({
      name: 'NotAnImageError',
      message: 'The image is not a PNG, JPEG or WebP',
    });
    expect(stored()).toBe(0);
  });

  it.each([
    [
      'JPEG',
      Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(300, 3)]),
      'image/jpeg',
      'jpg',
    ],
    [
      'WebP',
      Buffer.concat([Buffer.from('RIFF\x10\0\0\0WEBPVP8 '), Buffer.alloc(300, 3)]),
      'image/webp',
      'webp',
    ],
  ])(
    'recognises a %s by its first bytes when served as application/octet-stream',
    async (_, body, type, extension) => {
      const url = images.route(`/octet-${extension}`, (__, response) => {
        response.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body);
      });
      const result = (await copy(url)) as { images: Array<Record<string, unknown>> };
      expect(result.images[0]).toMatchObject({
        contentType: type,
        key: `images/alice/gen-1/0.${extension}`,
        size: body.length,
        // No header to read the size from: the requested size stands.
        width: 512,
        height: 512,
      });
      expect(s3.commandCalls(PutObjectCommand)[0]?.args[0].input.ContentType).toBe(type);
    },
  );

  it('refuses an image whose Content-Length is over the limit before reading it', async () => {
    const url = images.route('/declared-large.png', (_, response) => {
      response.writeHead(200, { 'content-type': 'image/png', 'content-length': png.length });
      response.end(png);
    });
    await expect(copyStep(url, { maxImageBytes: png.length - 1 })).rejects.toMatchObject({
      name: 'ImageTooLargeError',
      message: `Image is ${png.length} bytes; the limit is ${png.length - 1}`,
    });
    expect(stored()).toBe(0);
  });

  it('stops an image without Content-Length once the streamed bytes pass the limit, and hangs up', async () => {
    let closed!: () => void;
    const hungUp = new Promise<void>((resolve) => {
      closed = resolve;
    });
    const url = images.route('/endless.png', (_, response) => {
      response.writeHead(200, { 'content-type': 'image/png' });
      response.write(png);
      const more = setInterval(() => response.write(Buffer.alloc(1024)), 5);
      response.on('close', () => {
        clearInterval(more);
        closed();
      });
    });

    await expect(copyStep(url, { maxImageBytes: 8192 })).rejects.toMatchObject({
      name: 'ImageTooLargeError',
      message: 'Image is larger than the limit of 8192 bytes',
    });
    expect(stored()).toBe(0);
    // The download is dropped at once, not left open until the per-image timeout (30 s here).
    await expect(
      Promise.race([hungUp.then(() => 'closed'), new Promise((r) => setTimeout(r, 2000, 'open'))]),
    ).resolves.toBe('closed');
  });

  it('accepts an image exactly at the limit', async () => {
    const url = images.route('/at-limit.png', (_, response) => {
      response.writeHead(200, { 'content-type': 'image/png' });
      response.end(png);
    });
    const result = await copyStep(url, { maxImageBytes: png.length });
    expect(result.images[0]?.size).toBe(png.length);
  });

  it('refuses a plain http URL when http is not allowed, without connecting', async () => {
    const url = images.route('/plain-http.png', (_, response) => {
      response.writeHead(200, { 'content-type': 'image/png' }).end(png);
    });
    await expect(
      copyStep(url, {
        policy: { insecureOrigins: [], allowedHosts: [] },
      }),
    ).rejects.toMatchObject({
      name: 'ImageUrlRefusedError',
      message: 'Image URL scheme http: is not allowed',
    });
    expect(images.requested).not.toContain('/plain-http.png');
  });

  it('fails with ImageDownloadError when the image stalls past the per-image time limit', async () => {
    const url = images.route('/stalled.png', (_, response) => {
      response.writeHead(200, { 'content-type': 'image/png', 'content-length': png.length });
      response.write(png.subarray(0, 100));
    });
    await expect(copyStep(url, { timeoutMs: 300 })).rejects.toMatchObject({
      name: 'ImageDownloadError',
      message: 'Image download timed out after 300 ms',
    });
  });

  it('fails with ImageDownloadError, keeping the S3 error as cause, when storing the image fails', async () => {
    const failure = new S3ServiceException({
      name: 'InternalError',
      $fault: 'server',
      $metadata: { httpStatusCode: 500 },
      message: 'We encountered an internal error',
    });
    s3.on(PutObjectCommand).rejects(failure);
    const url = images.route('/put-fails.png', (_, response) => {
      response.writeHead(200, { 'content-type': 'image/png' }).end(png);
    });

    const error = (await copy(url).catch((caught: unknown) => caught)) as Error;

    expect(error).toMatchObject({
      name: 'ImageDownloadError',
      message: 'Storing the image failed',
    });
    expect(error.cause).toMatchObject({ name: 'InternalError' });
  });

  it('aborts the multipart upload of a large image whose part upload fails', async () => {
    // Of undeclared length (no Content-Length) and over a part's size, so the copy goes through
    // a multipart upload.
    const large = Buffer.concat([png, Buffer.alloc(9 * 1024 * 1024)]);
    s3.on(CreateMultipartUploadCommand).resolves({ UploadId: 'upload-1' });
    s3.on(UploadPartCommand).rejects(
      new S3ServiceException({
        name: 'SlowDown',
        $fault: 'server',
        $metadata: {},
        message: 'slow',
      }),
    );
    s3.on(AbortMultipartUploadCommand).resolves({});
    const url = images.route('/large.png', (_, response) => {
      response.writeHead(200, { 'content-type': 'image/png' });
      response.end(large);
    });

    // The failed part ends the upload; the download it was reading from is cut at the same
    // moment, so the copy reports either side of that (both retried by the workflow alike).
    await expect(copy(url)).rejects.toMatchObject({
      name: expect.stringMatching(/^Image(Download|Truncated)Error$/),
    });
    expect(s3.commandCalls(CompleteMultipartUploadCommand)).toHaveLength(0);
    expect(s3.commandCalls(AbortMultipartUploadCommand)[0]?.args[0].input).toMatchObject({
      Bucket: 'images',
      Key: 'images/alice/gen-1/0.png',
      UploadId: 'upload-1',
    });
  });
});

describe('ClassifyFailure, every error it knows', () => {
  const fixed: Array<[string, string]> = [
    ['SparkThrottledError', ErrorCodes.PROVIDER_THROTTLED],
    ['SparkServerError', ErrorCodes.HTTP_ERROR_RESPONSE],
    ['SparkTimeoutError', ErrorCodes.PROVIDER_TIMEOUT],
    ['SparkNetworkError', ErrorCodes.PROVIDER_UNREACHABLE],
    ['SparkResponseParseError', ErrorCodes.RESULT_PARSING_ERROR],
    ['SparkAuthError', ErrorCodes.PROVIDER_UNAUTHORIZED],
    ['ImageDownloadError', ErrorCodes.IMAGE_DOWNLOAD_FAILED],
    ['ImageTruncatedError', ErrorCodes.IMAGE_TRUNCATED],
    ['ImageUrlRefusedError', ErrorCodes.IMAGE_URL_REFUSED],
    ['ImageUrlExpiredError', ErrorCodes.IMAGE_URL_EXPIRED],
    ['ImageTooLargeError', ErrorCodes.IMAGE_TOO_LARGE],
    ['NotAnImageError', ErrorCodes.IMAGE_NOT_AN_IMAGE],
  ];

  it('is given a row below for every error name with a fixed code', () => {
    expect(Object.keys(CODE_BY_ERROR_NAME).sort()).toEqual(
      [...fixed.map(([name]) => name), 'States.Timeout'].sort(),
    );
  });

  it.each(fixed)('answers %s with %s and the error message', async (name, code) => {
    expect(await classifyFailure(caughtAs({ name, message: `${name} happened` }), context)).toEqual(
      {
        code,
        message: `${name} happened`,
      },
    );
  });

  it('answers a step timeout with the timeout code and a message of its own', async () => {
    expect(
      await classifyFailure(
        { Error: 'States.Timeout', Cause: 'Task timed out after 30 s' },
        context,
      ),
    ).toEqual({ code: ErrorCodes.GENERATION_TIMED_OUT, message: 'A workflow step timed out' });
  });

  it.each([
    [
      'SparkRejectedError',
      'Spark create answered HTTP 400 (003001002: prompt)',
      ErrorCodes.INVALID_PROMPT_LENGTH,
    ],
    [
      'SparkRejectedError',
      'Spark create answered HTTP 422 (003001006: ratio 123456789 too wide)',
      ErrorCodes.INVALID_ASPECT_RATIO,
    ],
    ['SparkHttpError', 'Spark poll answered HTTP 404 (003001098)', ErrorCodes.STATUS_CHECK_ERROR],
    // Its own code comes last, after the provider's detail and whatever code that carries.
    [
      'SparkHttpError',
      'Spark poll answered HTTP 404 (090009004: No task x) (003001098)',
      ErrorCodes.STATUS_CHECK_ERROR,
    ],
    [
      'SparkHttpError',
      'Spark create answered HTTP 409 (001: busy) (003001099)',
      ErrorCodes.TASK_CREATION_ERROR,
    ],
    ['SparkHttpError', 'Spark poll answered HTTP 418', ErrorCodes.HTTP_ERROR_RESPONSE],
  ])('reads the code of %s from its message (%s)', async (name, message, code) => {
    expect(await classifyFailure(caughtAs({ name, message }), context)).toEqual({ code, message });
  });

  it.each([
    [caughtAs({ name: 'TypeError', message: 'x is undefined at /var/task/index.mjs:1' })],
    [{ Error: 'GetParameterError', Cause: 'secret arn:aws:secretsmanager:... not found' }],
    [{ Error: 'Lambda.Unknown', Cause: 'The cause could not be determined' }],
    [{}],
  ])(
    'answers an error it does not know with the internal code, passing no message on (%o)',
    async (caught) => {
      const answer = (await classifyFailure(caught, context)) as { code: string; message: string };
      expect(answer.code).toBe(ErrorCodes.INTERNAL_ERROR);
      expect(answer.message).toMatch(/^Internal pipeline error \(/);
      expect(answer.message).not.toMatch(/var\/task|secretsmanager|undefined|determined/);
    },
  );
});
