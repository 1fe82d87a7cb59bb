/**
 * Every function's role against the AWS calls its code makes. Locally nothing refuses a call a
 * role does not allow, so a missing grant would only show in a deployed account: this table lists,
 * per function, each call its code makes (with where), and the test holds the synthesized role to
 * it both ways: each call allowed on its resource, and nothing granted that no call needs.
 */
import type { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { synthesizeStack } from '../helpers/stack.ts';

let template: Template;

beforeAll(() => {
  ({ template } = synthesizeStack({}));
});

type Resource = unknown;
interface Statement {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: Resource | Resource[];
  readonly Condition?: Record<string, unknown>;
}

/** One call a function's code makes: the IAM action, on what, and where the code makes it. */
interface Call {
  readonly action: string;
  readonly resource: () => Resource;
  /** Where the call is made. */
  readonly code: string;
  /** The statement allowing it carries these conditions (a grant narrower than the resource). */
  readonly condition?: Record<string, unknown>;
}

const logicalId = (type: string, prefix: string): string => {
  const id = Object.keys(template.findResources(type)).find((key) => key.startsWith(prefix));
  if (!id) throw new Error(`no ${type} starting with ${prefix}`);
  return id;
};
const tableArn = (prefix: string) => () => ({
  'Fn::GetAtt': [logicalId('AWS::DynamoDB::GlobalTable', prefix), 'Arn'],
});
const indexArn = (prefix: string, index: string) => () => ({
  'Fn::Join': ['', [tableArn(prefix)(), `/index/${index}`]],
});
const objectsArn = (bucketPrefix: string, keys: string) => () => ({
  'Fn::Join': ['', [{ 'Fn::GetAtt': [logicalId('AWS::S3::Bucket', bucketPrefix), 'Arn'] }, keys]],
});
const stateMachine = () => ({
  Ref: logicalId('AWS::StepFunctions::StateMachine', 'WorkflowStateMachine'),
});
/** The state machine's ARN as the functions it calls get it: a string built from its fixed name. */
const stateMachineByName = () => ({
  'Fn::Join': [
    '',
    [
      'arn:',
      { Ref: 'AWS::Partition' },
      ':states:',
      { Ref: 'AWS::Region' },
      ':',
      { Ref: 'AWS::AccountId' },
      ':stateMachine:SparkT2i-generation',
    ],
  ],
});
const executionsByName = () => ({
  'Fn::Join': [
    '',
    [
      'arn:',
      { Ref: 'AWS::Partition' },
      ':states:',
      { Ref: 'AWS::Region' },
      ':',
      { Ref: 'AWS::AccountId' },
      ':execution:SparkT2i-generation:*',
    ],
  ],
});
const eventBus = () => ({ 'Fn::GetAtt': [logicalId('AWS::Events::EventBus', 'Events'), 'Arn'] });
const secret = () => ({ Ref: logicalId('AWS::SecretsManager::Secret', 'SparkApiKey') });

const GENERATIONS = 'StorageGenerations';
const BATCHES = 'StorageBatches';
const SLOTS = 'StorageSlots';

/** What the slot functions do to the slots table (shared/generation/slot-store.ts, ProviderSlots). */
const slotCalls = (
  actions: Record<string, string>,
  wakes = 'stepFunctionsWaker (SendTaskSuccess)',
): Call[] => [
  ...Object.entries(actions).map(([action, code]) => ({
    action,
    resource: tableArn(SLOTS),
    code: `shared/generation/slot-store.ts ${code}`,
  })),
  { action: 'states:SendTaskSuccess', resource: stateMachineByName, code: wakes },
];

/** `releaseSlot` and `handOverFreeSlots` (shared/generation/slots.ts). */
const releaseCalls = slotCalls({
  'dynamodb:UpdateItem': 'release, acquire, giveBack, claim, unclaim',
  'dynamodb:DeleteItem': 'forget, dequeue',
  'dynamodb:GetItem': 'holders',
  'dynamodb:Query': 'oldestWaiters',
});

/**
 * Not our code: Lambda sends an asynchronous event that failed for good to the function's
 * on-failure destination with the function's role (infra/constructs/triggers.ts); CDK's grant
 * adds the two reads.
 */
const deadLetters: Call[] = ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'].map(
  (action) => ({
    action,
    resource: () => ({
      'Fn::GetAtt': [logicalId('AWS::SQS::Queue', 'TriggersDeadLetters'), 'Arn'],
    }),
    code: "Lambda's on-failure destination",
  }),
);

