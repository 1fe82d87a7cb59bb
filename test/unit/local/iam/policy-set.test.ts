/**
 * The evaluator over small hand-made templates: which policies apply to a request, explicit deny
 * first, resource policies for service principals, the administrator, trust and key policies,
 * and the refusal at load of anything it cannot evaluate.
 */
import { describe, expect, it } from 'vitest';
import {
  InvalidAuthorizationRequestError,
  RoleNotFoundError,
  UnsupportedPolicyError,
} from '#local/iam/errors.ts';
import {
  ADMINISTRATOR,
  type AuthorizationRequest,
  type IamPrincipal,
  PolicySet,
} from '#local/iam/policy-set.ts';
import type { CfnTemplate } from '../../../../infra/asl.ts';

const ACCOUNT = '000000000000';
const REGION = 'us-east-1';
const TABLE_ARN = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/Table`;
const OTHER_TABLE_ARN = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/Other`;
const BUCKET_ARN = 'arn:aws:s3:::bucket';
const FUNCTION_ARN = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:Handler`;
const QUEUE_ARN = `arn:aws:sqs:${REGION}:${ACCOUNT}:Queue`;
const RULE_ARN = `arn:aws:events:${REGION}:${ACCOUNT}:rule/Rule`;

const lambdaTrust = {
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
  ],
};

/** A function with a role and an attached policy, a bucket, a queue and a rule. */
function template(overrides: Record<string, unknown> = {}): CfnTemplate {
  return {
    Resources: {
      Table: { Type: 'AWS::DynamoDB::GlobalTable', Properties: {} },
      Other: { Type: 'AWS::DynamoDB::GlobalTable', Properties: {} },
      Bucket: { Type: 'AWS::S3::Bucket', Properties: {} },
      Queue: { Type: 'AWS::SQS::Queue', Properties: {} },
      Rule: { Type: 'AWS::Events::Rule', Properties: {} },
      HandlerRole: {
        Type: 'AWS::IAM::Role',
        Properties: { AssumeRolePolicyDocument: lambdaTrust },
      },
      HandlerRolePolicy: {
        Type: 'AWS::IAM::Policy',
        Properties: {
          PolicyName: 'HandlerRolePolicy',
          Roles: [{ Ref: 'HandlerRole' }],
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              {
                Effect: 'Allow',
                Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
                Resource: { 'Fn::GetAtt': ['Table', 'Arn'] },
              },
              {
                Sid: 'NoDeletes',
                Effect: 'Deny',
                Action: 'dynamodb:Delete*',
                Resource: '*',
              },
              {
                Effect: 'Allow',
                Action: 'dynamodb:*',
                Resource: { 'Fn::GetAtt': ['Other', 'Arn'] },
              },
              {
                Effect: 'Allow',
                Action: 's3:*',
                Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': ['Bucket', 'Arn'] }, '/*']] },
              },
            ],
          },
        },
      },
      Handler: {
        Type: 'AWS::Lambda::Function',
        Properties: { Role: { 'Fn::GetAtt': ['HandlerRole', 'Arn'] } },
      },
      BucketPolicy: {
        Type: 'AWS::S3::BucketPolicy',
        Properties: {
          Bucket: { Ref: 'Bucket' },
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              {
                Effect: 'Deny',
                Principal: { AWS: '*' },
                Action: 's3:*',
                Condition: { Bool: { 'aws:SecureTransport': 'false' } },
                Resource: [
                  { 'Fn::GetAtt': ['Bucket', 'Arn'] },
                  { 'Fn::Join': ['', [{ 'Fn::GetAtt': ['Bucket', 'Arn'] }, '/*']] },
                ],
              },
              {
                Sid: 'KeepReports',
                Effect: 'Deny',
                Principal: '*',
                Action: 's3:DeleteObject',
                Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': ['Bucket', 'Arn'] }, '/reports/*']] },
              },
            ],
          },
        },
      },
      BucketInvokesHandler: {
        Type: 'AWS::Lambda::Permission',
        Properties: {
          Action: 'lambda:InvokeFunction',
          FunctionName: { 'Fn::GetAtt': ['Handler', 'Arn'] },
          Principal: 's3.amazonaws.com',
          SourceAccount: { Ref: 'AWS::AccountId' },
          SourceArn: { 'Fn::GetAtt': ['Bucket', 'Arn'] },
        },
      },
      QueuePolicy: {
        Type: 'AWS::SQS::QueuePolicy',
        Properties: {
          Queues: [{ Ref: 'Queue' }],
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              {
                Sid: 'RuleDeadLetters',
                Effect: 'Allow',
                Principal: { Service: 'events.amazonaws.com' },
                Action: 'sqs:SendMessage',
                Resource: { 'Fn::GetAtt': ['Queue', 'Arn'] },
                Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': ['Rule', 'Arn'] } } },
              },
              {
                Sid: 'HandlerReads',
                Effect: 'Allow',
                Principal: { AWS: { 'Fn::GetAtt': ['HandlerRole', 'Arn'] } },
                Action: 'sqs:ReceiveMessage',
                Resource: { 'Fn::GetAtt': ['Queue', 'Arn'] },
              },
            ],
          },
        },
      },
      ...overrides,
    } as CfnTemplate['Resources'],
  };
}

const policies = PolicySet.fromTemplate(template());
const handler = policies.roleForFunction('Handler');
const s3: IamPrincipal = { kind: 'service', service: 's3.amazonaws.com' };
const events: IamPrincipal = { kind: 'service', service: 'events.amazonaws.com' };

function decide(request: AuthorizationRequest) {
  return policies.authorize(request);
}

describe('roles', () => {
  it('lists the roles, each with its local name and ARN', () => {
    expect(policies.roles()).toEqual([
      {
        kind: 'role',
        logicalId: 'HandlerRole',
        roleName: 'HandlerRole',
        arn: `arn:aws:iam::${ACCOUNT}:role/HandlerRole`,
      },
    ]);
    expect(handler).toEqual(policies.roles()[0]);
  });

  it('refuses to name the role of what is not a function of the template', () => {
    expect(() => policies.roleForFunction('Missing')).toThrow(RoleNotFoundError);
    expect(() => policies.roleForFunction('HandlerRole')).toThrow(
      /HandlerRole is not an AWS::Lambda::Function of the template/,
    );
    expect(() => policies.roleForStateMachine('Handler')).toThrow(RoleNotFoundError);
  });
});

describe('identity policies', () => {
  it.each([
    ['an action granted on the table', 'dynamodb:UpdateItem', TABLE_ARN, true],
    ['an action granted, spelled in another case', 'DynamoDB:getitem', TABLE_ARN, true],
    ['an action not granted on the table', 'dynamodb:PutItem', TABLE_ARN, false],
    ['a table with no grant', 'dynamodb:GetItem', `${TABLE_ARN}x`, false],
    [
      'an index of the table (not the table)',
      'dynamodb:Query',
      `${TABLE_ARN}/index/byOwner`,
      false,
    ],
    ['an object under the granted prefix', 's3:PutObject', `${BUCKET_ARN}/images/a.png`, true],
    ['the bucket itself (the grant is on its objects)', 's3:ListBucket', BUCKET_ARN, false],
  ])('%s: %s', (_, action, resource, allowed) => {
    expect(decide({ principal: handler, action, resource }).allowed).toBe(allowed);
  });

  it('names the statement that allowed', () => {
    expect(decide({ principal: handler, action: 'dynamodb:GetItem', resource: TABLE_ARN })).toEqual(
      {
        allowed: true,
        reason: 'allowed',
        statement: { policy: 'HandlerRolePolicy', index: 0 },
      },
    );
  });

  it('answers an implicit deny, with no statement, when nothing allows', () => {
    expect(decide({ principal: handler, action: 'dynamodb:PutItem', resource: TABLE_ARN })).toEqual(
      {
        allowed: false,
        reason: 'implicit-deny',
      },
    );
  });
});

describe('explicit deny', () => {
  it('wins over an allow in the same policy', () => {
    // dynamodb:* on Other allows DeleteItem; the NoDeletes statement denies it.
    expect(
      decide({ principal: handler, action: 'dynamodb:PutItem', resource: OTHER_TABLE_ARN }).allowed,
    ).toBe(true);
    expect(
      decide({ principal: handler, action: 'dynamodb:DeleteItem', resource: OTHER_TABLE_ARN }),
    ).toEqual({
      allowed: false,
      reason: 'explicit-deny',
      statement: { policy: 'HandlerRolePolicy', index: 1, sid: 'NoDeletes' },
    });
  });

  it('in a resource policy wins over an identity allow', () => {
    const resource = `${BUCKET_ARN}/reports/r.json`;
    expect(decide({ principal: handler, action: 's3:PutObject', resource }).allowed).toBe(true);
    expect(decide({ principal: handler, action: 's3:DeleteObject', resource })).toEqual({
      allowed: false,
      reason: 'explicit-deny',
      statement: { policy: 'BucketPolicy', index: 1, sid: 'KeepReports' },
    });
  });

  it('in a resource policy binds the administrator too', () => {
    const resource = `${BUCKET_ARN}/reports/r.json`;
    expect(decide({ principal: ADMINISTRATOR, action: 's3:DeleteObject', resource }).reason).toBe(
      'explicit-deny',
    );
  });

  it('applies only to the resource its policy is attached to', () => {
    // The bucket policy's deny of s3:* without TLS does not reach the queue.
    const context = { 'aws:SecureTransport': false };
    expect(
      decide({ principal: ADMINISTRATOR, action: 'sqs:SendMessage', resource: QUEUE_ARN, context })
        .allowed,
    ).toBe(true);
    expect(
      decide({
        principal: ADMINISTRATOR,
        action: 's3:GetObject',
        resource: `${BUCKET_ARN}/a`,
        context,
      }).reason,
    ).toBe('explicit-deny');
  });
});

describe('aws:SecureTransport', () => {
  it('is true unless the request says otherwise, so enforce-TLS denies do not refuse local calls', () => {
    const request = {
      principal: handler,
      action: 's3:GetObject',
      resource: `${BUCKET_ARN}/images/a.png`,
    };
    expect(decide(request).allowed).toBe(true);
    expect(decide({ ...request, context: { 'aws:SecureTransport': false } })).toMatchObject({
      allowed: false,
      reason: 'explicit-deny',
      statement: { policy: 'BucketPolicy', index: 0 },
    });
  });
});

describe('service principals', () => {
  const invoke = { principal: s3, action: 'lambda:InvokeFunction', resource: FUNCTION_ARN };

  it('may invoke a function whose permission names the service, its source ARN and account', () => {
    expect(
      decide({ ...invoke, context: { 'aws:SourceArn': BUCKET_ARN, 'aws:SourceAccount': ACCOUNT } }),
    ).toEqual({
      allowed: true,
      reason: 'allowed',
      statement: { policy: 'BucketInvokesHandler', index: 0 },
    });
  });

  it.each([
    ['another source', { 'aws:SourceArn': 'arn:aws:s3:::elsewhere', 'aws:SourceAccount': ACCOUNT }],
    ['another account', { 'aws:SourceArn': BUCKET_ARN, 'aws:SourceAccount': '111111111111' }],
    ['no source named', { 'aws:SourceAccount': ACCOUNT }],
  ])('may not invoke it for %s', (_, context) => {
    expect(decide({ ...invoke, context })).toEqual({ allowed: false, reason: 'implicit-deny' });
  });

  it('may not invoke it as another service, nor invoke another function', () => {
    const context = { 'aws:SourceArn': BUCKET_ARN, 'aws:SourceAccount': ACCOUNT };
    expect(decide({ ...invoke, principal: events, context }).allowed).toBe(false);
    expect(decide({ ...invoke, resource: `${FUNCTION_ARN}2`, context }).allowed).toBe(false);
    expect(decide({ ...invoke, action: 'lambda:GetFunction', context }).allowed).toBe(false);
  });

  it('is allowed by a queue policy naming it, for the source it names', () => {
    const send = { principal: events, action: 'sqs:SendMessage', resource: QUEUE_ARN };
    expect(decide({ ...send, context: { 'aws:SourceArn': RULE_ARN } })).toMatchObject({
      allowed: true,
      statement: { policy: 'QueuePolicy', sid: 'RuleDeadLetters' },
    });
    expect(decide({ ...send, context: { 'aws:SourceArn': `${RULE_ARN}2` } }).allowed).toBe(false);
  });

  it('gets nothing from identity policies: a service is not a role', () => {
    const service: IamPrincipal = { kind: 'service', service: 'lambda.amazonaws.com' };
    expect(
      decide({ principal: service, action: 'dynamodb:GetItem', resource: TABLE_ARN }).allowed,
    ).toBe(false);
  });
});

describe('resource policies naming a role', () => {
  it('allow that role what its identity policies do not', () => {
    expect(
      decide({ principal: handler, action: 'sqs:ReceiveMessage', resource: QUEUE_ARN }),
    ).toMatchObject({
      allowed: true,
      statement: { policy: 'QueuePolicy', sid: 'HandlerReads' },
    });
    expect(
      decide({ principal: handler, action: 'sqs:SendMessage', resource: QUEUE_ARN }).allowed,
    ).toBe(false);
  });
});

describe('the administrator', () => {
  it('may do anything no resource policy denies', () => {
    expect(
      decide({ principal: ADMINISTRATOR, action: 'dynamodb:DeleteTable', resource: TABLE_ARN })
        .allowed,
    ).toBe(true);
    expect(
      decide({ principal: ADMINISTRATOR, action: 'xray:PutTraceSegments', resource: '*' }).allowed,
    ).toBe(true);
  });

  it('may read a role: its trust policy decides who assumes it, nothing else', () => {
    expect(
      decide({ principal: ADMINISTRATOR, action: 'iam:GetRole', resource: handler.arn }).allowed,
    ).toBe(true);
  });

  it('may not assume a role whose trust policy names only a service', () => {
    const assume = { principal: ADMINISTRATOR, action: 'sts:AssumeRole', resource: handler.arn };
    expect(decide(assume).allowed).toBe(false);
    const lambda: IamPrincipal = { kind: 'service', service: 'lambda.amazonaws.com' };
    expect(decide({ ...assume, principal: lambda })).toMatchObject({
      allowed: true,
      statement: { policy: 'HandlerRole.AssumeRolePolicyDocument' },
    });
  });
});

describe('key policies', () => {
  const KEY_ARN = `arn:aws:kms:${REGION}:${ACCOUNT}:key/Key`;
  const keyTemplate = (keyPolicy: unknown, grant: boolean) =>
    template({
      Key: {
        Type: 'AWS::KMS::Key',
        Properties: keyPolicy === undefined ? {} : { KeyPolicy: keyPolicy },
      },
      KeyUserRole: {
        Type: 'AWS::IAM::Role',
        Properties: { AssumeRolePolicyDocument: lambdaTrust },
      },
      ...(grant && {
        KeyUserPolicy: {
          Type: 'AWS::IAM::Policy',
          Properties: {
            PolicyName: 'KeyUserPolicy',
            Roles: [{ Ref: 'KeyUserRole' }],
            PolicyDocument: {
              Statement: [
                {
                  Effect: 'Allow',
                  Action: 'kms:Decrypt',
                  Resource: { 'Fn::GetAtt': ['Key', 'Arn'] },
                },
              ],
            },
          },
        },
      }),
    });
  const decrypt = (set: PolicySet, principal: IamPrincipal) =>
    set.authorize({ principal, action: 'kms:Decrypt', resource: KEY_ARN }).allowed;
  const roleArn = `arn:aws:iam::${ACCOUNT}:role/KeyUserRole`;
  const keyUser: IamPrincipal = {
    kind: 'role',
    logicalId: 'KeyUserRole',
    roleName: 'KeyUserRole',
    arn: roleArn,
  };
  const cloudwatch: IamPrincipal = { kind: 'service', service: 'cloudwatch.amazonaws.com' };
  const cloudwatchMayDecrypt = {
    Effect: 'Allow',
    Principal: { Service: 'cloudwatch.amazonaws.com' },
    Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
    Resource: '*',
  };

  it('let identity policies decide when they name the account (as the default key policy does)', () => {
    expect(decrypt(PolicySet.fromTemplate(keyTemplate(undefined, true)), keyUser)).toBe(true);
    expect(decrypt(PolicySet.fromTemplate(keyTemplate(undefined, false)), keyUser)).toBe(false);
    // The administrator is the account.
    expect(decrypt(PolicySet.fromTemplate(keyTemplate(undefined, false)), ADMINISTRATOR)).toBe(
      true,
    );
  });

  it('make identity policies count for nothing when they do not name the account', () => {
    const set = PolicySet.fromTemplate(keyTemplate({ Statement: [cloudwatchMayDecrypt] }, true));
    expect(decrypt(set, keyUser)).toBe(false);
    expect(decrypt(set, ADMINISTRATOR)).toBe(false);
    expect(decrypt(set, cloudwatch)).toBe(true);
  });
});

describe('managed policies', () => {
  const managedArn = (name: string) => ({
    'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:iam::aws:policy/service-role/${name}`]],
  });
  const withManaged = (name: string) =>
    template({
      HelperRole: {
        Type: 'AWS::IAM::Role',
        Properties: {
          AssumeRolePolicyDocument: lambdaTrust,
          ManagedPolicyArns: [managedArn(name)],
        },
      },
    });
  const helper: IamPrincipal = {
    kind: 'role',
    logicalId: 'HelperRole',
    roleName: 'HelperRole',
    arn: `arn:aws:iam::${ACCOUNT}:role/HelperRole`,
  };

  it('grant what AWS publishes for them', () => {
    const set = PolicySet.fromTemplate(withManaged('AWSLambdaBasicExecutionRole'));
    const logs = `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/lambda/helper:*`;
    expect(
      set.authorize({ principal: helper, action: 'logs:PutLogEvents', resource: logs }),
    ).toMatchObject({
      allowed: true,
      statement: { policy: 'AWSLambdaBasicExecutionRole' },
    });
    expect(
      set.authorize({ principal: helper, action: 'logs:DeleteLogGroup', resource: logs }).allowed,
    ).toBe(false);
    expect(
      set.authorize({ principal: helper, action: 's3:GetObject', resource: `${BUCKET_ARN}/a` })
        .allowed,
    ).toBe(false);
  });

  it('are refused when the evaluator does not know them', () => {
    expect(() => PolicySet.fromTemplate(withManaged('AdministratorAccess'))).toThrow(
      /Policy HelperRole: ManagedPolicyArns names arn:aws:iam::aws:policy\/service-role\/AdministratorAccess, a managed policy the evaluator does not know/,
    );
  });
});

