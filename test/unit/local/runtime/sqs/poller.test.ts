/**
 * SQS event source mappings, run by the local SQS against the real local Lambda: a fixture
 * function in its own process, with its role's credentials and the SQS door's endpoint, as the
 * runtime gives them. Its answers drive what Lambda's poller does: a success deletes the batch,
 * a partial batch response deletes all but the failed items, an error or an invalid response
 * deletes nothing, a message that keeps failing goes to the dead-letter queue, and the function
 * can back a message off with ChangeMessageVisibility through the SDK.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CfnTemplate } from '#infra/asl.ts';
import { PROJECT_ROOT } from '#infra/project-root.ts';
import { LocalIdentities } from '#local/aws/identities.ts';
import { templateRoles } from '#local/aws/template-roles.ts';
import { iamGate } from '#local/iam/gate.ts';
import {
  nodeForRuntime,
  provideRuntimeModules,
  provideRuntimeScript,
} from '#local/lambda/node-runtime.ts';
import { LocalLambda } from '#local/lambda/service.ts';
import { failedItems } from '#local/runtime/sqs/poller.ts';
import { type LocalSqsService, startLocalSqsService } from '#local/runtime/sqs/service.ts';

/** Each message's body says what the function does with it; every event is logged to a file. */
const HANDLER = `
const { appendFileSync } = require('node:fs');
const { SQSClient, ChangeMessageVisibilityCommand } = require('@aws-sdk/client-sqs');
const sqs = new SQSClient({});
exports.handler = async (event) => {
  appendFileSync(process.env.EVENTS_FILE, JSON.stringify({ at: Date.now(), event }) + '\\n');
  const batchItemFailures = [];
  for (const record of event.Records) {
    const command = JSON.parse(record.body);
    if (command.do === 'throw') throw new Error('cannot');
    if (command.do === 'invalid') return { batchItemFailures: [{ itemIdentifier: 'not-in-batch' }] };
    if (command.do === 'sleep') await new Promise((resolve) => setTimeout(resolve, command.ms));
    if (command.do === 'fail') batchItemFailures.push({ itemIdentifier: record.messageId });
    if (command.do === 'backoff') {
      await sqs.send(new ChangeMessageVisibilityCommand({
        QueueUrl: process.env.QUEUE_URL,
        ReceiptHandle: record.receiptHandle,
        VisibilityTimeout: command.seconds,
      }));
      batchItemFailures.push({ itemIdentifier: record.messageId });
    }
  }
  appendFileSync(process.env.EVENTS_FILE, JSON.stringify({ at: Date.now(), done: event.Records.length }) + '\\n');
  return { batchItemFailures };
};
`;

/** A queue with a dead-letter queue, a function with a role, and a mapping between them. */
function fixtureTemplate(
  mapping: Record<string, unknown>,
  actions: readonly string[],
  visibilityTimeout: number,
): CfnTemplate {
  return {
    Resources: {
      Work: {
        Type: 'AWS::SQS::Queue',
        Properties: {
          VisibilityTimeout: visibilityTimeout,
          RedrivePolicy: {
            deadLetterTargetArn: { 'Fn::GetAtt': ['Dead', 'Arn'] },
            maxReceiveCount: 3,
          },
        },
      },
      Dead: { Type: 'AWS::SQS::Queue', Properties: {} },
      FnRole: {
        Type: 'AWS::IAM::Role',
        Properties: {
          AssumeRolePolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              {
                Effect: 'Allow',
                Action: 'sts:AssumeRole',
                Principal: { Service: 'lambda.amazonaws.com' },
              },
            ],
          },
        },
      },
      FnPolicy: {
        Type: 'AWS::IAM::Policy',
        Properties: {
          PolicyName: 'fn',
          Roles: [{ Ref: 'FnRole' }],
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              {
                Effect: 'Allow',
                Action: [...actions],
                Resource: { 'Fn::GetAtt': ['Work', 'Arn'] },
              },
            ],
          },
        },
      },
      Fn: { Type: 'AWS::Lambda::Function', Properties: {} },
      Mapping: {
        Type: 'AWS::Lambda::EventSourceMapping',
        Properties: {
          EventSourceArn: { 'Fn::GetAtt': ['Work', 'Arn'] },
          FunctionName: { Ref: 'Fn' },
          ...mapping,
        },
      },
    },
  };
}

const READER = [
  'sqs:ReceiveMessage',
  'sqs:DeleteMessage',
  'sqs:GetQueueAttributes',
  'sqs:ChangeMessageVisibility',
];
const TIME_SCALE = 0.01;

let dir: string;
let taskRoot: string;
let runtime: { runtimeDir: string; runtimeScript: string };
let modules: string;
const running: Array<{ lambda: LocalLambda; service: LocalSqsService }> = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'spark-t2i-poller-'));
  taskRoot = join(dir, 'task');
  await mkdir(taskRoot);
  await writeFile(join(taskRoot, 'index.js'), HANDLER);
  runtime = await provideRuntimeScript(dir);
  modules = await provideRuntimeModules(dir, PROJECT_ROOT);
  return () => rm(dir, { recursive: true, force: true });
});

