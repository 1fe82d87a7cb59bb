import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStackConfig, parseStackConfig, StackConfigError } from '../../infra/config.ts';
import { Storage } from '../../infra/constructs/storage.ts';
import { POLLING_STATS_KEY } from '../../shared/generation/polling-stats.ts';
import { synthesizeStack, type ValidationReport } from '../helpers/stack.ts';

const schedules = [
  {
    name: 'daily-catalogue',
    expression: 'cron(0 6 * * ? *)',
    timeZone: 'Europe/Paris',
    request: { prompt: 'a product shot' },
  },
  {
    name: 'hourly',
    expression: 'rate(1 hour)',
    request: { prompt: 'a sky', width: 2560, height: 1440 },
  },
];

/** What API Gateway's own answers carry, as the template writes static values. */
const GATEWAY_HEADERS = {
  'strict-transport-security': "'max-age=63072000; includeSubDomains'",
  'x-content-type-options': "'nosniff'",
  'cache-control': "'no-store'",
  'content-security-policy': "'default-src 'none''",
  'referrer-policy': "'no-referrer'",
  'content-type': "'application/json'",
};

let template: Template;
let validationReport: ValidationReport;

beforeAll(() => {
  ({ template, validationReport } = synthesizeStack({
    schedules,
    defaultOwner: 'catalogue',
    images: { allowedHosts: ['cdn.spark.example.com', 'img.example.net'] },
    retention: { recordDays: 30 },
  }));
});

/** Statements every function and the state machine carry: tracing and their own log group. */
const isTracingOrLogging = (statement: Statement) =>
  actions(statement).every((action) => action.startsWith('xray:') || action.startsWith('logs:'));

type Statement = { Action: string | string[]; Resource: unknown; Effect: string };
function statementsOfRole(roleLogicalIdPrefix: string): Statement[] {
  const policies = template.findResources('AWS::IAM::Policy');
  return Object.values(policies)
    .filter((policy) =>
      (policy.Properties.Roles as Array<{ Ref: string }>).some((role) =>
        role.Ref.startsWith(roleLogicalIdPrefix),
      ),
    )
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
}
const actions = (statement: Statement) => [statement.Action].flat();
/** The input a schedule hands the schedule-firing function (a plain JSON string: no tokens). */
const firingEventOf = (expression: string): Record<string, unknown> => {
  const schedule = Object.values(template.findResources('AWS::Scheduler::Schedule')).find(
    (resource) => resource.Properties.ScheduleExpression === expression,
  );
  if (!schedule) throw new Error(`no schedule ${expression}`);
  return JSON.parse(schedule.Properties.Target.Input as string) as Record<string, unknown>;
};
const logicalIdStartingWith = (type: string, prefix: string): string => {
  const id = Object.keys(template.findResources(type)).find((key) => key.startsWith(prefix));
  if (!id) throw new Error(`no ${type} starting with ${prefix}`);
  return id;
};

describe('storage', () => {
  it('blocks public access, encrypts and enforces TLS on every bucket', () => {
    const buckets = template.findResources('AWS::S3::Bucket');
    expect(Object.keys(buckets)).toHaveLength(3);
    for (const bucket of Object.values(buckets)) {
      expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      expect(bucket.Properties.BucketEncryption).toBeDefined();
    }
    const policies = Object.values(template.findResources('AWS::S3::BucketPolicy'));
    expect(policies).toHaveLength(3);
    for (const policy of policies) {
      expect(policy.Properties.PolicyDocument.Statement).toContainEqual(
        expect.objectContaining({
          Effect: 'Deny',
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        }),
      );
    }
  });

  it('logs access to the images and input buckets, and versions the input bucket', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      LoggingConfiguration: { LogFilePrefix: 'images/' },
    });
    template.hasResourceProperties('AWS::S3::Bucket', {
      LoggingConfiguration: { LogFilePrefix: 'input/' },
      VersioningConfiguration: { Status: 'Enabled' },
    });
  });

  it('cleans up incomplete uploads and ages images to Infrequent Access', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      LoggingConfiguration: { LogFilePrefix: 'images/' },
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }),
          Match.objectLike({
            Transitions: [{ StorageClass: 'STANDARD_IA', TransitionInDays: 30 }],
          }),
        ]),
      },
    });
  });

  it('keeps generations on demand, recoverable, with TTL, the two owner indexes and the sparse unfinished index', () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      Replicas: [
        Match.objectLike({
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        }),
      ],
      GlobalSecondaryIndexes: [
        Match.objectLike({
          IndexName: 'byOwner',
          KeySchema: [
            { AttributeName: 'owner', KeyType: 'HASH' },
            { AttributeName: 'createdAt', KeyType: 'RANGE' },
          ],
        }),
        Match.objectLike({
          IndexName: 'byOwnerStatus',
          KeySchema: [
            { AttributeName: 'ownerStatus', KeyType: 'HASH' },
            { AttributeName: 'createdAt', KeyType: 'RANGE' },
          ],
        }),
        Match.objectLike({
          IndexName: 'unfinished',
          KeySchema: [
            { AttributeName: 'unfinished', KeyType: 'HASH' },
            { AttributeName: 'createdAt', KeyType: 'RANGE' },
          ],
        }),
        Match.objectLike({
          IndexName: 'byBatch',
          KeySchema: [
            { AttributeName: 'batchId', KeyType: 'HASH' },
            { AttributeName: 'batchLine', KeyType: 'RANGE' },
          ],
        }),
      ],
    });
  });

  it('keeps batches on demand, recoverable, with TTL, their owner indexes and the outbox index', () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      GlobalSecondaryIndexes: ['byOwner', 'byOwnerStatus', 'outbox'].map((name) =>
        Match.objectLike({ IndexName: name }),
      ),
    });
  });

  it('keys API keys by their hash, never the key', () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: [{ AttributeName: 'keyHash', KeyType: 'HASH' }],
    });
  });
});