describe('requests the evaluator refuses to answer', () => {
  it.each<[string, AuthorizationRequest, RegExp]>([
    [
      'an action with a wildcard',
      { principal: handler, action: 's3:Get*', resource: BUCKET_ARN },
      /not an action/,
    ],
    [
      'a resource that is not an ARN',
      { principal: handler, action: 's3:GetObject', resource: 'bucket/key' },
      /neither \* nor an ARN/,
    ],
    [
      'a role not in the template',
      {
        principal: { ...handler, arn: `arn:aws:iam::${ACCOUNT}:role/Nobody` },
        action: 's3:GetObject',
        resource: BUCKET_ARN,
      },
      /is not a role of the stack/,
    ],
    [
      'an unknown condition key',
      {
        principal: handler,
        action: 's3:GetObject',
        resource: BUCKET_ARN,
        context: { 's3:prefix': 'a' },
      },
      /s3:prefix is not a condition key/,
    ],
    [
      'a boolean key given as text',
      {
        principal: handler,
        action: 's3:GetObject',
        resource: BUCKET_ARN,
        context: { 'aws:SecureTransport': 'true' },
      },
      /takes true or false/,
    ],
    [
      'a single-valued key given a list',
      {
        principal: handler,
        action: 's3:GetObject',
        resource: BUCKET_ARN,
        context: { 'aws:SourceArn': [BUCKET_ARN] },
      },
      /takes one string/,
    ],
    [
      'a service that is not one',
      {
        principal: { kind: 'service', service: 's3' },
        action: 's3:GetObject',
        resource: BUCKET_ARN,
      },
      /not a service principal/,
    ],
  ])('%s', (_, request, message) => {
    expect(() => decide(request)).toThrow(InvalidAuthorizationRequestError);
    expect(() => decide(request)).toThrow(message);
  });
});