const presign: Call = {
  action: 's3:GetObject',
  resource: objectsArn('StorageImages', '/images/*'),
  code: 'shared/api/presign.ts getSignedUrl(GetObjectCommand)',
};

/** StopExecution on the machine's executions (`grantExecution`), as the cancel routes call it. */
const stopExecution: Call = {
  action: 'states:StopExecution',
  resource: () => ({
    'Fn::Join': [
      '',
      [
        'arn:',
        { Ref: 'AWS::Partition' },
        ':states:',
        { Ref: 'AWS::Region' },
        ':',
        { Ref: 'AWS::AccountId' },
        ':execution:',
        {
          'Fn::Select': [
            6,
            {
              'Fn::Split': [
                ':',
                { Ref: logicalId('AWS::StepFunctions::StateMachine', 'WorkflowStateMachine') },
              ],
            },
          ],
        },
        ':*',
      ],
    ],
  }),
  code: 'shared/generation/executions.ts stop',
};

const CALLS: Record<string, readonly Call[]> = {
  StepsCreateTaskRole: [
    {
      action: 'dynamodb:GetItem',
      resource: tableArn(GENERATIONS),
      code: 'shared/generation/store.ts get; polling-stats.ts recent',
    },
    {
      action: 'dynamodb:UpdateItem',
      resource: tableArn(GENERATIONS),
      code: 'shared/generation/store.ts recordTaskCreated; cancel and countBatchLineEnd of a cancelled batch line',
    },
    {
      action: 'dynamodb:UpdateItem',
      resource: tableArn(BATCHES),
      code: 'shared/generation/repository.ts recordTaskCreated, countBatchLineEnd (the shard)',
    },
    {
      action: 'dynamodb:BatchGetItem',
      resource: tableArn(BATCHES),
      code: 'shared/batches/repository.ts getHead (is the batch cancelled?)',
    },
    {
      action: 'secretsmanager:GetSecretValue',
      resource: secret,
      code: 'shared/spark/from-env.ts getSecret',
    },
  ],
  StepsPollTaskRole: [
    {
      action: 'dynamodb:UpdateItem',
      resource: tableArn(GENERATIONS),
      code: 'shared/generation/polling-stats.ts record, #trim',
      condition: {
        'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['#polling-stats'] },
      },
    },
    {
      action: 'dynamodb:UpdateItem',
      resource: tableArn(GENERATIONS),
      code: 'shared/generation/store.ts recordPolls',
      condition: {
        'ForAllValues:StringEquals': {
          'dynamodb:Attributes': ['id', 'polls', 'updatedAt', 'status'],
        },
        StringEqualsIfExists: { 'dynamodb:ReturnValues': 'NONE' },
      },
    },
    {
      action: 'secretsmanager:GetSecretValue',
      resource: secret,
      code: 'shared/spark/from-env.ts getSecret',
    },
    // functions/poll-task/handler.ts: releaseSlot when the task has ended.
    ...releaseCalls,
  ],
  StepsCopyImagesRole: [
    {
      action: 's3:PutObject',
      resource: objectsArn('StorageImages', '/images/*'),
      code: 'shared/images/copy.ts PutObjectCommand, Upload (its multipart parts)',
    },
    {
      action: 's3:AbortMultipartUpload',
      resource: objectsArn('StorageImages', '/images/*'),
      code: 'shared/images/copy.ts Upload (aborts a failed multipart upload)',
    },
  ],
  StepsClassifyFailureRole: [],
  StepsAcquireSlotRole: slotCalls({
    'dynamodb:GetItem': 'holders',
    'dynamodb:UpdateItem': 'acquire, giveBack',
    'dynamodb:PutItem': 'enqueue',
    'dynamodb:DeleteItem': 'dequeue',
  }),
  StepsReleaseSlotRole: releaseCalls,
  ApiAuthorizerRole: [
    {
      action: 'dynamodb:GetItem',
      resource: tableArn('StorageApiKeys'),
      code: 'shared/api/keys.ts resolve',
    },
  ],
  ApiSubmitGenerationRole: [
    {
      action: 'dynamodb:PutItem',
      resource: tableArn(GENERATIONS),
      code: 'shared/generation/repository.ts create (use-cases/submit.ts)',
    },
    {
      action: 'dynamodb:GetItem',
      resource: tableArn(GENERATIONS),
      code: 'shared/generation/repository.ts read (use-cases/submit.ts carryOn, an Idempotency-Key retry)',
    },
    {
      action: 'dynamodb:UpdateItem',
      resource: tableArn(GENERATIONS),
      code: 'shared/generation/repository.ts markNotStarted',
    },
    ...['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem'].map((operation) => ({
      action: `dynamodb:${operation}`,
      resource: tableArn('StorageIdempotency'),
      code: 'shared/api/idempotency.ts DynamoDBPersistenceLayer (Powertools)',
    })),
    {
      action: 'states:StartExecution',
      resource: stateMachine,
      code: 'shared/generation/executions.ts start',
    },
  ],
  ApiGetGenerationRole: [
    {
      action: 'dynamodb:GetItem',
      resource: tableArn(GENERATIONS),
      code: 'shared/generation/repository.ts read (use-cases/get.ts readOwned)',
    },
    presign,
  ],
  ApiListGenerationsRole: [
    ...['byOwner', 'byOwnerStatus'].map((index) => ({
      action: 'dynamodb:Query',
      resource: indexArn(GENERATIONS, index),
      code: 'shared/generation/repository.ts pageByOwner',
    })),
    presign,
    {
      action: 'secretsmanager:GetSecretValue',
      resource: () => ({ Ref: logicalId('AWS::SecretsManager::Secret', 'ApiCursorSecret') }),
      code: 'shared/api/config.ts getSecret (the cursor secret)',
    },
  ],
  ApiCancelGenerationRole: [
    {
      action: 'dynamodb:GetItem',
      resource: tableArn(GENERATIONS),
      code: 'shared/generation/repository.ts read (use-cases/get.ts readOwned)',
    },
    {
      action: 'dynamodb:UpdateItem',
      resource: tableArn(GENERATIONS),
      code: 'shared/generation/repository.ts cancel, eventPublished (the outbox)',
    },
    stopExecution,
    {
      action: 'events:PutEvents',
      resource: eventBus,
      code: 'shared/generation/publisher.ts eventBridgePublisher',
    },
    presign,
  ],
  ApiOpenApiRole: [],
  // The console's page holds no data: nothing but its logs and tracing (D35).
  ApiConsoleRole: [],
  ApiSubmitBatchRole: [
    {
      action: 'dynamodb:PutItem',
      resource: tableArn(BATCHES),
      code: 'shared/batches/repository.ts create (use-cases/batches/submit.ts)',
    },
    {
      action: 'dynamodb:BatchGetItem',
      resource: tableArn(BATCHES),
      code: 'shared/batches/repository.ts getHead (a keyed retry), endIfDone',
    },
    {
      action: 'dynamodb:UpdateItem',
      resource: tableArn(BATCHES),
      code: 'shared/batches/repository.ts recordReading, endIfDone (a file not stored)',
    },
    ...['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem'].map((operation) => ({
      action: `dynamodb:${operation}`,
      resource: tableArn('StorageIdempotency'),
      code: 'shared/api/idempotency.ts DynamoDBPersistenceLayer (Powertools)',
    })),
    {
      action: 's3:PutObject',
      resource: objectsArn('StorageInput', '/prompts/*'),
      code: 'shared/api/submit-batch-config.ts PutObjectCommand; presign.ts s3PutPresigner',
    },
  ],
  ApiReadBatchesRole: [
    {
      action: 'dynamodb:BatchGetItem',
      resource: tableArn(BATCHES),
      code: 'shared/batches/repository.ts get, pageByOwner (heads and counter shards)',
    },
    ...['byOwner', 'byOwnerStatus'].map((index) => ({
      action: 'dynamodb:Query',
      resource: indexArn(BATCHES, index),
      code: 'shared/batches/repository.ts pageByOwner',
    })),
    {
      action: 'dynamodb:Query',
      resource: indexArn(GENERATIONS, 'byBatch'),
      code: 'shared/generation/repository.ts pageByBatch',
    },
    {
      action: 'secretsmanager:GetSecretValue',
      resource: () => ({ Ref: logicalId('AWS::SecretsManager::Secret', 'ApiCursorSecret') }),
      code: 'shared/api/config.ts getSecret (the cursor secret)',
    },
    presign,
    {
      action: 's3:GetObject',
      resource: objectsArn('StorageInput', '/reports/*'),
      code: 'shared/api/batch-config.ts s3TextReader (the report)',
    },
  ],
  ApiCancelBatchRole: [
    {
      action: 'dynamodb:BatchGetItem',
      resource: tableArn(BATCHES),
      code: 'shared/batches/repository.ts cancel, get, getHead',
    },
    {
      action: 'dynamodb:UpdateItem',
      resource: tableArn(BATCHES),
      code: 'shared/batches/repository.ts cancel, eventPublished',
    },
    {
      action: 'dynamodb:UpdateItem',
      resource: tableArn(GENERATIONS),
      code: 'shared/generation/repository.ts cancel, eventPublished (use-cases/cancel.ts cancelRecord)',
    },
    {
      action: 'dynamodb:Query',
      resource: indexArn(GENERATIONS, 'byBatch'),
      code: 'shared/generation/repository.ts unfinishedOfBatch',
    },
    stopExecution,
    {
      action: 'events:PutEvents',
      resource: eventBus,
      code: 'shared/generation/publisher.ts eventBridgePublisher',
    },
  ],
  ApiWebhookSecretRole: ['GetItem', 'PutItem', 'UpdateItem'].map((operation) => ({
    action: `dynamodb:${operation}`,
    resource: tableArn('StorageApiKeys'),
    code: 'shared/webhooks/secrets.ts current (made on first read), rotate, signingSecrets',
    condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['webhook-secret#*'] } },
  })),
  ApiListDeliveriesRole: [
    {
      action: 'dynamodb:GetItem',
      resource: tableArn(GENERATIONS),
      code: 'shared/webhooks/deliveries.ts DeliveryLog.read',
    },
  ],
  WebhooksFunctionRole: [
    {
      action: 'dynamodb:GetItem',
      resource: tableArn(GENERATIONS),
      code: 'shared/webhooks/deliveries.ts read; generation/repository.ts read (the view)',
    },
    ...[GENERATIONS, BATCHES].map((table) => ({
      action: 'dynamodb:UpdateItem',
      resource: tableArn(table),
      code: 'shared/webhooks/deliveries.ts append, recordFailure',
      condition: {
        'ForAllValues:StringEquals': {
          'dynamodb:Attributes': ['id', 'webhookDeliveries', 'webhookFailure'],
        },
      },
    })),
    {
      action: 'dynamodb:GetItem',
      resource: tableArn(BATCHES),
      code: 'shared/webhooks/deliveries.ts read',
    },
    {
      action: 'dynamodb:BatchGetItem',
      resource: tableArn(BATCHES),
      code: 'shared/batches/reads.ts get (the view)',
    },
    ...['GetItem', 'PutItem'].map((operation) => ({
      action: `dynamodb:${operation}`,
      resource: tableArn('StorageApiKeys'),
      code: 'shared/webhooks/secrets.ts signingSecrets (made if never read)',
      condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['webhook-secret#*'] } },
    })),
    presign,
    {
      action: 'sqs:SendMessage',
      resource: () => ({
        'Fn::GetAtt': [logicalId('AWS::SQS::Queue', 'WebhooksDeadLetters'), 'Arn'],
      }),
      code: 'functions/deliver-webhooks/handler.ts sendToDeadLetter',
    },
    // The event source mapping's poller runs with the function's role (grantConsumeMessages);
    // ChangeMessageVisibility is also the handler's own (the retry's wait).
    ...[
      'sqs:ReceiveMessage',
      'sqs:ChangeMessageVisibility',
      'sqs:GetQueueUrl',
      'sqs:DeleteMessage',
      'sqs:GetQueueAttributes',
    ].map((action) => ({
      action,
      resource: () => ({
        'Fn::GetAtt': [logicalId('AWS::SQS::Queue', 'WebhooksDeliveries'), 'Arn'],
      }),
      code: 'the SqsEventSource; functions/deliver-webhooks/handler.ts changeVisibility',
    })),
  ],
  TriggersPromptFileRole: [
    {
      action: 's3:GetObject',
      resource: objectsArn('StorageInput', '/prompts/*'),
      code: 'shared/prompt-files/processor.ts HeadObjectCommand, GetObjectCommand',
    },
    {
      action: 's3:GetObjectVersion',
      resource: objectsArn('StorageInput', '/prompts/*'),
      code: 'shared/prompt-files/processor.ts the same, of the version the event names',
    },
    {
      action: 's3:PutObject',
      resource: objectsArn('StorageInput', '/reports/*'),
      code: 'shared/prompt-files/processor.ts writeReport',
    },
    {
      action: 'dynamodb:Query',
      resource: indexArn('StorageApiKeys', 'byOwner'),
      code: 'shared/api/key-owners.ts ownerHasActiveKey',
    },
    {
      action: 'states:StartExecution',
      resource: stateMachine,
      code: 'shared/prompt-files/starter.ts startGeneration',
    },
    {
      action: 'dynamodb:PutItem',
      resource: tableArn(GENERATIONS),
      code: 'shared/generation/repository.ts createBatchLine (the Put of its transaction)',
    },
    {
      action: 'dynamodb:PutItem',
      resource: tableArn(BATCHES),
      code: 'shared/batches/repository.ts create',
    },
    {
      action: 'dynamodb:UpdateItem',
      resource: tableArn(BATCHES),
      code: 'shared/batches/repository.ts pin, recordReading, endIfDone; the shard of createBatchLine',
    },
    {
      action: 'dynamodb:BatchGetItem',
      resource: tableArn(BATCHES),
      code: 'shared/batches/repository.ts get, getHead',
    },
    {
      action: 'events:PutEvents',
      resource: eventBus,
      code: 'shared/batches/ledger.ts publishBatchEvent',
    },
    ...deadLetters,
  ],
  BatchProgressFunctionRole: [
    {
      action: 'dynamodb:GetItem',
      resource: tableArn(GENERATIONS),
      code: 'shared/generation/repository.ts countBatchLineEnd (get)',
    },
    {
      action: 'dynamodb:UpdateItem',
      resource: tableArn(GENERATIONS),
      code: 'shared/generation/repository.ts countBatchLineEnd (the record of its transaction)',
    },
    {
      action: 'dynamodb:UpdateItem',
      resource: tableArn(BATCHES),
      code: 'shared/generation/repository.ts countBatchLineEnd (the shard); batches/repository.ts endIfDone, eventPublished',
    },
    {
      action: 'dynamodb:BatchGetItem',
      resource: tableArn(BATCHES),
      code: 'shared/batches/repository.ts get',
    },
    {
      action: 'events:PutEvents',
      resource: eventBus,
      code: 'shared/batches/ledger.ts publishBatchEvent',
    },
    ...deadLetters,
  ],
  TriggersScheduleFiringRole: [
    {
      action: 'states:StartExecution',
      resource: stateMachine,
      code: 'shared/generation/schedule-firing.ts startScheduleFiring (startGeneration)',
    },
    ...deadLetters,
  ],
  ReconcilerFunctionRole: [
    {
      action: 'dynamodb:GetItem',
      resource: tableArn(GENERATIONS),
      code: 'shared/generation/repository.ts get, read',
    },
    {
      action: 'dynamodb:UpdateItem',
      resource: tableArn(GENERATIONS),
      code: 'shared/generation/repository.ts recordFailure, eventPublished, stampExpiry',
    },
    {
      action: 'dynamodb:Query',
      resource: indexArn(GENERATIONS, 'unfinished'),
      code: 'shared/generation/repository.ts unfinishedCreatedBefore, owingEvents',
    },
    // shared/generation/reconciler.ts: release, holders, and handOverFreeSlots.
    ...slotCalls({
      'dynamodb:UpdateItem': 'release, acquire, giveBack, claim, unclaim',
      'dynamodb:GetItem': 'holders',
      'dynamodb:Query': 'oldestWaiters',
      'dynamodb:DeleteItem': 'dequeue',
    }),
    {
      action: 'states:DescribeExecution',
      resource: executionsByName,
      code: 'functions/reconciler/handler.ts executionStatus',
    },
    {
      action: 'events:PutEvents',
      resource: eventBus,
      code: 'shared/generation/publisher.ts eventBridgePublisher (the outbox)',
    },
    {
      action: 'dynamodb:Query',
      resource: indexArn(BATCHES, 'outbox'),
      code: 'shared/batches/repository.ts owingEvents (sweep.ts)',
    },
    {
      action: 'dynamodb:Query',
      resource: indexArn(BATCHES, 'unfinished'),
      code: 'shared/batches/repository.ts unfinishedCreatedBefore (sweep.ts)',
    },
    {
      action: 'dynamodb:Query',
      resource: indexArn(GENERATIONS, 'byBatch'),
      code: 'shared/generation/repository.ts pageByBatch (sweep.ts countUncountedEnds)',
    },
    {
      action: 'dynamodb:BatchGetItem',
      resource: tableArn(BATCHES),
      code: 'shared/batches/repository.ts get (sweep.ts)',
    },
    {
      action: 'dynamodb:UpdateItem',
      resource: tableArn(BATCHES),
      code: 'shared/batches/repository.ts endIfDone, eventPublished; the shard of countBatchLineEnd',
    },
  ],
};