describe('functions', () => {
  it('run Node 24 on arm64 with active tracing and JSON logs, every one of them', () => {
    const functions = Object.values(template.findResources('AWS::Lambda::Function')).filter((fn) =>
      fn.Properties.Runtime?.startsWith('nodejs24'),
    );
    expect(functions.length).toBeGreaterThanOrEqual(11);
    for (const fn of functions) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: { LogFormat: 'JSON' },
      });
    }
  });

  it('never receive the Spark API key itself, only the name of its secret', () => {
    for (const fn of Object.values(template.findResources('AWS::Lambda::Function'))) {
      const variables = fn.Properties.Environment?.Variables ?? {};
      expect(Object.keys(variables)).not.toContain('SPARK_API_KEY');
    }
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          SPARK_API_KEY_SECRET: { Ref: Match.stringLikeRegexp('SparkApiKey') },
        }),
      },
    });
  });
});

describe('image copy policy', () => {
  it('gives CopyImages the configured allowed hosts and no exempt origin', () => {
    const [copyImages] = Object.values(template.findResources('AWS::Lambda::Function')).filter(
      (fn) => fn.Properties.Environment?.Variables?.MAX_IMAGE_BYTES !== undefined,
    );
    const variables = copyImages?.Properties.Environment.Variables as Record<string, unknown>;
    expect(variables.IMAGE_ALLOWED_HOSTS).toBe('cdn.spark.example.com,img.example.net');
    for (const fn of Object.values(template.findResources('AWS::Lambda::Function'))) {
      expect(Object.keys(fn.Properties.Environment?.Variables ?? {})).not.toContain(
        'IMAGE_INSECURE_ORIGINS',
      );
    }
  });

  it('gives every function source maps and no other NODE_OPTIONS, which the bootstrap’s own flags would override', () => {
    // The project's functions: CDK's own (the custom resources' handlers) have no environment.
    const functions = Object.values(template.findResources('AWS::Lambda::Function'))
      .map((fn) => fn.Properties.Environment?.Variables ?? {})
      .filter((variables) => variables.NODE_OPTIONS !== undefined);
    expect(functions.some((variables) => variables.MAX_IMAGE_BYTES !== undefined)).toBe(true);
    expect(new Set(functions.map((variables) => variables.NODE_OPTIONS))).toEqual(
      new Set(['--enable-source-maps']),
    );
  });

  it('starts CopyImages alone through the node-arguments wrapper, with a 1 MiB semi-space and a 64 MB initial old space after the bootstrap’s flags', () => {
    const wrapped = Object.values(template.findResources('AWS::Lambda::Function'))
      .map((fn) => fn.Properties.Environment?.Variables ?? {})
      .filter((variables) => variables.AWS_LAMBDA_EXEC_WRAPPER !== undefined);
    expect(wrapped).toHaveLength(1);
    expect(wrapped[0]).toMatchObject({
      MAX_IMAGE_BYTES: expect.any(String),
      AWS_LAMBDA_EXEC_WRAPPER: '/var/task/node-arguments.sh',
      NODE_ARGUMENTS: '--max-semi-space-size=1 --initial-old-space-size=64',
    });
  });

  it('defaults to no allowed hosts (any public host) and refuses what is not a host name', () => {
    expect(parseStackConfig({}).images.allowedHosts).toEqual([]);
    for (const bad of [
      'https://cdn.example.com',
      'cdn.example.com,evil.com',
      '*.example.com',
      '',
    ]) {
      expect(() => parseStackConfig({ images: { allowedHosts: [bad] } })).toThrow(
        /images\.allowedHosts\.0/,
      );
    }
  });
});

