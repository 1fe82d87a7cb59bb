import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseStackConfig, StackConfigError } from '../../infra/config.ts';
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

let template: Template;
let validationReport: ValidationReport;

beforeAll(() => {
  ({ template, validationReport } = synthesizeStack({ schedules, defaultOwner: 'catalogue' }));
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

  it('keeps generations on demand, recoverable, with TTL and the two owner indexes', () => {
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
      ],
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

  it('lets CreateTask read and update the generations table and read the secret, nothing more', () => {
    const table = logicalIdStartingWith('AWS::DynamoDB::GlobalTable', 'StorageGenerations');
    const statements = statementsOfRole('StepsCreateTaskRole').filter(
      (s) => !isTracingOrLogging(s),
    );
    expect(statements).toHaveLength(2);
    expect(statements).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
          Resource: { Ref: expect.stringMatching(/^SparkApiKey/) },
        }),
        expect.objectContaining({
          Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
          Resource: { 'Fn::GetAtt': [table, 'Arn'] },
        }),
      ]),
    );
  });

  it('lets PollTask read the secret and update the polling-stats item of the table, nothing more', () => {
    const table = logicalIdStartingWith('AWS::DynamoDB::GlobalTable', 'StorageGenerations');
    const statements = statementsOfRole('StepsPollTaskRole').filter((s) => !isTracingOrLogging(s));
    expect(statements.flatMap(actions).sort()).toEqual([
      'dynamodb:UpdateItem',
      'secretsmanager:DescribeSecret',
      'secretsmanager:GetSecretValue',
    ]);
    expect(statements).toContainEqual(
      expect.objectContaining({
        Action: 'dynamodb:UpdateItem',
        Resource: { 'Fn::GetAtt': [table, 'Arn'] },
        Condition: {
          'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [POLLING_STATS_KEY] },
        },
      }),
    );
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

  it('gives ClassifyFailure no access beyond tracing', () => {
    const statements = statementsOfRole('StepsClassifyFailureRole');
    expect(statements.every(isTracingOrLogging)).toBe(true);
  });
});

describe('the HTTP API', () => {
  it('authorises every route with the key authorizer except GET /openapi.json', () => {
    const methods = Object.values(template.findResources('AWS::ApiGateway::Method')).filter(
      (method) => !['OPTIONS', 'ANY'].includes(method.Properties.HttpMethod),
    );
    expect(methods).toHaveLength(5);
    const open = methods.filter((method) => method.Properties.AuthorizationType === 'NONE');
    expect(open).toHaveLength(1);
    expect(JSON.stringify(open[0]?.Properties.ResourceId)).toContain('openapijson');
    for (const method of methods.filter((m) => m.Properties.AuthorizationType !== 'NONE')) {
      expect(method.Properties.AuthorizationType).toBe('CUSTOM');
      expect(method.Properties.AuthorizerId).toBeDefined();
    }
  });

  it('answers the other methods of each resource with 405 and its Allow header, from API Gateway', () => {
    const any = Object.values(
      template.findResources('AWS::ApiGateway::Method', { Properties: { HttpMethod: 'ANY' } }),
    );
    expect(any).toHaveLength(3);
    const allowed = any.map(
      (method) =>
        method.Properties.Integration.IntegrationResponses[0].ResponseParameters[
          'method.response.header.Allow'
        ],
    );
    expect(allowed.sort()).toEqual(["'GET'", "'GET, DELETE'", "'GET, POST'"]);
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

  it('answers its own errors (401, 404, 413, 429) in the API error shape', () => {
    for (const [type, status] of [
      ['UNAUTHORIZED', '401'],
      ['MISSING_AUTHENTICATION_TOKEN', '404'],
      ['REQUEST_TOO_LARGE', '413'],
      ['THROTTLED', '429'],
    ]) {
      template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
        ResponseType: type,
        StatusCode: status,
        // messageString comes quoted from API Gateway: the template must not quote it again.
        ResponseTemplates: {
          'application/json': Match.stringLikeRegexp(
            '^\\{"error":\\{"code":"0900040\\d\\d","message":\\$context\\.error\\.messageString\\}\\}$',
          ),
        },
        ResponseParameters: Match.objectLike({
          'gatewayresponse.header.X-Content-Type-Options': "'nosniff'",
        }),
      });
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

  it('creates one schedule per config entry, targeting the state machine with its validated request', () => {
    const found = Object.values(template.findResources('AWS::Scheduler::Schedule'));
    expect(found).toHaveLength(2);
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(0 6 * * ? *)',
      ScheduleExpressionTimezone: 'Europe/Paris',
      Target: {
        Arn: { Ref: Match.stringLikeRegexp('^WorkflowStateMachine') },
        Input: JSON.stringify({
          request: {
            prompt: 'a product shot',
            use_pre_llm: true,
            seed: -1,
            width: 1328,
            height: 1328,
          },
          source: 'schedule',
          sourceRef: 'schedule:daily-catalogue',
          owner: 'catalogue',
        }),
        DeadLetterConfig: { Arn: Match.anyValue() },
      },
    });
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

  it('alarms on failed executions, function errors and throttles, and API 5xx', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    const metrics = alarms.map(
      (alarm) => `${alarm.Properties.Namespace}:${alarm.Properties.MetricName}`,
    );
    expect(metrics).toEqual(
      expect.arrayContaining([
        'AWS/States:ExecutionsFailed',
        'AWS/Lambda:Errors',
        'AWS/Lambda:Throttles',
        'AWS/ApiGateway:5XXError',
      ]),
    );
    for (const alarm of alarms) expect(alarm.Properties.AlarmActions).toHaveLength(1);
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