describe('templates the evaluator refuses at load', () => {
  const withPolicyStatement = (statement: Record<string, unknown>) =>
    template({
      HandlerRolePolicy: {
        Type: 'AWS::IAM::Policy',
        Properties: {
          PolicyName: 'HandlerRolePolicy',
          Roles: [{ Ref: 'HandlerRole' }],
          PolicyDocument: { Version: '2012-10-17', Statement: [{ Sid: 'Probe', ...statement }] },
        },
      },
    });
  const allowGet = { Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: TABLE_ARN };

  it.each<[string, CfnTemplate, string, RegExp]>([
    [
      'an unknown statement element',
      withPolicyStatement({ ...allowGet, NotPrincipal: { AWS: ACCOUNT } }),
      'NotPrincipal',
      /^Policy HandlerRolePolicy, statement 0 \(Probe\): NotPrincipal is not a statement element/,
    ],
    [
      'an unknown condition operator',
      withPolicyStatement({
        ...allowGet,
        Condition: { DateLessThan: { 'aws:SourceAccount': '2030-01-01' } },
      }),
      'Condition.DateLessThan',
      /statement 0 \(Probe\): Condition.DateLessThan is not an operator the evaluator knows/,
    ],
    [
      'an unknown condition key',
      withPolicyStatement({
        ...allowGet,
        Condition: { StringEquals: { 'dynamodb:Select': 'COUNT' } },
      }),
      'Condition.StringEquals.dynamodb:Select',
      /condition key the evaluator does not know/,
    ],
    [
      'an Effect other than Allow or Deny',
      withPolicyStatement({ ...allowGet, Effect: 'Audit' }),
      'Effect',
      /must be Allow or Deny/,
    ],
    [
      'Action beside NotAction',
      withPolicyStatement({ ...allowGet, NotAction: 's3:*' }),
      'NotAction',
      /cannot stand beside Action/,
    ],
    [
      'a resource that is not an ARN',
      withPolicyStatement({ ...allowGet, Resource: 'Table' }),
      'Resource',
      /neither \* nor an ARN/,
    ],
    [
      'a principal in an identity policy',
      withPolicyStatement({ ...allowGet, Principal: '*' }),
      'Principal',
      /no place in an identity policy/,
    ],
    [
      'a policy variable in a resource',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable, as written in a policy
      withPolicyStatement({ ...allowGet, Resource: 'arn:aws:s3:::bucket/${aws:userid}/*' }),
      'Resource',
      /policy variable/,
    ],
    [
      'a federated principal in a resource policy',
      template({
        BucketPolicy: {
          Type: 'AWS::S3::BucketPolicy',
          Properties: {
            Bucket: { Ref: 'Bucket' },
            PolicyDocument: {
              Statement: [
                {
                  Effect: 'Allow',
                  Principal: { Federated: 'cognito-identity.amazonaws.com' },
                  Action: 's3:GetObject',
                  Resource: `${BUCKET_ARN}/*`,
                },
              ],
            },
          },
        },
      }),
      'Principal.Federated',
      /^Policy BucketPolicy, statement 0: Principal.Federated is not a kind of principal/,
    ],
    [
      'a principal naming a user',
      template({
        BucketPolicy: {
          Type: 'AWS::S3::BucketPolicy',
          Properties: {
            Bucket: { Ref: 'Bucket' },
            PolicyDocument: {
              Statement: [
                {
                  Effect: 'Deny',
                  Principal: { AWS: `arn:aws:iam::${ACCOUNT}:user/alice` },
                  Action: 's3:*',
                  Resource: `${BUCKET_ARN}/*`,
                },
              ],
            },
          },
        },
      }),
      'Principal.AWS',
      /only \*, an account or a role can be named/,
    ],
    [
      'a permissions boundary on a role',
      template({
        HandlerRole: {
          Type: 'AWS::IAM::Role',
          Properties: {
            AssumeRolePolicyDocument: lambdaTrust,
            PermissionsBoundary: 'arn:aws:iam::aws:policy/PowerUserAccess',
          },
        },
      }),
      'AWS::IAM::Role.PermissionsBoundary',
      /^Policy HandlerRole: AWS::IAM::Role.PermissionsBoundary is not a role property/,
    ],
    [
      'a customer-managed policy',
      template({ Managed: { Type: 'AWS::IAM::ManagedPolicy', Properties: {} } }),
      'AWS::IAM::ManagedPolicy',
      /carries policies the evaluator does not read/,
    ],
    [
      'a policy attached to a user',
      template({
        HandlerRolePolicy: {
          Type: 'AWS::IAM::Policy',
          Properties: {
            PolicyName: 'P',
            Users: ['alice'],
            PolicyDocument: { Statement: [allowGet] },
          },
        },
      }),
      'AWS::IAM::Policy.Users',
      /not a property the evaluator knows/,
    ],
    [
      'a policy attached to a role not in the template',
      template({
        HandlerRolePolicy: {
          Type: 'AWS::IAM::Policy',
          Properties: {
            PolicyName: 'P',
            Roles: ['imported-role'],
            PolicyDocument: { Statement: [allowGet] },
          },
        },
      }),
      'Roles',
      /names imported-role, which is not a role of the template/,
    ],
    [
      'a table resource policy',
      template({
        Table: {
          Type: 'AWS::DynamoDB::GlobalTable',
          Properties: { Replicas: [{ Region: REGION, ResourcePolicy: {} }] },
        },
      }),
      'AWS::DynamoDB::GlobalTable.Replicas.ResourcePolicy',
      /is a policy the evaluator does not read/,
    ],
    [
      'a Lambda permission with a property it does not translate',
      template({
        BucketInvokesHandler: {
          Type: 'AWS::Lambda::Permission',
          Properties: {
            Action: 'lambda:InvokeFunction',
            FunctionName: 'Handler',
            Principal: '*',
            FunctionUrlAuthType: 'NONE',
          },
        },
      }),
      'AWS::Lambda::Permission.FunctionUrlAuthType',
      /not a property the evaluator knows/,
    ],
    [
      'an intrinsic it cannot resolve',
      withPolicyStatement({ ...allowGet, Resource: { 'Fn::Sub': 'arn:aws:s3:::bucket/*' } }),
      'PolicyDocument',
      /Policy HandlerRolePolicy: PolicyDocument cannot be resolved: Fn::Sub is not supported/,
    ],
  ])('%s', (_, refused, element, message) => {
    let thrown: unknown;
    try {
      PolicySet.fromTemplate(refused);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(UnsupportedPolicyError);
    expect((thrown as UnsupportedPolicyError).element).toBe(element);
    expect((thrown as Error).message).toMatch(message);
  });
});
