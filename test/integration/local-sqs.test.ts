/**
 * The local SQS through the real SDK client: the stack's dead-letter queue served by its door,
 * as the roles of the stack and as the administrator (SigV4 and IAM as on AWS, SQS's own error
 * names), a failed asynchronous invocation landing in it as Lambda's failure record, and its
 * messages surviving a SIGKILL of `serve`.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CfnTemplate } from '#infra/asl.ts';
import { type AwsCredentials, LocalIdentities } from '#local/aws/identities.ts';
import { templateRoles } from '#local/aws/template-roles.ts';
import { iamGate } from '#local/iam/gate.ts';
import { type LocalSqsService, startLocalSqsService } from '#local/runtime/sqs/service.ts';
import { type ServedRuntime, serve, waitFor } from '../helpers/serve.ts';

const DLQ_PREFIX = 'TriggersDeadLetters';

let runtime: ServedRuntime;
let template: CfnTemplate;

beforeAll(async () => {
  runtime = await serve({ simLatencyMs: 100 });
  template = JSON.parse(
    await readFile(join(runtime.endpoints.functions.assets, 'SparkT2i.template.json'), 'utf8'),
  ) as CfnTemplate;
}, 120_000);

afterAll(async () => {
  await runtime?.stop();
});

const roleOf = (prefix: string) => {
  const id = Object.keys(template.Resources).find(
    (logicalId) =>
      logicalId.startsWith(prefix) && template.Resources[logicalId]?.Type === 'AWS::IAM::Role',
  );
  if (!id) throw new Error(`no role ${prefix}`);
  return id;
};

describe('the stack’s dead-letter queue, through its door', () => {
  let dataDir: string;
  let identities: LocalIdentities;
  let service: LocalSqsService;
  let dlqUrl: string;
  const clients: SQSClient[] = [];
  const client = (credentials: AwsCredentials) => {
    const made = new SQSClient({ endpoint: service.endpoint, region: 'us-east-1', credentials });
    clients.push(made);
    return made;
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'spark-t2i-sqs-door-'));
    identities = await LocalIdentities.open(dataDir, templateRoles(template));
    service = await startLocalSqsService({
      template,
      dataDir,
      timeScale: 1,
      access: { identities, gate: iamGate(template) },
      host: '127.0.0.1',
      functions: {},
      roleCaller: (role) => identities.caller(role),
      log: () => undefined,
    });
    const name = service.sqs.queues().find((queue) => queue.settings.name.startsWith(DLQ_PREFIX))
      ?.settings.name as string;
    const answer = await client(identities.admin).send(new GetQueueUrlCommand({ QueueName: name }));
    dlqUrl = answer.QueueUrl as string;
  });

  afterAll(async () => {
    for (const one of clients) one.destroy();
    await service?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('lets a role with the grant send, and refuses it what it has no grant for', async () => {
    const promptFile = client(identities.forRole(roleOf('TriggersPromptFileRole')));
    const sent = await promptFile.send(
      new SendMessageCommand({
        QueueUrl: dlqUrl,
        MessageBody: 'from the prompt-file role',
        MessageAttributes: { origin: { DataType: 'String', StringValue: 'test' } },
      }),
    );
    expect(sent.MessageId).toMatch(/^[0-9a-f-]{36}$/);
    const attributes = await promptFile.send(
      new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['All'] }),
    );
    expect(attributes.Attributes?.ApproximateNumberOfMessages).toBe('1');
    await expect(
      promptFile.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl })),
    ).rejects.toMatchObject({
      name: 'AccessDeniedException',
      message: expect.stringContaining('sqs:ReceiveMessage'),
    });
    // A role with no grant on the queue at all may not even send.
    const api = client(identities.forRole(roleOf('ApiGetGenerationRole')));
    await expect(
      api.send(new SendMessageCommand({ QueueUrl: dlqUrl, MessageBody: 'no' })),
    ).rejects.toMatchObject({ name: 'AccessDeniedException' });

    const admin = client(identities.admin);
    const received = await admin.send(
      new ReceiveMessageCommand({
        QueueUrl: dlqUrl,
        MaxNumberOfMessages: 10,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    );
    expect(received.Messages).toHaveLength(1);
    const [message] = received.Messages ?? [];
    expect(message?.Body).toBe('from the prompt-file role');
    expect(message?.MessageAttributes?.origin?.StringValue).toBe('test');
    expect(message?.Attributes).toMatchObject({
      ApproximateReceiveCount: '1',
      SentTimestamp: expect.stringMatching(/^\d{13}$/),
      ApproximateFirstReceiveTimestamp: expect.stringMatching(/^\d{13}$/),
    });
    await admin.send(
      new DeleteMessageCommand({ QueueUrl: dlqUrl, ReceiptHandle: message?.ReceiptHandle }),
    );
    expect(
      (
        await admin.send(
          new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['All'] }),
        )
      ).Attributes,
    ).toMatchObject({
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '0',
    });
  });

  it('answers SQS’s own errors, by the names the SDK gives them', async () => {
    const admin = client(identities.admin);
    await expect(
      admin.send(new GetQueueUrlCommand({ QueueName: 'NoSuchQueue' })),
    ).rejects.toMatchObject({ name: 'QueueDoesNotExist' });
    await expect(
      admin.send(new DeleteMessageCommand({ QueueUrl: dlqUrl, ReceiptHandle: 'garbage' })),
    ).rejects.toMatchObject({ name: 'ReceiptHandleIsInvalid' });
    await admin.send(new SendMessageCommand({ QueueUrl: dlqUrl, MessageBody: 'short-lived' }));
    const [message] =
      (await admin.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, VisibilityTimeout: 1 })))
        .Messages ?? [];
    const handle = message?.ReceiptHandle as string;
    await expect(
      admin.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: dlqUrl,
          ReceiptHandle: handle,
          VisibilityTimeout: 43_201,
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidParameterValue' });
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await expect(
      admin.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: dlqUrl,
          ReceiptHandle: handle,
          VisibilityTimeout: 5,
        }),
      ),
    ).rejects.toMatchObject({ name: 'MessageNotInflight' });
    await expect(
      admin.send(new SendMessageBatchCommand({ QueueUrl: dlqUrl, Entries: [] })),
    ).rejects.toMatchObject({ name: 'EmptyBatchRequest' });
    const wrongSecret = client({ ...identities.admin, secretAccessKey: 'not-the-secret' });
    await expect(
      wrongSecret.send(new GetQueueUrlCommand({ QueueName: 'x' })),
    ).rejects.toMatchObject({ name: 'InvalidSignatureException' });
    // Clean up: the message is visible again; receive and delete it.
    const again = await admin.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl }));
    await admin.send(
      new DeleteMessageBatchCommand({
        QueueUrl: dlqUrl,
        Entries: (again.Messages ?? []).map((one, i) => ({
          Id: `m${i}`,
          ReceiptHandle: one.ReceiptHandle,
        })),
      }),
    );
  });

  it('holds a long poll open until a message arrives', async () => {
    const admin = client(identities.admin);
    const started = Date.now();
    const polling = admin.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, WaitTimeSeconds: 5 }));
    await new Promise((resolve) => setTimeout(resolve, 300));
    await admin.send(new SendMessageCommand({ QueueUrl: dlqUrl, MessageBody: 'awaited' }));
    const received = await polling;
    expect(received.Messages?.[0]?.Body).toBe('awaited');
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(Date.now() - started).toBeLessThan(3_000);
    await admin.send(
      new DeleteMessageCommand({
        QueueUrl: dlqUrl,
        ReceiptHandle: received.Messages?.[0]?.ReceiptHandle,
      }),
    );
  });
});

describe('the dead-letter queue of the running twin', () => {
  const admin = () =>
    new SQSClient({
      endpoint: runtime.endpoints.sqs.endpoint,
      region: 'us-east-1',
      credentials: {
        accessKeyId: runtime.endpoints.s3.accessKeyId,
        secretAccessKey: runtime.endpoints.s3.secretAccessKey,
      },
    });
  const dlqUrlOf = (served: ServedRuntime) =>
    Object.entries(served.endpoints.sqs.queues).find(([name]) =>
      name.startsWith(DLQ_PREFIX),
    )?.[1] as string;

  it('receives Lambda’s failure record when an asynchronous invocation’s retries run out', async () => {
    const { control } = JSON.parse(
      await readFile(join(runtime.dataDir, 'runtime.json'), 'utf8'),
    ) as {
      control: string;
    };
    const bus = Object.keys(template.Resources).find(
      (id) => template.Resources[id]?.Type === 'AWS::Events::EventBus',
    ) as string;
    const events = new EventBridgeClient({
      endpoint: control,
      region: 'us-east-1',
      credentials: {
        accessKeyId: runtime.endpoints.s3.accessKeyId,
        secretAccessKey: runtime.endpoints.s3.secretAccessKey,
      },
    });
    // A batch line's end whose id no table can hold as a key: batch progress fails every time.
    const id = `f_${'x'.repeat(3_000)}`;
    await events.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: bus,
            Source: 'spark-t2i',
            DetailType: 'Generation Failed',
            Detail: JSON.stringify({ id }),
          },
        ],
      }),
    );
    events.destroy();
    const sqs = admin();
    try {
      const message = await waitFor(
        'the failure record',
        async () =>
          (
            await sqs.send(
              new ReceiveMessageCommand({ QueueUrl: dlqUrlOf(runtime), WaitTimeSeconds: 1 }),
            )
          ).Messages?.[0],
        30_000,
      );
      const record = JSON.parse(message.Body as string);
      expect(record).toMatchObject({
        requestContext: {
          requestId: expect.any(String),
          functionArn: expect.stringMatching(/:function:BatchProgressFunction[A-Z0-9]+:\$LATEST$/),
          condition: 'RetriesExhausted',
          approximateInvokeCount: 3,
        },
        requestPayload: { 'detail-type': 'Generation Failed', detail: { id } },
        responseContext: {
          statusCode: 200,
          executedVersion: '$LATEST',
          functionError: 'Unhandled',
        },
        responsePayload: { errorType: expect.any(String), errorMessage: expect.any(String) },
      });
      await sqs.send(
        new DeleteMessageCommand({
          QueueUrl: dlqUrlOf(runtime),
          ReceiptHandle: message.ReceiptHandle,
        }),
      );
    } finally {
      sqs.destroy();
    }
  }, 60_000);

  it('keeps its messages across a SIGKILL, and gives a received one again after its visibility timeout', async () => {
    const first = await serve({ simLatencyMs: 100 });
    let second: ServedRuntime | undefined;
    const sqs1 = new SQSClient({
      endpoint: first.endpoints.sqs.endpoint,
      region: 'us-east-1',
      credentials: {
        accessKeyId: first.endpoints.s3.accessKeyId,
        secretAccessKey: first.endpoints.s3.secretAccessKey,
      },
    });
    try {
      const url = dlqUrlOf(first);
      await sqs1.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'taken' }));
      await sqs1.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'untouched' }));
      const taken = await sqs1.send(
        new ReceiveMessageCommand({
          QueueUrl: url,
          MaxNumberOfMessages: 1,
          VisibilityTimeout: 12_000,
        }),
      );
      expect(taken.Messages?.[0]?.Body).toBe('taken');
      await first.kill();

      second = await serve({ simLatencyMs: 100, dataDir: first.dataDir });
      const sqs2 = new SQSClient({
        endpoint: second.endpoints.sqs.endpoint,
        region: 'us-east-1',
        credentials: {
          accessKeyId: second.endpoints.s3.accessKeyId,
          secretAccessKey: second.endpoints.s3.secretAccessKey,
        },
      });
      try {
        const url2 = dlqUrlOf(second);
        const now = await sqs2.send(
          new ReceiveMessageCommand({ QueueUrl: url2, MaxNumberOfMessages: 10 }),
        );
        expect(now.Messages?.map((one) => one.Body)).toEqual(['untouched']);
        // Still in flight after the restart (12,000 s × 0.01 = 2 minutes), under the same handle:
        // set to end 100 s (1 s here) from now, it comes back then, received twice.
        await sqs2.send(
          new ChangeMessageVisibilityCommand({
            QueueUrl: url2,
            ReceiptHandle: taken.Messages?.[0]?.ReceiptHandle,
            VisibilityTimeout: 100,
          }),
        );
        const back = await waitFor(
          'the received message to come back',
          async () =>
            (
              await sqs2.send(
                new ReceiveMessageCommand({
                  QueueUrl: url2,
                  MessageSystemAttributeNames: ['All'],
                  WaitTimeSeconds: 1,
                }),
              )
            ).Messages?.find((one) => one.Body === 'taken'),
          15_000,
        );
        expect(back.Attributes?.ApproximateReceiveCount).toBe('2');
      } finally {
        sqs2.destroy();
      }
    } finally {
      sqs1.destroy();
      await second?.stop();
      await first.kill().catch(() => undefined);
    }
  }, 120_000);
});