describe('least-privilege IAM', () => {
  it('names a resource in every statement, except the X-Ray and log-delivery actions that cannot', () => {
    // CloudWatch Logs vended delivery (state machine logging) is configured on * by design.
    const logDelivery =
      /^logs:(\w+LogDelivery|ListLogDeliveries|PutResourcePolicy|DescribeResourcePolicies|DescribeLogGroups)$/;
    for (const policy of Object.values(template.findResources('AWS::IAM::Policy'))) {
      for (const statement of policy.Properties.PolicyDocument.Statement as Statement[]) {
        if (statement.Resource === '*') {
          expect(
            actions(statement).every(
              (action) => action.startsWith('xray:') || logDelivery.test(action),
            ),
          ).toBe(true);
        }
      }
    }
  });

  it('lets each function write to its own log group only (no managed execution policy)', () => {
    // Every function role but the CDK-provided handler that configures bucket notifications.
    const roles = Object.entries(template.findResources('AWS::IAM::Role')).filter(
      ([id, role]) =>
        JSON.stringify(role.Properties.AssumeRolePolicyDocument).includes('lambda.amazonaws.com') &&
        !id.startsWith('BucketNotificationsHandler'),
    );
    expect(roles.length).toBeGreaterThanOrEqual(11);
    for (const [, role] of roles) expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    const createTaskLogs = statementsOfRole('StepsCreateTaskRole').find((s) =>
      actions(s).includes('logs:PutLogEvents'),
    );
    expect(JSON.stringify(createTaskLogs?.Resource)).toMatch(/StepsCreateTaskLogs/);
  });

  it('lets CreateTask read and update the generations table, move batch counts and read the secret, nothing more', () => {
    const table = logicalIdStartingWith('AWS::DynamoDB::GlobalTable', 'StorageGenerations');
    const batches = logicalIdStartingWith('AWS::DynamoDB::GlobalTable', 'StorageBatches');
    const statements = statementsOfRole('StepsCreateTaskRole').filter(
      (s) => !isTracingOrLogging(s),
    );
    expect(statements).toHaveLength(3);
    expect(statements).toContainEqual(
      expect.objectContaining({
        Action: ['dynamodb:BatchGetItem', 'dynamodb:UpdateItem'],
        Resource: { 'Fn::GetAtt': [batches, 'Arn'] },
      }),
    );
    expect(statements).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Action: 'secretsmanager:GetSecretValue',
          Resource: { Ref: expect.stringMatching(/^SparkApiKey/) },
        }),
        expect.objectContaining({
          Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
          Resource: { 'Fn::GetAtt': [table, 'Arn'] },
        }),
      ]),
    );
  });

  it('lets PollTask read the secret, update the polling-stats item and the poll count, give back its slot, nothing more', () => {
    const table = logicalIdStartingWith('AWS::DynamoDB::GlobalTable', 'StorageGenerations');
    const slots = logicalIdStartingWith('AWS::DynamoDB::GlobalTable', 'StorageSlots');
    const statements = statementsOfRole('StepsPollTaskRole').filter((s) => !isTracingOrLogging(s));
    expect(statements).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Action: 'secretsmanager:GetSecretValue' }),
        expect.objectContaining({
          Action: 'dynamodb:UpdateItem',
          Resource: { 'Fn::GetAtt': [table, 'Arn'] },
          Condition: {
            'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [POLLING_STATS_KEY] },
          },
        }),
        expect.objectContaining({
          Action: 'dynamodb:UpdateItem',
          Resource: { 'Fn::GetAtt': [table, 'Arn'] },
          Condition: {
            'ForAllValues:StringEquals': {
              'dynamodb:Attributes': ['id', 'polls', 'updatedAt', 'status'],
            },
            StringEqualsIfExists: { 'dynamodb:ReturnValues': 'NONE' },
          },
        }),
        expect.objectContaining({ Resource: { 'Fn::GetAtt': [slots, 'Arn'] } }),
        expect.objectContaining({ Action: 'states:SendTaskSuccess' }),
      ]),
    );
    expect(statements).toHaveLength(5);
  });

  it.each([
    // Only taking a slot queues a waiter (a put); a hand-over reads the queue and claims.
    ['StepsAcquireSlotRole', ['dynamodb:PutItem']],
    ['StepsReleaseSlotRole', ['dynamodb:Query']],
  ])(
    'lets %s use the slots table and wake executions of this state machine only',
    (role, handsOver) => {
      const slots = logicalIdStartingWith('AWS::DynamoDB::GlobalTable', 'StorageSlots');
      const statements = statementsOfRole(role).filter((s) => !isTracingOrLogging(s));
      expect(statements).toHaveLength(2);
      expect(statements[0]).toMatchObject({
        Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', ...handsOver],
        Resource: { 'Fn::GetAtt': [slots, 'Arn'] },
      });
      expect(statements[1]?.Action).toBe('states:SendTaskSuccess');
      expect(JSON.stringify(statements[1]?.Resource)).toContain(
        ':stateMachine:SparkT2i-generation',
      );
    },
  );

  it('lets the reconciler Query the unfinished index (its sweep), never Scan the table', () => {
    const table = logicalIdStartingWith('AWS::DynamoDB::GlobalTable', 'StorageGenerations');
    const statements = statementsOfRole('ReconcilerFunctionRole');
    expect(statements).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Action: 'dynamodb:Query',
          Resource: {
            'Fn::Join': ['', [{ 'Fn::GetAtt': [table, 'Arn'] }, '/index/unfinished']],
          },
        }),
      ]),
    );
    expect(statements.flatMap(actions)).not.toContain('dynamodb:Scan');
  });

  it('runs the reconciler on executions that end FAILED, TIMED_OUT or ABORTED, and on a schedule', () => {
    const reconciler = logicalIdStartingWith('AWS::Lambda::Function', 'ReconcilerFunction');
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.states'],
        'detail-type': ['Step Functions Execution Status Change'],
        detail: { status: ['FAILED', 'TIMED_OUT', 'ABORTED'] },
      },
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [reconciler, 'Arn'] },
          DeadLetterConfig: Match.anyValue(),
        }),
      ],
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(5 minutes)',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [reconciler, 'Arn'] } })],
    });
  });

  it('keeps the slots table on demand, keyed by pk and sk', () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
    });
  });

  it('lets CopyImages write under images/ of the images bucket only', () => {
    const bucket = logicalIdStartingWith('AWS::S3::Bucket', 'StorageImages');
    const statements = statementsOfRole('StepsCopyImagesRole').filter(
      (s) => !isTracingOrLogging(s),
    );
    expect(statements).toHaveLength(1);
    expect(JSON.stringify(statements[0]?.Resource)).toContain(bucket);
    expect(JSON.stringify(statements[0]?.Resource)).toContain('/images/*');
    expect(actions(statements[0] as Statement)).toEqual([
      's3:PutObject',
      's3:AbortMultipartUpload',
    ]);
  });

  it('gives the console function no access beyond tracing and its logs, and only the images bucket name', () => {
    expect(statementsOfRole('ApiConsoleRole').every(isTracingOrLogging)).toBe(true);
    const [consoleFunction] = Object.entries(template.findResources('AWS::Lambda::Function'))
      .filter(([id]) => id.startsWith('ApiConsole'))
      .map(([, fn]) => fn);
    expect(Object.keys(consoleFunction?.Properties.Environment.Variables).sort()).toEqual([
      'IMAGES_BUCKET',
      'NODE_OPTIONS',
      'POWERTOOLS_LOG_LEVEL',
      'POWERTOOLS_METRICS_NAMESPACE',
      'POWERTOOLS_SERVICE_NAME',
    ]);
  });

  it('gives ClassifyFailure no access beyond tracing', () => {
    const statements = statementsOfRole('StepsClassifyFailureRole');
    expect(statements.every(isTracingOrLogging)).toBe(true);
  });
});

