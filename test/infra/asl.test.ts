/**
 * The resolver that turns the synthesized template's state machine into concrete ASL: the
 * intrinsics CDK writes into a DefinitionString, on small hand-made templates.
 */
import { describe, expect, it } from 'vitest';
import {
  type CfnTemplate,
  extractStateMachineDefinition,
  resolveIntrinsics,
} from '../../infra/asl.ts';

const template: CfnTemplate = {
  Resources: {
    CreateTaskFn: { Type: 'AWS::Lambda::Function' },
    Generations: { Type: 'AWS::DynamoDB::Table' },
    Images: { Type: 'AWS::S3::Bucket' },
    Bus: { Type: 'AWS::Events::EventBus' },
    SparkKey: { Type: 'AWS::SecretsManager::Secret' },
    Dlq: { Type: 'AWS::SQS::Queue' },
    Topic: { Type: 'AWS::SNS::Topic' },
    FnRole: { Type: 'AWS::IAM::Role' },
    NamedRole: { Type: 'AWS::IAM::Role', Properties: { RoleName: 'spark-t2i-runner' } },
    StackNamedRole: {
      Type: 'AWS::IAM::Role',
      Properties: { RoleName: { 'Fn::Join': ['-', [{ Ref: 'AWS::StackName' }, 'runner']] } },
    },
    FnLogs: { Type: 'AWS::Logs::LogGroup' },
    Sweep: { Type: 'AWS::Events::Rule' },
    BusRule: { Type: 'AWS::Events::Rule', Properties: { EventBusName: { Ref: 'Bus' } } },
    Key: { Type: 'AWS::KMS::Key' },
    Stage: { Type: 'AWS::ApiGateway::Stage', Properties: { StageName: 'v1' } },
    Api: { Type: 'AWS::ApiGateway::RestApi' },
    Machine: {
      Type: 'AWS::StepFunctions::StateMachine',
      Properties: {
        DefinitionString: {
          'Fn::Join': [
            '',
            [
              '{"StartAt":"CreateTask","States":{"CreateTask":{"Type":"Task","Resource":"',
              { 'Fn::GetAtt': ['CreateTaskFn', 'Arn'] },
              '","Parameters":{"TableName":"',
              { Ref: 'Generations' },
              '"},"End":true}}}',
            ],
          ],
        },
      },
    },
  },
};

