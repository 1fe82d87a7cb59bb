import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand, ResourceNotFoundException } from '@aws-sdk/client-secrets-manager';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '#shared/errors/codes.ts';
import type { TaskState } from '#shared/generation/steps.ts';
import { RETRYABLE_SPARK_ERRORS } from '#shared/spark/errors.ts';
import {
  caughtAs,
  classifyFailure,
  completedTask,
  context,
  createTask,
  dynamo,
  failing,
  faulty,
  freshImport,
  garbled,
  type Handler,
  pollTask,
  queued,
  SPARK_KEY,
  secrets,
  simulator,
  tasksCreated,
  withSecret,
} from './support.ts';

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
    const { handler } = (await freshImport('create-task')) as {
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
        UpdateExpression: 'DELETE holders :ids REMOVE #grant',
        ExpressionAttributeValues: { ':ids': new Set(['gen-1']) },
      }),
    ]);
  });

  it('re-checks in-process on the first poll until the task is done, and learns its duration', async () => {
    process.env.POLL_RECHECK_SECONDS = '2';
    process.env.POLL_RECHECK_INTERVAL_MS = '10';
    const { handler } = (await freshImport('poll-task')) as {
      handler: Handler<unknown>;
    };
    process.env.POLL_RECHECK_SECONDS = '0';
    dynamo.on(GetCommand).resolves({ Item: queued });
    dynamo.on(UpdateCommand).resolves({});
    const created = (await createTask({ id: 'gen-1' }, context)) as TaskState;

    // Polled at once, the 400 ms task is still running: only a re-check can see it completed.
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
    // The simulator's latency is 400 ms; poll at once so the task is still running.
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
    const { handler } = (await freshImport('poll-task')) as {
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
    const handler = await withSecret('create-task', 'spark-wrong-key');
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
      const handler = await withSecret(step, secretName);
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
    const { handler } = (await freshImport('poll-task')) as {
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