describe('the HTTP API', () => {
  it('authorises every route with the key authorizer except GET /openapi.json and the console page', () => {
    const methods = Object.values(template.findResources('AWS::ApiGateway::Method')).filter(
      (method) => !['OPTIONS', 'ANY'].includes(method.Properties.HttpMethod),
    );
    // generations: POST, GET, GET {id}, DELETE {id}; batches: POST, GET, GET {id}, DELETE {id},
    // GET {id}/generations, GET {id}/report; GET /openapi.json; the console: GET /, GET
    // /console/{file}; webhooks: GET /webhooks/secret, POST /webhooks/secret/rotate, GET
    // /generations/{id}/deliveries.
    expect(methods).toHaveLength(16);
    const open = methods.filter((method) => method.Properties.AuthorizationType === 'NONE');
    expect(open.map((method) => JSON.stringify(method.Properties.ResourceId)).sort()).toEqual([
      expect.stringContaining('RootResourceId'),
      expect.stringContaining('consolefile'),
      expect.stringContaining('openapijson'),
    ]);
    for (const method of open) {
      expect(JSON.stringify(method.Properties.Integration.Uri)).toMatch(/ApiConsole|ApiOpenApi/);
    }
    for (const method of methods.filter((m) => m.Properties.AuthorizationType !== 'NONE')) {
      expect(method.Properties.AuthorizationType).toBe('CUSTOM');
      expect(method.Properties.AuthorizerId).toBeDefined();
    }
  });

  it('signs list cursors with a secret Secrets Manager generates at deploy, read by the list functions only', () => {
    const secrets = template.findResources('AWS::SecretsManager::Secret', {
      Properties: { GenerateSecretString: { PasswordLength: 64 } },
    });
    expect(Object.keys(secrets)).toHaveLength(1);
    const secretId = Object.keys(secrets)[0] as string;
    const readers = Object.entries(template.findResources('AWS::Lambda::Function'))
      .filter(([, fn]) => JSON.stringify(fn.Properties.Environment ?? {}).includes(secretId))
      .map(([id, fn]) => [id, fn.Properties.Environment.Variables.CURSOR_SECRET_ID]);
    expect(readers.sort()).toEqual([
      [expect.stringMatching(/^ApiListGenerations/), { Ref: secretId }],
      [expect.stringMatching(/^ApiReadBatches/), { Ref: secretId }],
    ]);
    const grants = Object.entries(template.findResources('AWS::IAM::Policy')).filter(([, policy]) =>
      JSON.stringify(policy.Properties.PolicyDocument).includes(`"Ref":"${secretId}"`),
    );
    expect(grants.map(([id]) => id).sort()).toEqual([
      expect.stringMatching(/^ApiListGenerations/),
      expect.stringMatching(/^ApiReadBatches/),
    ]);
  });

  it('hands every request body to the functions as the bytes sent, so a handler sees malformed UTF-8', () => {
    template.hasResourceProperties('AWS::ApiGateway::RestApi', { BinaryMediaTypes: ['*/*'] });
    const any = Object.values(
      template.findResources('AWS::ApiGateway::Method', { Properties: { HttpMethod: 'ANY' } }),
    );
    for (const method of any) {
      expect(method.Properties.Integration.ContentHandling).toBe('CONVERT_TO_TEXT');
    }
  });

  it('answers the other methods of each resource with 405 and its Allow header, from API Gateway', () => {
    const any = Object.values(
      template.findResources('AWS::ApiGateway::Method', { Properties: { HttpMethod: 'ANY' } }),
    );
    expect(any).toHaveLength(12);
    const allowed = any.map(
      (method) =>
        method.Properties.Integration.IntegrationResponses[0].ResponseParameters[
          'method.response.header.Allow'
        ],
    );
    // GET on /openapi.json, /batches/{id}/generations and /report, / and /console/{file},
    // /webhooks/secret and /generations/{id}/deliveries; POST on /webhooks/secret/rotate.
    expect(allowed.sort()).toEqual([
      "'GET'",
      "'GET'",
      "'GET'",
      "'GET'",
      "'GET'",
      "'GET'",
      "'GET'",
      "'GET, DELETE'",
      "'GET, DELETE'",
      "'GET, POST'",
      "'GET, POST'",
      "'POST'",
    ]);
    for (const method of any) {
      expect(method.Properties.Integration).toMatchObject({
        Type: 'MOCK',
        IntegrationResponses: [
          {
            StatusCode: '405',
            ResponseTemplates: { 'application/json': expect.stringContaining('090004003') },
          },
        ],
      });
    }
  });

  it('uses a cached token authorizer on the Authorization header', () => {
    template.hasResourceProperties('AWS::ApiGateway::Authorizer', {
      Type: 'TOKEN',
      IdentitySource: 'method.request.header.Authorization',
      AuthorizerResultTtlInSeconds: 300,
    });
  });

  it('throttles, traces and access-logs the stage', () => {
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'v1',
      TracingEnabled: true,
      AccessLogSetting: Match.objectLike({ DestinationArn: Match.anyValue() }),
      MethodSettings: [Match.objectLike({ ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 })],
    });
  });

  it.each([
    ['UNAUTHORIZED', '401', '090004001'],
    ['ACCESS_DENIED', '401', '090004001'],
    ['MISSING_AUTHENTICATION_TOKEN', '404', '090004002'],
    ['RESOURCE_NOT_FOUND', '404', '090004002'],
    ['REQUEST_TOO_LARGE', '413', '090004005'],
    ['UNSUPPORTED_MEDIA_TYPE', '415', '090004006'],
    ['THROTTLED', '429', '090004011'],
    ['QUOTA_EXCEEDED', '429', '090004011'],
    ['DEFAULT_4XX', undefined, '090004013'],
    ['DEFAULT_5XX', '500', '090004099'],
  ])(
    'answers its own %s errors with status %s, code %s and every security header',
    (type, status, code) => {
      const [response, ...others] = Object.values(
        template.findResources('AWS::ApiGateway::GatewayResponse', {
          Properties: { ResponseType: type },
        }),
      );
      expect(others).toEqual([]);
      expect(response?.Properties.StatusCode).toBe(status);
      // messageString comes quoted from API Gateway: the template must not quote it again.
      expect(response?.Properties.ResponseTemplates).toEqual({
        'application/json': `{"error":{"code":"${code}","message":$context.error.messageString}}`,
      });
      expect(response?.Properties.ResponseParameters).toEqual(
        Object.fromEntries(
          Object.entries(GATEWAY_HEADERS).map(([name, value]) => [
            `gatewayresponse.header.${name}`,
            value,
          ]),
        ),
      );
    },
  );

  it('puts every security header on the 405 answers of its mock methods', () => {
    const any = Object.values(
      template.findResources('AWS::ApiGateway::Method', { Properties: { HttpMethod: 'ANY' } }),
    );
    expect(any).toHaveLength(12);
    for (const method of any) {
      const parameters = method.Properties.Integration.IntegrationResponses[0].ResponseParameters;
      const { 'method.response.header.Allow': _allow, ...rest } = parameters;
      expect(rest).toEqual(
        Object.fromEntries(
          Object.entries(GATEWAY_HEADERS).map(([name, value]) => [
            `method.response.header.${name}`,
            value,
          ]),
        ),
      );
      expect(method.Properties.MethodResponses[0].ResponseParameters).toEqual(
        Object.fromEntries(Object.keys(parameters).map((name) => [name, true])),
      );
    }
  });

  it('starts executions from POST /generations only through the state machine it names', () => {
    const statements = statementsOfRole('ApiSubmitGenerationRole');
    expect(statements).toContainEqual(
      expect.objectContaining({
        Action: 'states:StartExecution',
        Resource: { Ref: expect.stringMatching(/^WorkflowStateMachine/) },
      }),
    );
  });
});