describe('resolveIntrinsics', () => {
  it.each([
    ['a table', 'Generations', 'Generations'],
    ['a bucket, lower-cased as bucket names must be', 'Images', 'images'],
    ['a function', 'CreateTaskFn', 'CreateTaskFn'],
    [
      'a secret, as its ARN',
      'SparkKey',
      'arn:aws:secretsmanager:us-east-1:000000000000:secret:SparkKey',
    ],
    ['a queue, as its URL', 'Dlq', 'https://sqs.us-east-1.amazonaws.com/000000000000/Dlq'],
    [
      'a state machine, as its ARN',
      'Machine',
      'arn:aws:states:us-east-1:000000000000:stateMachine:Machine',
    ],
    ['the partition', 'AWS::Partition', 'aws'],
    ['the region', 'AWS::Region', 'us-east-1'],
    ['the account', 'AWS::AccountId', '000000000000'],
    ['a topic, as its ARN', 'Topic', 'arn:aws:sns:us-east-1:000000000000:Topic'],
    ['a role, as its name', 'FnRole', 'FnRole'],
    ['a role whose name the template fixes', 'NamedRole', 'spark-t2i-runner'],
    ['a role named after the stack', 'StackNamedRole', 'SparkT2i-runner'],
    ['a key, as its id', 'Key', 'Key'],
    ['a stage, as its name', 'Stage', 'v1'],
  ])('resolves Ref of %s', (_, name, expected) => {
    expect(resolveIntrinsics({ Ref: name }, template)).toBe(expected);
  });

  it.each([
    [
      'a function',
      ['CreateTaskFn', 'Arn'],
      'arn:aws:lambda:eu-west-3:123456789012:function:CreateTaskFn',
    ],
    [
      'a table',
      ['Generations', 'Arn'],
      'arn:aws:dynamodb:eu-west-3:123456789012:table/Generations',
    ],
    ['a bus', 'Bus.Arn', 'arn:aws:events:eu-west-3:123456789012:event-bus/Bus'],
    ['a bucket', ['Images', 'Arn'], 'arn:aws:s3:::images'],
    ['a queue name', ['Dlq', 'QueueName'], 'Dlq'],
    ['a queue URL', ['Dlq', 'QueueUrl'], 'https://sqs.eu-west-3.amazonaws.com/123456789012/Dlq'],
    ['a role, with no region', ['FnRole', 'Arn'], 'arn:aws:iam::123456789012:role/FnRole'],
    [
      'a role whose name the template fixes',
      ['NamedRole', 'Arn'],
      'arn:aws:iam::123456789012:role/spark-t2i-runner',
    ],
    [
      'a log group, with its streams',
      ['FnLogs', 'Arn'],
      'arn:aws:logs:eu-west-3:123456789012:log-group:FnLogs:*',
    ],
    ['a rule', ['Sweep', 'Arn'], 'arn:aws:events:eu-west-3:123456789012:rule/Sweep'],
    ['a topic', ['Topic', 'TopicArn'], 'arn:aws:sns:eu-west-3:123456789012:Topic'],
    ['a key', ['Key', 'Arn'], 'arn:aws:kms:eu-west-3:123456789012:key/Key'],
  ])('resolves Fn::GetAtt of %s in the region and account asked for', (_, argument, expected) => {
    expect(
      resolveIntrinsics({ 'Fn::GetAtt': argument }, template, {
        region: 'eu-west-3',
        accountId: '123456789012',
      }),
    ).toBe(expected);
  });

  it('joins resolved parts, nested in Fn::Join, objects and arrays', () => {
    const value = {
      Resource: {
        'Fn::Join': [
          ':',
          [
            'arn',
            { Ref: 'AWS::Partition' },
            { 'Fn::Join': ['/', [{ Ref: 'Generations' }, 'index', 'byOwner']] },
          ],
        ],
      },
      List: [{ Ref: 'Images' }, 7, null, { Nested: { 'Fn::GetAtt': ['Bus', 'Arn'] } }],
    };
    expect(resolveIntrinsics(value, template)).toEqual({
      Resource: 'arn:aws:Generations/index/byOwner',
      List: ['images', 7, null, { Nested: 'arn:aws:events:us-east-1:000000000000:event-bus/Bus' }],
    });
  });

  it('names a rule on another bus under that bus, as EventBridge does', () => {
    expect(resolveIntrinsics({ 'Fn::GetAtt': ['BusRule', 'Arn'] }, template)).toBe(
      'arn:aws:events:us-east-1:000000000000:rule/Bus/BusRule',
    );
  });

  it('selects from a split, as CDK names an execution ARN after its state machine', () => {
    const executions = {
      'Fn::Join': [
        '',
        [
          'arn:aws:states:us-east-1:000000000000:execution:',
          { 'Fn::Select': [6, { 'Fn::Split': [':', { Ref: 'Machine' }] }] },
          ':*',
        ],
      ],
    };
    expect(resolveIntrinsics(executions, template)).toBe(
      'arn:aws:states:us-east-1:000000000000:execution:Machine:*',
    );
  });

  it.each([
    [{ 'Fn::Sub': 'arn:aws:s3:::x' }, /Fn::Sub is not supported/],
    [{ 'Fn::Join': ['', [{ 'Fn::If': ['C', 'a', 'b'] }]] }, /Fn::If is not supported/],
    [{ 'Fn::Select': [3, ['a']] }, /Fn::Select index 3 is beyond a list of 1/],
    [{ 'Fn::Select': [0, 'a'] }, /Fn::Select takes \[index, \[list\]\]/],
    [{ 'Fn::Split': [':', ['a']] }, /Fn::Split takes \[separator, string\]/],
    [{ 'Fn::ImportValue': 'Shared-Bus' }, /Fn::ImportValue is not supported/],
    [{ 'Fn::Join': ['', 'not a list'] }, /Fn::Join takes \[separator, \[parts\]\]/],
    [{ Ref: 'Missing' }, /Ref to unknown resource Missing/],
    [{ 'Fn::GetAtt': ['Missing', 'Arn'] }, /Fn::GetAtt of unknown resource Missing/],
    [
      { 'Fn::GetAtt': ['Generations', 'StreamArn'] },
      /Fn::GetAtt Generations.StreamArn is not supported/,
    ],
    [{ 'Fn::GetAtt': ['Api', 'Arn'] }, /No ARN shape for AWS::ApiGateway::RestApi \(Api\)/],
  ])('refuses what it cannot resolve with a clear error: %o', (value, message) => {
    expect(() => resolveIntrinsics(value, template)).toThrow(message);
  });

  it('leaves objects with more than one key, and plain values, as they are', () => {
    const value = { Ref: 'Generations', Other: 1 };
    expect(resolveIntrinsics(value, template)).toEqual({ Ref: 'Generations', Other: 1 });
    expect(resolveIntrinsics('text', template)).toBe('text');
  });
});

describe('extractStateMachineDefinition', () => {
  it('answers the concrete ASL of the one state machine in the template', () => {
    expect(extractStateMachineDefinition(template)).toEqual({
      StartAt: 'CreateTask',
      States: {
        CreateTask: {
          Type: 'Task',
          Resource: 'arn:aws:lambda:us-east-1:000000000000:function:CreateTaskFn',
          Parameters: { TableName: 'Generations' },
          End: true,
        },
      },
    });
  });

  it('reads a Definition object as well as a DefinitionString', () => {
    const withObject: CfnTemplate = {
      Resources: {
        ...template.Resources,
        Machine: {
          Type: 'AWS::StepFunctions::StateMachine',
          Properties: {
            Definition: {
              StartAt: 'Done',
              States: { Done: { Type: 'Pass', Result: { Ref: 'Bus' }, End: true } },
            },
          },
        },
      },
    };
    expect(extractStateMachineDefinition(withObject)).toMatchObject({
      States: { Done: { Result: 'Bus' } },
    });
  });

  it('refuses a template with no state machine, or several when none is named', () => {
    expect(() => extractStateMachineDefinition({ Resources: {} })).toThrow(
      /Expected one state machine in the template, found 0/,
    );
    const two: CfnTemplate = {
      Resources: { ...template.Resources, Other: template.Resources.Machine as never },
    };
    expect(() => extractStateMachineDefinition(two)).toThrow(/found 2/);
    expect(extractStateMachineDefinition(two, 'Other')).toHaveProperty('StartAt', 'CreateTask');
  });
});