function statementsOfRole(rolePrefix: string): Statement[] {
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((policy) =>
      (policy.Properties.Roles as Array<{ Ref: string }>).some((role) =>
        role.Ref.startsWith(rolePrefix),
      ),
    )
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
}

const listOf = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Tracing, and writing to the function's own log group: every function has them. */
const isTracingOrOwnLogs = (statement: Statement) =>
  listOf(statement.Action).every(
    (action) => action.startsWith('xray:') || action.startsWith('logs:'),
  );

function allows(statement: Statement, call: Call): boolean {
  return (
    statement.Effect === 'Allow' &&
    listOf(statement.Action).includes(call.action) &&
    listOf(statement.Resource).some((resource) => same(resource, call.resource())) &&
    same(statement.Condition, call.condition)
  );
}

describe('each function role', () => {
  it('is in the table, as every function of the stack is', () => {
    const roles = Object.keys(template.findResources('AWS::IAM::Role')).filter(
      (id) =>
        JSON.stringify(template.findResources('AWS::IAM::Role')[id]?.Properties).includes(
          'lambda.amazonaws.com',
        ) &&
        !id.startsWith('BucketNotificationsHandler') &&
        !id.startsWith('CustomS3AutoDeleteObjects'),
    );
    for (const role of roles) {
      expect(
        Object.keys(CALLS).some((prefix) => role.startsWith(prefix)),
        `${role} has no entry`,
      ).toBe(true);
    }
    expect(roles).toHaveLength(Object.keys(CALLS).length);
  });

  describe.each(Object.entries(CALLS))('%s', (role, calls) => {
    it.each(calls.map((call) => [call.action, call.code, call] as const))(
      'allows %s, which %s makes',
      (_, __, call) => {
        expect(statementsOfRole(role).some((statement) => allows(statement, call))).toBe(true);
      },
    );

    it('allows nothing its code does not call', () => {
      const granted = statementsOfRole(role)
        .filter((statement) => !isTracingOrOwnLogs(statement))
        .flatMap((statement) =>
          listOf(statement.Action).flatMap((action) =>
            listOf(statement.Resource).map((resource) => ({
              action,
              resource,
              condition: statement.Condition,
            })),
          ),
        );
      const unused = granted.filter(
        (grant) =>
          !calls.some(
            (call) =>
              call.action === grant.action &&
              same(call.resource(), grant.resource) &&
              same(call.condition, grant.condition),
          ),
      );
      expect(unused).toEqual([]);
    });
  });
});