describe('triggers', () => {
  it('sends objects created under prompts/ to the prompt-file function', () => {
    template.hasResourceProperties('Custom::S3BucketNotifications', {
      NotificationConfiguration: {
        LambdaFunctionConfigurations: [
          Match.objectLike({
            Events: ['s3:ObjectCreated:*'],
            Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'prompts/' }] } },
          }),
        ],
      },
    });
  });

  it("lets the prompt-file function query the API keys' byOwner index, and nothing else of it", () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: [{ AttributeName: 'keyHash', KeyType: 'HASH' }],
      GlobalSecondaryIndexes: [
        {
          IndexName: 'byOwner',
          KeySchema: [{ AttributeName: 'owner', KeyType: 'HASH' }],
          Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['revokedAt'] },
        },
      ],
    });
    const keyStatements = statementsOfRole('TriggersPromptFileRole').filter((statement) =>
      JSON.stringify(statement).includes('ApiKeys'),
    );
    expect(keyStatements).toEqual([
      expect.objectContaining({
        Action: 'dynamodb:Query',
        Resource: {
          'Fn::Join': [
            '',
            [expect.objectContaining({ 'Fn::GetAtt': expect.anything() }), '/index/byOwner'],
          ],
        },
      }),
    ]);
  });

  it('creates one schedule per config entry, firing the schedule-firing function with its validated request', () => {
    const found = Object.values(template.findResources('AWS::Scheduler::Schedule'));
    expect(found).toHaveLength(2);
    const firing = logicalIdStartingWith('AWS::Lambda::Function', 'TriggersScheduleFiring');
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(0 6 * * ? *)',
      ScheduleExpressionTimezone: 'Europe/Paris',
      Target: {
        Arn: { 'Fn::GetAtt': [firing, 'Arn'] },
        DeadLetterConfig: { Arn: Match.anyValue() },
        RetryPolicy: { MaximumRetryAttempts: 10, MaximumEventAgeInSeconds: 3600 },
      },
    });
    expect(firingEventOf('cron(0 6 * * ? *)').input).toEqual({
      request: { prompt: 'a product shot', use_pre_llm: true, seed: -1, width: 1328, height: 1328 },
      source: 'schedule',
      sourceRef: 'schedule:daily-catalogue',
      owner: 'catalogue',
      webhookEvents: [],
    });
  });

  it('hands each firing its scheduled time, which Scheduler keeps across retries, and never its per-attempt execution id', () => {
    for (const [expression, name] of [
      ['cron(0 6 * * ? *)', 'daily-catalogue'],
      ['rate(1 hour)', 'hourly'],
    ]) {
      const event = firingEventOf(expression as string);
      expect(event).toMatchObject({
        schedule: name,
        scheduledTime: '<aws.scheduler.scheduled-time>',
      });
      expect(JSON.stringify(event)).not.toContain('<aws.scheduler.execution-id>');
      expect(JSON.stringify(event)).not.toContain('<aws.scheduler.attempt-number>');
    }
  });

  it('lets the schedules invoke the schedule-firing function, nothing else, and that function start executions', () => {
    const firing = logicalIdStartingWith('AWS::Lambda::Function', 'TriggersScheduleFiring');
    const roleArn = Object.values(template.findResources('AWS::Scheduler::Schedule'))[0]?.Properties
      .Target.RoleArn as { 'Fn::GetAtt': [string, string] };
    const statements = statementsOfRole(roleArn['Fn::GetAtt'][0]);
    expect(statements.filter((statement) => !actions(statement)[0]?.startsWith('sqs:'))).toEqual([
      {
        Action: 'lambda:InvokeFunction',
        Effect: 'Allow',
        Resource: [
          { 'Fn::GetAtt': [firing, 'Arn'] },
          { 'Fn::Join': ['', [{ 'Fn::GetAtt': [firing, 'Arn'] }, ':*']] },
        ],
      },
    ]);
    expect(statementsOfRole('TriggersScheduleFiringRole')).toContainEqual(
      expect.objectContaining({
        Action: 'states:StartExecution',
        Resource: { Ref: expect.stringMatching(/^WorkflowStateMachine/) },
      }),
    );
  });

  it('fails synth with the code and the name of a schedule whose request is invalid', () => {
    const bad = {
      name: 'broken',
      expression: 'rate(1 day)',
      request: { prompt: 'x', width: 4000, height: 10 },
    };
    expect(() => parseStackConfig({ schedules: [bad] })).toThrow(StackConfigError);
    expect(() => parseStackConfig({ schedules: [bad] })).toThrow(/Schedule "broken".*003001006/);
  });

  it('refuses two schedules of the same name and malformed expressions', () => {
    const one = { name: 'a', expression: 'rate(1 day)', request: { prompt: 'x' } };
    expect(() => parseStackConfig({ schedules: [one, one] })).toThrow(/declared twice/);
    expect(() => parseStackConfig({ schedules: [{ ...one, expression: 'every day' }] })).toThrow(
      /expression/,
    );
  });
});

