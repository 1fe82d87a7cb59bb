/**
 * The concurrency cap's Lambda handlers through their middy chains, with DynamoDB, Step
 * Functions and EventBridge mocked (aws-sdk-client-mock): what each call sends, on success and on
 * its error paths. The semaphore's behaviour itself is proven against a real DynamoDB-compatible
 * server in slots.test.ts and reconciler.test.ts.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import {
  DescribeExecutionCommand,
  SendTaskSuccessCommand,
  SFNClient,
  TaskTimedOut,
} from '@aws-sdk/client-sfn';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { tokenHash } from '#shared/generation/slot-store.ts';
import { lambdaContext } from '../../helpers/lambda-context.ts';

const dynamo = mockClient(DynamoDBDocumentClient);
const sfn = mockClient(SFNClient);
const events = mockClient(EventBridgeClient);
const context = lambdaContext({ functionName: 'test', requestId: 'req-1' });
type Handler = (event: unknown, context: Context) => Promise<unknown>;
let acquire: Handler;
let release: Handler;
let reconcile: Handler;

const STATE_MACHINE = 'arn:aws:states:us-east-1:000000000000:stateMachine:SparkT2i-generation';
const conditionFailed = () =>
  new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });

beforeAll(async () => {
  Object.assign(process.env, {
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    SLOTS_TABLE: 'slots',
    MAX_CONCURRENT_TASKS: '2',
    GENERATIONS_TABLE: 'generations',
    BATCHES_TABLE: 'batches',
    STATE_MACHINE_ARN: STATE_MACHINE,
    EVENT_BUS_NAME: 'bus',
    MAX_EXECUTION_SECONDS: '3600',
  });
  ({ handler: acquire } = (await import('../../../functions/acquire-slot/handler.ts')) as never);
  ({ handler: release } = (await import('../../../functions/release-slot/handler.ts')) as never);
  ({ handler: reconcile } = (await import('../../../functions/reconciler/handler.ts')) as never);
});

beforeEach(() => {
  dynamo.reset();
  sfn.reset();
  events.reset();
  dynamo.on(QueryCommand).resolves({ Items: [] });
  sfn.on(SendTaskSuccessCommand).resolves({});
});

const semaphoreWith = (holders: string[]) => ({
  Item: { pk: 'semaphore', sk: 'provider', ...(holders.length && { holders: new Set(holders) }) },
});
const waiter = { id: 'gen-2', token: 'token-2', queuedAt: '2026-12-01T10:00:00.000Z' };

describe('AcquireSlot', () => {
  it('takes a free slot and wakes its own execution with the grant time', async () => {
    dynamo.on(GetCommand).resolves(semaphoreWith(['gen-1']));
    dynamo.on(UpdateCommand).resolves({});

    expect(await acquire(waiter, context)).toEqual({ granted: true });

    expect(dynamo.commandCalls(UpdateCommand)[0]?.args[0].input).toMatchObject({
      TableName: 'slots',
      Key: { pk: 'semaphore', sk: 'provider' },
      UpdateExpression: 'ADD holders :ids SET #grant = :grant',
      ExpressionAttributeNames: { '#grant': 'grant#gen-2' },
      ExpressionAttributeValues: { ':ids': new Set(['gen-2']), ':capacity': 2 },
    });
    const woken = sfn.commandCalls(SendTaskSuccessCommand)[0]?.args[0].input;
    expect(woken?.taskToken).toBe('token-2');
    expect(JSON.parse(woken?.output ?? '{}')).toEqual({ acquiredAt: expect.any(String) });
  });

  it('wakes an execution whose generation holds a slot already, its grant pointed at this token first', async () => {
    dynamo.on(GetCommand).resolves(semaphoreWith(['gen-2']));
    dynamo.on(UpdateCommand).resolves({ Attributes: { holders: new Set(['gen-2']) } });
    expect(await acquire(waiter, context)).toEqual({ granted: true });
    const [repoint] = dynamo.commandCalls(UpdateCommand).map((call) => call.args[0].input);
    expect(repoint?.ExpressionAttributeNames).toEqual({ '#grant': 'grant#gen-2' });
    expect(repoint?.ExpressionAttributeValues?.[':grant']).toBe(tokenHash('token-2'));
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(1);
  });

  it('queues the token when every slot is taken, and wakes nobody', async () => {
    dynamo.on(GetCommand).resolves(semaphoreWith(['gen-1', 'gen-3']));
    dynamo.on(UpdateCommand).rejects(conditionFailed());
    dynamo.on(PutCommand).resolves({});

    expect(await acquire(waiter, context)).toEqual({ granted: false });

    expect(dynamo.commandCalls(PutCommand)[0]?.args[0].input).toMatchObject({
      TableName: 'slots',
      Item: { pk: 'waiter', sk: '2026-12-01T10:00:00.000Z#gen-2', token: 'token-2' },
    });
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
  });

  it('fails (for the workflow to retry) when DynamoDB fails', async () => {
    dynamo
      .on(GetCommand)
      .rejects(Object.assign(new Error('slow down'), { name: 'ThrottlingException' }));
    await expect(acquire(waiter, context)).rejects.toMatchObject({ name: 'ThrottlingException' });
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
  });
});

describe('ReleaseSlot', () => {
  /** Every slot is free whenever the hand-over looks, and one execution waits for a slot. */
  function everySlotFreeWithOneWaiter(): void {
    dynamo.on(UpdateCommand).resolves({});
    dynamo.on(DeleteCommand).resolves({});
    dynamo.on(GetCommand).resolves({});
    dynamo
      .on(QueryCommand)
      .resolvesOnce({ Items: [{ pk: 'waiter', ...waiter }] })
      .resolves({ Items: [] });
  }

  it('gives the slot back, leaves the queue, and wakes the oldest waiter', async () => {
    everySlotFreeWithOneWaiter();

    expect(await release({ id: 'gen-1', queuedAt: '2026-12-01T09:59:00.000Z' }, context)).toEqual({
      woken: 1,
    });

    expect(dynamo.commandCalls(UpdateCommand)[0]?.args[0].input).toMatchObject({
      UpdateExpression: 'DELETE holders :ids REMOVE #grant',
      ExpressionAttributeValues: { ':ids': new Set(['gen-1']) },
    });
    expect(dynamo.commandCalls(DeleteCommand)[0]?.args[0].input.Key).toEqual({
      pk: 'waiter',
      sk: '2026-12-01T09:59:00.000Z#gen-1',
    });
    expect(sfn.commandCalls(SendTaskSuccessCommand)[0]?.args[0].input.taskToken).toBe('token-2');
  });

  it('gives back the slot it just granted to a waiter whose execution stopped waiting', async () => {
    everySlotFreeWithOneWaiter();
    sfn
      .on(SendTaskSuccessCommand)
      .rejects(new TaskTimedOut({ message: 'timed out', $metadata: {} }));

    expect(await release({ id: 'gen-1' }, context)).toEqual({ woken: 0 });

    const released = dynamo
      .commandCalls(UpdateCommand)
      .map((call) => call.args[0].input)
      .filter((input) => input.UpdateExpression === 'DELETE holders :ids REMOVE #grant');
    expect(
      released.map((input) => [
        ...((input.ExpressionAttributeValues?.[':ids'] as Set<string>) ?? []),
      ]),
    ).toEqual([['gen-1'], ['gen-2']]);
    // Its own release is unconditional; the stopped waiter's slot goes back only while its grant
    // is still the refused token's.
    expect(released[0]?.ConditionExpression).toBeUndefined();
    expect(released[1]).toMatchObject({
      ConditionExpression: 'contains(holders, :id) AND #grant = :grant',
      ExpressionAttributeNames: { '#grant': 'grant#gen-2' },
      ExpressionAttributeValues: { ':grant': tokenHash('token-2') },
    });
  });
});