afterEach(async () => {
  for (const { lambda, service } of running.splice(0)) {
    await service.close();
    lambda.close();
  }
});

/**
 * The queue, the function (warmed: a cold start on a loaded machine can outlast a short
 * visibility timeout, which rightly makes the message come back while its first receive is still
 * starting) and the service, its pollers not yet started.
 */
async function start(
  mapping: Record<string, unknown>,
  options: { actions?: readonly string[]; visibilityTimeout?: number; environments?: number } = {},
) {
  const template = fixtureTemplate(
    mapping,
    options.actions ?? READER,
    options.visibilityTimeout ?? 1_000,
  );
  const dataDir = await mkdtemp(join(dir, 'data-'));
  const eventsFile = join(dataDir, 'events.jsonl');
  const identities = await LocalIdentities.open(dataDir, templateRoles(template));
  const logs: string[] = [];
  const fn = {
    logicalId: 'Fn',
    entryPoint: 'fn',
    environment: {
      EVENTS_FILE: eventsFile,
      QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/Work',
    },
    timeoutSeconds: 5,
    memorySize: 256,
    runtime: 'nodejs24.x',
    handler: 'index.handler',
    roleLogicalId: 'FnRole',
  };
  const service = await startLocalSqsService({
    template,
    dataDir,
    timeScale: TIME_SCALE,
    access: { identities, gate: iamGate(template) },
    host: '127.0.0.1',
    functions: { Fn: fn },
    roleCaller: (role) => identities.caller(role),
    log: (line) => logs.push(line),
  });
  const lambda = new LocalLambda({
    functions: { Fn: fn },
    code: () => ({ taskRoot, handler: 'index.handler', faithful: true }),
    node: nodeForRuntime('nodejs24.x', PROJECT_ROOT),
    ...runtime,
    runtimeModules: modules,
    region: 'us-east-1',
    credentials: () => identities.forRole('FnRole'),
    localEnvironment: () => ({
      AWS_ENDPOINT_URL_SQS: service.endpoint,
      ...service.localQueueUrls(fn.environment),
    }),
    maxEnvironments: options.environments ?? 1,
  });
  running.push({ lambda, service });
  await lambda.invoke('Fn', { Records: [] });
  const work = service.sqs.byName('Work');
  const dead = service.sqs.byName('Dead');
  const send = (command: Record<string, unknown>) => work.send(JSON.stringify(command)).id;
  const events = async () =>
    (await readFile(eventsFile, 'utf8').catch(() => ''))
      .split('\n')
      .filter(Boolean)
      // the warming invocation
      .filter((line) => !line.includes('"Records":[]') && !line.includes('"done":0'))
      .map(
        (line) =>
          JSON.parse(line) as {
            at: number;
            event?: { Records: Array<Record<string, unknown>> };
            done?: number;
          },
      );
  return { service, lambda, work, dead, send, events, logs };
}