describe('observability', () => {
  it('logs every state machine event to a log group with retention, and traces', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: Match.objectLike({ Level: 'ALL', IncludeExecutionData: true }),
    });
    for (const group of Object.values(template.findResources('AWS::Logs::LogGroup'))) {
      expect(group.Properties.RetentionInDays).toBeGreaterThan(0);
    }
  });

  it('logs the state machine to a log group under /aws/vendedlogs/, named after the stack', () => {
    const group = logicalIdStartingWith('AWS::Logs::LogGroup', 'WorkflowLogs');
    expect(template.findResources('AWS::Logs::LogGroup')[group]?.Properties.LogGroupName).toBe(
      '/aws/vendedlogs/states/SparkT2i-generation',
    );
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      LoggingConfiguration: {
        Destinations: [
          { CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [group, 'Arn'] } } },
        ],
      },
    });
  });

  it('encrypts the alarm topic with a rotated key of its own, which CloudWatch may use for this account only', () => {
    const [topic, ...others] = Object.values(template.findResources('AWS::SNS::Topic'));
    expect(others).toEqual([]);
    const keyRef = topic?.Properties.KmsMasterKeyId as { 'Fn::GetAtt'?: [string, string] };
    const key = template.findResources('AWS::KMS::Key')[keyRef['Fn::GetAtt']?.[0] ?? ''];
    expect(key?.Properties.EnableKeyRotation).toBe(true);
    expect(key?.Properties.KeyPolicy.Statement).toContainEqual({
      Sid: 'CloudWatchAlarmsPublish',
      Effect: 'Allow',
      Principal: { Service: 'cloudwatch.amazonaws.com' },
      Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      Resource: '*',
      Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
    });
  });

  it('lets CloudWatch publish to the alarm topic for this account only, and refuses plain HTTP', () => {
    const topic = logicalIdStartingWith('AWS::SNS::Topic', 'ObservabilityAlarms');
    const [policy, ...others] = Object.values(template.findResources('AWS::SNS::TopicPolicy'));
    expect(others).toEqual([]);
    expect(policy?.Properties.Topics).toEqual([{ Ref: topic }]);
    const statements = policy?.Properties.PolicyDocument.Statement as Statement[];
    expect(statements).toContainEqual({
      Sid: 'CloudWatchAlarmsPublish',
      Effect: 'Allow',
      Principal: { Service: 'cloudwatch.amazonaws.com' },
      Action: 'sns:Publish',
      Resource: { Ref: topic },
      Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
    });
    expect(statements).toContainEqual(
      expect.objectContaining({
        Effect: 'Deny',
        Action: 'sns:Publish',
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      }),
    );
  });

  it('alarms on failing executions, function errors and throttles, and API 5xx', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    const metrics = alarms.flatMap((alarm) =>
      alarm.Properties.MetricName
        ? [`${alarm.Properties.Namespace}:${alarm.Properties.MetricName}`]
        : (alarm.Properties.Metrics as Array<{ MetricStat?: { Metric: Record<string, string> } }>)
            .filter((query) => query.MetricStat)
            .map(
              ({ MetricStat }) =>
                `${MetricStat?.Metric.Namespace}:${MetricStat?.Metric.MetricName}`,
            ),
    );
    expect(metrics).toEqual(
      expect.arrayContaining([
        'AWS/States:ExecutionsFailed',
        'AWS/States:ExecutionsSucceeded',
        'AWS/States:ExecutionsTimedOut',
        'AWS/Lambda:Errors',
        'AWS/Lambda:Throttles',
        'AWS/ApiGateway:5XXError',
      ]),
    );
    expect(metrics).not.toContain('AWS/States:ExecutionsAborted');
    for (const alarm of alarms) expect(alarm.Properties.AlarmActions).toHaveLength(1);
  });

  it('pages on failed executions only when at least 5 failed, a fifth or more of those that ended', () => {
    const [failing] = Object.values(
      template.findResources('AWS::CloudWatch::Alarm', {
        Properties: { AlarmDescription: Match.stringLikeRegexp('^At least 5 generation') },
      }),
    );

    expect(failing?.Properties).toMatchObject({
      Threshold: 20,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      Metrics: expect.arrayContaining([
        expect.objectContaining({
          Expression: 'IF(failed >= 5, 100 * failed / (failed + succeeded), 0)',
          ReturnData: true,
        }),
        expect.objectContaining({ Id: 'failed', ReturnData: false }),
        expect.objectContaining({ Id: 'succeeded', ReturnData: false }),
      ]),
    });
  });
});

