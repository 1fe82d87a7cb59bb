/**
 * What the first deploy of the stack needs from an account, and what two stacks in one account
 * share: the template under the configurations that change it. Synthesized without bundling (the
 * bundling-stacks context) and without cdk-nag, which stack.test.ts runs over the default one.
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import {
  loadStackName,
  parseStackConfig,
  StackConfigError,
  type StackConfigInput,
} from '../../infra/config.ts';
import { SparkT2iStack } from '../../infra/stack.ts';

function templateOf(config: StackConfigInput = {}, stackName = 'SparkT2i'): Template {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new SparkT2iStack(app, stackName, { config: parseStackConfig(config) });
  return Template.fromStack(stack);
}

/** Reserved concurrency of each function that has any, by the start of its logical id. */
function reservations(template: Template): Record<string, number> {
  return Object.fromEntries(
    Object.entries(template.findResources('AWS::Lambda::Function'))
      .filter(([, fn]) => fn.Properties.ReservedConcurrentExecutions !== undefined)
      .map(([id, fn]) => [
        id.replace(/[0-9A-F]{8}$/, ''),
        fn.Properties.ReservedConcurrentExecutions as number,
      ]),
  );
}

describe('reserved concurrency', () => {
  it('reserves 5 for the prompt-file function and 2 for the reconciler by default, nothing else', () => {
    expect(reservations(templateOf())).toEqual({
      TriggersPromptFile: 5,
      ReconcilerFunction: 2,
    });
  });

  it('reserves nothing when the config says 0, for accounts with a small concurrency quota', () => {
    expect(
      reservations(templateOf({ reservedConcurrency: { promptFile: 0, reconciler: 0 } })),
    ).toEqual({});
    expect(reservations(templateOf({ reservedConcurrency: { reconciler: 0 } }))).toEqual({
      TriggersPromptFile: 5,
    });
  });

  it('takes another reservation as configured', () => {
    expect(reservations(templateOf({ reservedConcurrency: { promptFile: 20 } }))).toEqual({
      TriggersPromptFile: 20,
      ReconcilerFunction: 2,
    });
  });
});

/** Properties that set a resource's physical name, which its account and region share. */
const PHYSICAL_NAMES: Record<string, string> = {
  'AWS::StepFunctions::StateMachine': 'StateMachineName',
  'AWS::Logs::LogGroup': 'LogGroupName',
  'AWS::SecretsManager::Secret': 'Name',
  'AWS::Events::EventBus': 'Name',
  'AWS::SNS::Topic': 'TopicName',
  'AWS::SQS::Queue': 'QueueName',
  'AWS::Lambda::Function': 'FunctionName',
  'AWS::DynamoDB::GlobalTable': 'TableName',
  'AWS::S3::Bucket': 'BucketName',
  'AWS::IAM::Role': 'RoleName',
  'AWS::KMS::Alias': 'AliasName',
  'AWS::Scheduler::Schedule': 'Name',
  'AWS::ApiGateway::RestApi': 'Name',
};

/** Every physical name the template sets itself (those CloudFormation generates are unique). */
function physicalNames(template: Template): string[] {
  const resources = template.toJSON().Resources as Record<
    string,
    { Type: string; Properties?: Record<string, unknown> }
  >;
  return Object.values(resources).flatMap((resource) => {
    const property = PHYSICAL_NAMES[resource.Type];
    const value = property === undefined ? undefined : resource.Properties?.[property];
    return value === undefined ? [] : [`${resource.Type} ${JSON.stringify(value)}`];
  });
}

describe('two stacks in one account and region', () => {
  it('share no physical name: each is derived from its stack name', () => {
    const production = physicalNames(templateOf({}, 'SparkT2i'));
    const staging = physicalNames(templateOf({}, 'SparkT2i-staging'));

    expect(production.length).toBeGreaterThan(0);
    expect(production.filter((name) => staging.includes(name))).toEqual([]);
    expect(staging).toEqual(
      expect.arrayContaining([
        'AWS::StepFunctions::StateMachine "SparkT2i-staging-generation"',
        'AWS::SecretsManager::Secret "SparkT2i-staging/spark-api-key"',
        'AWS::Logs::LogGroup "/aws/vendedlogs/states/SparkT2i-staging-generation"',
        'AWS::ApiGateway::RestApi "SparkT2i-staging-api"',
      ]),
    );
  });

  it('keep a secret name the config gives', () => {
    expect(
      physicalNames(templateOf({ spark: { apiKeySecretName: 'shared/spark-key' } })),
    ).toContain('AWS::SecretsManager::Secret "shared/spark-key"');
  });

  it('take their name from the stackName context key, refusing one no stack can have', () => {
    expect(loadStackName(() => undefined)).toBe('SparkT2i');
    expect(loadStackName((key) => (key === 'stackName' ? 'SparkT2i-staging' : undefined))).toBe(
      'SparkT2i-staging',
    );
    for (const bad of ['1st', 'spark_t2i', 'a'.repeat(70), 42]) {
      expect(() => loadStackName(() => bad)).toThrow(StackConfigError);
    }
  });
});