describe('Reconciler', () => {
  const ended = (status: string) => ({
    'detail-type': 'Step Functions Execution Status Change',
    source: 'aws.states',
    detail: { name: 'gen-1', status, stateMachineArn: STATE_MACHINE },
  });

  it('frees the slot of an aborted execution, fails its running record and publishes the failure', async () => {
    dynamo.on(UpdateCommand).resolves({});
    dynamo.on(GetCommand).resolves({
      Item: { id: 'gen-1', owner: 'alice', status: 'running', source: 'http', sourceRef: 'x' },
    });
    events.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [] });

    expect(await reconcile(ended('ABORTED'), context)).toEqual({
      released: 1,
      failed: 1,
      woken: 0,
    });

    const failure = dynamo
      .commandCalls(UpdateCommand)
      .map((call) => call.args[0].input)
      .find((input) => input.TableName === 'generations');
    expect(failure?.ExpressionAttributeValues?.[':error']).toMatchObject({ code: '090003008' });
    expect(events.commandCalls(PutEventsCommand)[0]?.args[0].input.Entries?.[0]).toMatchObject({
      EventBusName: 'bus',
      DetailType: 'Generation Failed',
    });
  });

  it('does nothing for an execution that succeeded', async () => {
    expect(await reconcile(ended('SUCCEEDED'), context)).toEqual({
      released: 0,
      failed: 0,
      woken: 0,
    });
    expect(dynamo.calls()).toHaveLength(0);
  });

  it('sweeps on its schedule: a holder whose execution is gone is freed', async () => {
    dynamo.on(GetCommand, { TableName: 'slots' }).resolves(semaphoreWith(['gen-9']));
    dynamo
      .on(GetCommand, { TableName: 'generations' })
      .resolves({ Item: { id: 'gen-9', owner: 'alice', status: 'running', source: 's3' } });
    dynamo.on(UpdateCommand).resolves({});
    dynamo.on(ScanCommand).resolves({ Items: [] });
    sfn.on(DescribeExecutionCommand).resolves({ status: 'TIMED_OUT' });
    events.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [] });

    expect(
      await reconcile({ 'detail-type': 'Scheduled Event', source: 'aws.events' }, context),
    ).toEqual({
      released: 1,
      failed: 1,
      woken: 0,
      batches: { published: 0, recounted: 0, abandoned: 0, ended: 0 },
    });
    expect(sfn.commandCalls(DescribeExecutionCommand)[0]?.args[0].input.executionArn).toBe(
      'arn:aws:states:us-east-1:000000000000:execution:SparkT2i-generation:gen-9',
    );
  });

  it('leaves a record alone when another write ended it first', async () => {
    dynamo.on(GetCommand).resolves({
      Item: { id: 'gen-1', owner: 'alice', status: 'running', source: 'http' },
    });
    dynamo.on(UpdateCommand, { TableName: 'slots' }).resolves({});
    dynamo.on(UpdateCommand, { TableName: 'generations' }).rejects(conditionFailed());
    expect(await reconcile(ended('FAILED'), context)).toEqual({ released: 1, failed: 0, woken: 0 });
    expect(events.commandCalls(PutEventsCommand)).toHaveLength(0);
  });
});