describe('function error alarms', () => {
  const errorAlarms = () =>
    Object.values(template.findResources('AWS::CloudWatch::Alarm')).filter((alarm) =>
      String(alarm.Properties.AlarmDescription).match(/function errors$|failed at least/),
    );

  it('page the steps the workflow retries on their share of failing invocations', () => {
    const retried = errorAlarms().filter((alarm) =>
      String(alarm.Properties.AlarmDescription).includes('retried by the workflow'),
    );
    expect(
      retried.map((alarm) => String(alarm.Properties.AlarmDescription).split(' ')[0]).sort(),
    ).toEqual(['CopyImages', 'CreateTask', 'PollTask']);
    for (const alarm of retried) {
      expect(alarm.Properties).toMatchObject({
        Threshold: 20,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
        Metrics: expect.arrayContaining([
          expect.objectContaining({
            Expression: 'IF(errors >= 5, 100 * errors / invocations, 0)',
            ReturnData: true,
          }),
          expect.objectContaining({
            Id: 'errors',
            MetricStat: expect.objectContaining({
              Metric: expect.objectContaining({ MetricName: 'Errors' }),
              Stat: 'Sum',
            }),
          }),
          expect.objectContaining({
            Id: 'invocations',
            MetricStat: expect.objectContaining({
              Metric: expect.objectContaining({ MetricName: 'Invocations' }),
              Stat: 'Sum',
            }),
          }),
        ]),
      });
    }
  });

  it('page on any error of every other function', () => {
    const direct = errorAlarms().filter((alarm) => alarm.Properties.MetricName === 'Errors');
    expect(direct).toHaveLength(19);
    for (const alarm of direct) expect(alarm.Properties.Threshold).toBe(1);
  });
});