const until = async (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

describe('an SQS event source mapping', () => {
  it('invokes the function with SQS’s event and deletes a batch that succeeded', async () => {
    const { service, lambda, work, send, events } = await start({ BatchSize: 10 });
    const id = send({ do: 'ok' });
    service.startPollers(lambda);
    await until('the batch to be deleted', () => work.messages().length === 0);
    const [first] = await events();
    expect(first?.event?.Records).toEqual([
      {
        messageId: id,
        receiptHandle: expect.any(String),
        body: '{"do":"ok"}',
        attributes: {
          ApproximateReceiveCount: '1',
          SentTimestamp: expect.stringMatching(/^\d{13}$/),
          SenderId: expect.any(String),
          ApproximateFirstReceiveTimestamp: expect.stringMatching(/^\d{13}$/),
        },
        messageAttributes: {},
        md5OfBody: expect.stringMatching(/^[0-9a-f]{32}$/),
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:Work',
        awsRegion: 'us-east-1',
      },
    ]);
  }, 60_000);

  it('deletes all but the items a partial batch response names, which fail on to the dead-letter queue', async () => {
    const { service, lambda, work, dead, send, events } = await start(
      {
        BatchSize: 10,
        MaximumBatchingWindowInSeconds: 1,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
      },
      { visibilityTimeout: 200 },
    );
    send({ do: 'ok' });
    const failing = send({ do: 'fail' });
    send({ do: 'ok' });
    service.startPollers(lambda);
    await until('the failing message in the dead-letter queue', () => dead.messages().length === 1);
    expect(dead.messages()[0]).toMatchObject({ id: failing, receiveCount: 3 });
    expect(work.messages()).toHaveLength(0);
    const received = (await events()).flatMap((line) => line.event?.Records ?? []);
    // The two that succeeded once each; the failing one once per receive, three times.
    expect(received.filter((record) => record.messageId === failing)).toHaveLength(3);
    expect(received).toHaveLength(5);
  }, 60_000);

  it('deletes nothing of a batch whose function failed, or answered an invalid batch response', async () => {
    const { service, lambda, work, dead, send, logs } = await start(
      {
        BatchSize: 2,
        MaximumBatchingWindowInSeconds: 1,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
      },
      { visibilityTimeout: 200 },
    );
    send({ do: 'throw' });
    send({ do: 'invalid' });
    service.startPollers(lambda);
    await until('both in the dead-letter queue', () => dead.messages().length === 2);
    expect(work.messages()).toHaveLength(0);
    expect(logs.join('\n')).toMatch(/the function failed \(Error: cannot\)/);
  }, 60_000);

  it('gathers batches up to its size and runs at most its maximum concurrency at once', async () => {
    const { service, lambda, work, send, events } = await start(
      { BatchSize: 2, MaximumBatchingWindowInSeconds: 1, ScalingConfig: { MaximumConcurrency: 2 } },
      { environments: 4 },
    );
    for (let i = 0; i < 8; i++) send({ do: 'sleep', ms: 200 });
    service.startPollers(lambda);
    await until('every message processed', () => work.messages().length === 0);
    const lines = await events();
    const batches = lines.flatMap((line) => (line.event ? [line.event.Records] : []));
    expect(batches.every((batch) => batch.length <= 2)).toBe(true);
    expect(new Set(batches.flat().map((record) => record.messageId)).size).toBe(8);
    // At any start, at most one other batch is running.
    let inFlight = 0;
    let most = 0;
    for (const line of lines) {
      inFlight += line.event ? 1 : -1;
      most = Math.max(most, inFlight);
    }
    expect(most).toBeLessThanOrEqual(2);
  }, 60_000);

  it('lets the function back a message off with ChangeMessageVisibility, through the SDK as its role', async () => {
    const { service, lambda, work, send, events } = await start(
      { BatchSize: 1, FunctionResponseTypes: ['ReportBatchItemFailures'] },
      { visibilityTimeout: 100 },
    );
    send({ do: 'backoff', seconds: 400 });
    service.startPollers(lambda);
    await until('the first attempt', async () => (await events()).some((line) => line.done === 1));
    const firstAt = (await events())[0]?.at as number;
    await until(
      'the second attempt',
      async () => (await events()).filter((line) => line.event).length >= 2,
    );
    const secondAt = (await events()).filter((line) => line.event)[1]?.at as number;
    // 400 s × 0.01 = 4 s, not the queue's 100 s × 0.01 = 1 s.
    expect(secondAt - firstAt).toBeGreaterThanOrEqual(3_900);
    expect(work.messages()[0]?.receiveCount).toBeGreaterThanOrEqual(2);
  }, 60_000);

  it('polls nothing when the function’s role may not read the queue', async () => {
    const { service, lambda, work, send, logs } = await start(
      {},
      { actions: ['sqs:DeleteMessage'] },
    );
    send({ do: 'ok' });
    service.startPollers(lambda);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(work.messages()[0]?.receiveCount).toBe(0);
    expect(logs.join('\n')).toMatch(/polls nothing/);
  });

  it('stays off when disabled', async () => {
    const { service, lambda, work, send } = await start({ Enabled: false });
    send({ do: 'ok' });
    service.startPollers(lambda);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(work.messages()[0]?.receiveCount).toBe(0);
  });
});

describe('a partial batch response', () => {
  const batch = ['a', 'b'].map((id) => ({
    message: { id, body: '', attributes: {}, sentAt: 0, visibleAt: 0, receiveCount: 1 },
    receiptHandle: id,
  }));

  it.each([
    ['no response', undefined, []],
    ['an empty list', { batchItemFailures: [] }, []],
    ['null', { batchItemFailures: null }, []],
    ['one item', { batchItemFailures: [{ itemIdentifier: 'b' }] }, ['b']],
  ])('with %s fails the items it names', (_, response, failed) => {
    expect([...(failedItems(response, batch, true) as Set<string>)]).toEqual(failed);
  });

  it.each([
    ['an item not in the batch', { batchItemFailures: [{ itemIdentifier: 'z' }] }],
    ['an empty identifier', { batchItemFailures: [{ itemIdentifier: '' }] }],
    ['no identifier', { batchItemFailures: [{}] }],
    ['a list that is not one', { batchItemFailures: 'b' }],
  ])('with %s fails the whole batch', (_, response) => {
    expect(failedItems(response, batch, true)).toBe('all');
  });

  it('is ignored by a mapping that does not report batch item failures', () => {
    expect([
      ...(failedItems(
        { batchItemFailures: [{ itemIdentifier: 'a' }] },
        batch,
        false,
      ) as Set<string>),
    ]).toEqual([]);
  });
});