describe('cdk-nag', () => {
  it('finds nothing unacknowledged in either pack during synth', () => {
    const packs = validationReport.pluginReports.map((report) => report.pluginName).sort();
    expect(packs).toEqual(expect.arrayContaining(['AwsSolutions', 'Serverless']));
    const findings = validationReport.pluginReports.flatMap((report) =>
      report.violations.map(
        (violation) =>
          `${violation.ruleName}: ${violation.violatingConstructs.map((c) => c.constructPath).join(', ')}`,
      ),
    );
    expect(findings).toEqual([]);
    for (const report of validationReport.pluginReports) expect(report.conclusion).toBe('success');
  });
});

describe('stack configuration', () => {
  const projectDir = mkdtempSync(join(tmpdir(), 'spark-t2i-config-'));
  writeFileSync(
    join(projectDir, 'spark-t2i.config.json'),
    JSON.stringify({ maxConcurrentTasks: 5, polling: { intervalSeconds: 4 } }),
  );
  afterAll(() => rmSync(projectDir, { recursive: true, force: true }));

  /** Reads the config the way infra/app.ts does, from an app carrying this context. */
  const loadWithContext = (context: Record<string, unknown>) => {
    const app = new App({ context });
    return loadStackConfig((key) => app.node.tryGetContext(key), projectDir);
  };

  // `cdk deploy -c 'spark-t2i={...}'` hands the app a JSON string; cdk.json hands it an object.
  it.each([
    ['a JSON string (cdk deploy -c)', '{"maxConcurrentTasks":20,"polling":{"maxPolls":7}}'],
    ['an object (cdk.json)', { maxConcurrentTasks: 20, polling: { maxPolls: 7 } }],
  ])('merges a spark-t2i context value given as %s over the config file', (_, value) => {
    const config = loadWithContext({ 'spark-t2i': value });
    expect(config.maxConcurrentTasks).toBe(20);
    expect(config.polling.maxPolls).toBe(7);
    expect(config.polling.intervalSeconds).toBe(4);
  });

  it('reads the config file alone when there is no context value', () => {
    expect(loadWithContext({}).maxConcurrentTasks).toBe(5);
  });

  it.each([
    ['not JSON', '{maxConcurrentTasks:20}', /context value is not valid JSON/],
    ['a JSON array', '[1,2]', /context value must be a JSON object/],
    ['a JSON number', '20', /context value must be a JSON object/],
  ])('refuses a context string that is %s with a clear StackConfigError', (_, value, message) => {
    expect(() => loadWithContext({ 'spark-t2i': value })).toThrow(StackConfigError);
    expect(() => loadWithContext({ 'spark-t2i': value })).toThrow(message);
  });

  it("caps the image URLs' lifetime at the 12 h of the session credentials that sign them, saying why", () => {
    expect(
      parseStackConfig({ api: { presignedUrlTtlSeconds: 43_200 } }).api.presignedUrlTtlSeconds,
    ).toBe(43_200);
    for (const ttl of [43_201, 604_800]) {
      expect(() => parseStackConfig({ api: { presignedUrlTtlSeconds: ttl } })).toThrow(
        /api\.presignedUrlTtlSeconds: at most 43200 \(12 h\): image URLs are signed with a Lambda role's session credentials/,
      );
    }
  });

  it('still validates a context string against the schema', () => {
    expect(() => loadWithContext({ 'spark-t2i': '{"maxConcurrentTasks":0}' })).toThrow(
      /maxConcurrentTasks/,
    );
  });
});

describe('the retention of generation records', () => {
  it('defaults to 90 days', () => {
    expect(new Storage(new Stack(), 'Storage').recordRetentionDays).toBe(90);
  });

  it('reaches every function that writes expiresAt, and only those, from retention.recordDays', () => {
    // GIVEN the stack of this file, which keeps records 30 days
    // WHEN its functions' environments are read
    const withRetention = Object.entries(template.findResources('AWS::Lambda::Function'))
      .filter(([, fn]) => fn.Properties.Environment?.Variables?.RECORD_RETENTION_DAYS === '30')
      .map(([id]) => id.replace(/[0-9A-F]{8}$/, ''));

    // THEN submit and cancel (of a generation and of a batch), the reconciler, PollTask,
    // CreateTask (a cancelled batch's lines) and the prompt-file trigger (batch lines) carry it
    expect(withRetention.sort()).toEqual(
      [
        'ApiCancelBatch',
        'ApiCancelGeneration',
        'ApiSubmitBatch',
        'ApiSubmitGeneration',
        'ReconcilerFunction',
        'StepsPollTask',
        'StepsCreateTask',
        'TriggersPromptFile',
      ].sort(),
    );
  });

  it('refuses a config retention outside 1 to 36,500 days', () => {
    expect(() => parseStackConfig({ retention: { recordDays: 0 } })).toThrow(/recordDays/);
    expect(parseStackConfig({}).retention.recordDays).toBe(90);
  });

  it.each([0, -1, 1.5])('refuses a retention of %s days', (days) => {
    expect(() => new Storage(new Stack(), 'Storage', { recordRetentionDays: days })).toThrow(
      /recordRetentionDays must be a whole number of days/,
    );
  });
});
