/**
 * The evaluator over the stack's own synthesized template: it reads every policy the stack has,
 * each function's role is allowed the calls its code makes and nothing beside them, the state
 * machine and the scheduler act within their roles, services reach functions and queues only
 * through the resource policies naming them, and a policy using something the evaluator does not
 * know is refused at load.
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { UnsupportedPolicyError } from '#local/iam/errors.ts';
import {
  ADMINISTRATOR,
  type AuthorizationRequest,
  type ContextValue,
  type IamPrincipal,
  PolicySet,
  type RolePrincipal,
} from '#local/iam/policy-set.ts';
import { type CfnTemplate, resolveIntrinsics } from '../../../../infra/asl.ts';
import { parseStackConfig } from '../../../../infra/config.ts';
import { SparkT2iStack } from '../../../../infra/stack.ts';

const ACCOUNT = '000000000000';
const REGION = 'us-east-1';

let template: CfnTemplate;
let policies: PolicySet;

beforeAll(() => {
  // The deployed stack with a schedule, synthesized in-process; the bundling-stacks context skips
  // esbuild.
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const config = parseStackConfig({
    schedules: [{ name: 'nightly', expression: 'cron(0 2 * * ? *)', request: { prompt: 'a sky' } }],
  });
  const stack = new SparkT2iStack(app, 'SparkT2i', { config });
  template = Template.fromStack(stack).toJSON() as CfnTemplate;
  policies = PolicySet.fromTemplate(template);
});

/** The logical id of the one resource of this type whose id starts with `prefix`. */
function logicalId(type: string, prefix: string): string {
  const ids = Object.entries(template.Resources)
    .filter(([id, resource]) => resource.Type === type && id.startsWith(prefix))
    .map(([id]) => id);
  expect(ids, `${type} ${prefix}*`).toHaveLength(1);
  return ids[0] as string;
}

function arnOf(type: string, prefix: string): string {
  return String(resolveIntrinsics({ 'Fn::GetAtt': [logicalId(type, prefix), 'Arn'] }, template));
}

const TABLE = 'AWS::DynamoDB::GlobalTable';
const BUCKET = 'AWS::S3::Bucket';
const FUNCTION = 'AWS::Lambda::Function';
const table = (prefix: string) => arnOf(TABLE, `Storage${prefix}`);
const bucket = (prefix: string) => arnOf(BUCKET, `Storage${prefix}`);
const lambda = (prefix: string) => arnOf(FUNCTION, prefix);
const roleOf = (functionPrefix: string) =>
  policies.roleForFunction(logicalId(FUNCTION, functionPrefix));
const stateMachineArn = () => arnOf('AWS::StepFunctions::StateMachine', 'WorkflowStateMachine');
const execution = (name: string) =>
  `${stateMachineArn().replace(':stateMachine:', ':execution:')}:${name}`;

function decide(
  principal: IamPrincipal,
  action: string,
  resource: string,
  context?: Record<string, ContextValue>,
) {
  const request: AuthorizationRequest = {
    principal,
    action,
    resource,
    ...(context && { context }),
  };
  return policies.authorize(request);
}

describe('reading the synthesized template', () => {
  it('reads every role, and finds the role of every function, the state machine and the schedule', () => {
    const roleIds = Object.entries(template.Resources)
      .filter(([, resource]) => resource.Type === 'AWS::IAM::Role')
      .map(([id]) => id)
      .sort();
    expect(
      policies
        .roles()
        .map((role) => role.logicalId)
        .sort(),
    ).toEqual(roleIds);
    for (const [id, resource] of Object.entries(template.Resources)) {
      if (resource.Type === FUNCTION)
        expect(roleIds).toContain(policies.roleForFunction(id).logicalId);
    }
    const machine = policies.roleForStateMachine(
      logicalId('AWS::StepFunctions::StateMachine', 'Workflow'),
    );
    expect(machine.arn).toMatch(/^arn:aws:iam::000000000000:role\/WorkflowStateMachineRole/);
    const scheduler = policies.roleForSchedule(
      logicalId('AWS::Scheduler::Schedule', 'TriggersSchedulenightly'),
    );
    expect(scheduler.logicalId).toMatch(/^SchedulerRoleForTarget/);
  });
});

describe("each function's role", () => {
  // The calls each function's code makes (shared/), against the resources it makes them on.
  it.each<[string, string, () => string, Record<string, ContextValue>?]>([
    ['ApiAuthorizer', 'dynamodb:GetItem', () => table('ApiKeys')],
    ['ApiSubmitGeneration', 'dynamodb:PutItem', () => table('Generations')],
    ['ApiSubmitGeneration', 'dynamodb:UpdateItem', () => table('Generations')],
    ['ApiSubmitGeneration', 'dynamodb:GetItem', () => table('Idempotency')],
    ['ApiSubmitGeneration', 'states:StartExecution', stateMachineArn],
    ['ApiGetGeneration', 'dynamodb:GetItem', () => table('Generations')],
    ['ApiGetGeneration', 's3:GetObject', () => `${bucket('Images')}/images/g-1/0.png`],
    ['ApiListGenerations', 'dynamodb:Query', () => `${table('Generations')}/index/byOwner`],
    ['ApiListGenerations', 'dynamodb:Query', () => `${table('Generations')}/index/byOwnerStatus`],
    ['ApiCancelGeneration', 'dynamodb:UpdateItem', () => table('Generations')],
    ['ApiCancelGeneration', 'states:StopExecution', () => execution('g-1')],
    ['ApiCancelGeneration', 'events:PutEvents', () => arnOf('AWS::Events::EventBus', 'Events')],
    [
      'StepsCreateTask',
      'secretsmanager:GetSecretValue',
      () => arnOf('AWS::SecretsManager::Secret', 'SparkApiKey'),
    ],
    ['StepsCreateTask', 'dynamodb:UpdateItem', () => table('Generations')],
    [
      'StepsPollTask',
      'dynamodb:UpdateItem',
      () => table('Generations'),
      { 'dynamodb:LeadingKeys': ['#polling-stats'] },
    ],
    [
      'StepsPollTask',
      'dynamodb:UpdateItem',
      () => table('Generations'),
      {
        'dynamodb:LeadingKeys': ['g-1'],
        'dynamodb:Attributes': ['id', 'polls', 'updatedAt'],
        'dynamodb:ReturnValues': 'NONE',
      },
    ],
    ['StepsPollTask', 'states:SendTaskSuccess', stateMachineArn],
    ['StepsCopyImages', 's3:PutObject', () => `${bucket('Images')}/images/g-1/0.png`],
    ['StepsAcquireSlot', 'dynamodb:PutItem', () => table('Slots')],
    ['StepsReleaseSlot', 'dynamodb:DeleteItem', () => table('Slots')],
    ['TriggersPromptFile', 's3:GetObject', () => `${bucket('Input')}/prompts/batch.jsonl`],
    ['TriggersPromptFile', 's3:PutObject', () => `${bucket('Input')}/reports/batch.json`],
    ['TriggersPromptFile', 'dynamodb:Query', () => `${table('ApiKeys')}/index/byOwner`],
    ['TriggersPromptFile', 'states:StartExecution', stateMachineArn],
    ['ReconcilerFunction', 'dynamodb:UpdateItem', () => table('Slots')],
    ['ReconcilerFunction', 'dynamodb:DeleteItem', () => table('Slots')],
    ['ReconcilerFunction', 'dynamodb:Query', () => `${table('Generations')}/index/unfinished`],
    ['ReconcilerFunction', 'states:DescribeExecution', () => execution('g-1')],
    [
      'ReconcilerFunction',
      'logs:PutLogEvents',
      () => `${arnOf('AWS::Logs::LogGroup', 'ReconcilerFunctionLogs').slice(0, -2)}:log-stream:s`,
    ],
    ['ApiOpenApi', 'xray:PutTraceSegments', () => '*'],
  ])('%s may %s', (fn, action, resource, context) => {
    expect(decide(roleOf(fn), action, resource(), context)).toMatchObject({
      allowed: true,
      reason: 'allowed',
    });
  });
  // Not asserted here while its grant is being added: SubmitGeneration's GetItem on the
  // generations table (a retried Idempotency-Key).

  it.each<[string, string, () => string, Record<string, ContextValue>?]>([
    ['ApiOpenApi', 'dynamodb:GetItem', () => table('Generations')],
    ['ApiGetGeneration', 'dynamodb:UpdateItem', () => table('Generations')],
    ['ApiGetGeneration', 's3:GetObject', () => `${bucket('Input')}/prompts/batch.jsonl`],
    ['ApiListGenerations', 'dynamodb:Query', () => table('Generations')],
    ['ApiListGenerations', 'dynamodb:Query', () => `${table('Generations')}/index/unfinished`],
    ['ApiAuthorizer', 'dynamodb:PutItem', () => table('ApiKeys')],
    // Only taking a slot queues a waiter; hand-overs claim and delete, never put.
    ['ReconcilerFunction', 'dynamodb:PutItem', () => table('Slots')],
    ['StepsReleaseSlot', 'dynamodb:PutItem', () => table('Slots')],
    ['StepsPollTask', 'dynamodb:PutItem', () => table('Slots')],
    ['ApiCancelGeneration', 'states:StartExecution', stateMachineArn],
    ['StepsCopyImages', 'dynamodb:GetItem', () => table('Generations')],
    ['StepsCopyImages', 's3:PutObject', () => `${bucket('Input')}/reports/x.json`],
    ['StepsCopyImages', 's3:GetObject', () => `${bucket('Images')}/images/g-1/0.png`],
    ['StepsClassifyFailure', 'dynamodb:UpdateItem', () => table('Generations')],
    [
      'StepsCreateTask',
      'secretsmanager:PutSecretValue',
      () => arnOf('AWS::SecretsManager::Secret', 'SparkApiKey'),
    ],
    // PollTask's generations grants are conditional: only its own attributes, no values back.
    [
      'StepsPollTask',
      'dynamodb:UpdateItem',
      () => table('Generations'),
      { 'dynamodb:LeadingKeys': ['g-1'], 'dynamodb:Attributes': ['id', 'result'] },
    ],
    [
      'StepsPollTask',
      'dynamodb:UpdateItem',
      () => table('Generations'),
      {
        'dynamodb:LeadingKeys': ['g-1'],
        'dynamodb:Attributes': ['id', 'polls'],
        'dynamodb:ReturnValues': 'ALL_NEW',
      },
    ],
    [
      'StepsPollTask',
      'dynamodb:GetItem',
      () => table('Generations'),
      { 'dynamodb:LeadingKeys': ['g-1'] },
    ],
    ['TriggersPromptFile', 's3:PutObject', () => `${bucket('Input')}/prompts/forged.jsonl`],
    ['TriggersPromptFile', 'dynamodb:GetItem', () => table('ApiKeys')],
    ['ReconcilerFunction', 'states:StopExecution', () => execution('g-1')],
    [
      'ReconcilerFunction',
      'logs:PutLogEvents',
      () => `${arnOf('AWS::Logs::LogGroup', 'ApiOpenApiLogs').slice(0, -2)}:log-stream:s`,
    ],
  ])('%s may not %s', (fn, action, resource, context) => {
    expect(decide(roleOf(fn), action, resource(), context)).toEqual({
      allowed: false,
      reason: 'implicit-deny',
    });
  });
});

describe("the state machine's role", () => {
  let machine: RolePrincipal;
  beforeAll(() => {
    machine = policies.roleForStateMachine(
      logicalId('AWS::StepFunctions::StateMachine', 'Workflow'),
    );
  });

  it.each([
    'StepsAcquireSlot',
    'StepsCreateTask',
    'StepsPollTask',
    'StepsCopyImages',
    'StepsReleaseSlot',
    'StepsClassifyFailure',
  ])('may invoke %s, unqualified or a version of it', (fn) => {
    expect(decide(machine, 'lambda:InvokeFunction', lambda(fn)).allowed).toBe(true);
    expect(decide(machine, 'lambda:InvokeFunction', `${lambda(fn)}:$LATEST`).allowed).toBe(true);
  });

  it.each(['ApiSubmitGeneration', 'ReconcilerFunction', 'TriggersPromptFile'])(
    'may not invoke %s',
    (fn) => {
      expect(decide(machine, 'lambda:InvokeFunction', lambda(fn)).allowed).toBe(false);
    },
  );

  it('may update the generations table and put events on the bus, and not read the table', () => {
    expect(decide(machine, 'dynamodb:UpdateItem', table('Generations')).allowed).toBe(true);
    expect(
      decide(machine, 'events:PutEvents', arnOf('AWS::Events::EventBus', 'Events')).allowed,
    ).toBe(true);
    expect(decide(machine, 'dynamodb:GetItem', table('Generations')).allowed).toBe(false);
    expect(decide(machine, 'dynamodb:UpdateItem', table('Slots')).allowed).toBe(false);
  });

  it('is assumed by Step Functions for a state machine of the account only', () => {
    const states: IamPrincipal = { kind: 'service', service: 'states.amazonaws.com' };
    const context = { 'aws:SourceArn': stateMachineArn(), 'aws:SourceAccount': ACCOUNT };
    expect(decide(states, 'sts:AssumeRole', machine.arn, context).allowed).toBe(true);
    expect(
      decide(states, 'sts:AssumeRole', machine.arn, {
        ...context,
        'aws:SourceAccount': '111111111111',
      }).allowed,
    ).toBe(false);
    const lambdaService: IamPrincipal = { kind: 'service', service: 'lambda.amazonaws.com' };
    expect(decide(lambdaService, 'sts:AssumeRole', machine.arn, context).allowed).toBe(false);
  });
});

describe("the scheduler's role", () => {
  let scheduler: RolePrincipal;
  beforeAll(() => {
    scheduler = policies.roleForSchedule(
      logicalId('AWS::Scheduler::Schedule', 'TriggersSchedulenightly'),
    );
  });

  it('may invoke the schedule-firing function, and nothing else', () => {
    expect(
      decide(scheduler, 'lambda:InvokeFunction', lambda('TriggersScheduleFiring')).allowed,
    ).toBe(true);
    expect(decide(scheduler, 'states:StartExecution', stateMachineArn()).allowed).toBe(false);
    expect(decide(scheduler, 'states:StopExecution', execution('s_nightly_1')).allowed).toBe(false);
    expect(decide(scheduler, 'lambda:InvokeFunction', lambda('ApiSubmitGeneration')).allowed).toBe(
      false,
    );
  });

  it('may send to the dead-letter queue', () => {
    expect(
      decide(scheduler, 'sqs:SendMessage', arnOf('AWS::SQS::Queue', 'TriggersDeadLetters')).allowed,
    ).toBe(true);
  });

  it("is assumed by EventBridge Scheduler for the account's default schedule group only", () => {
    const service: IamPrincipal = { kind: 'service', service: 'scheduler.amazonaws.com' };
    const group = `arn:aws:scheduler:${REGION}:${ACCOUNT}:schedule-group/default`;
    const context = { 'aws:SourceArn': group, 'aws:SourceAccount': ACCOUNT };
    expect(decide(service, 'sts:AssumeRole', scheduler.arn, context).allowed).toBe(true);
    expect(
      decide(service, 'sts:AssumeRole', scheduler.arn, { ...context, 'aws:SourceArn': `${group}2` })
        .allowed,
    ).toBe(false);
  });
});

describe('services, through resource policies', () => {
  const s3: IamPrincipal = { kind: 'service', service: 's3.amazonaws.com' };
  const events: IamPrincipal = { kind: 'service', service: 'events.amazonaws.com' };
  const apigateway: IamPrincipal = { kind: 'service', service: 'apigateway.amazonaws.com' };

  it('S3 may invoke the prompt-file function for the input bucket of this account, not for another bucket', () => {
    const fn = lambda('TriggersPromptFile');
    const context = { 'aws:SourceArn': bucket('Input'), 'aws:SourceAccount': ACCOUNT };
    expect(decide(s3, 'lambda:InvokeFunction', fn, context)).toMatchObject({
      allowed: true,
      statement: { policy: expect.stringMatching(/^StorageInputAllowBucketNotifications/) },
    });
    expect(
      decide(s3, 'lambda:InvokeFunction', fn, { ...context, 'aws:SourceArn': bucket('Images') })
        .allowed,
    ).toBe(false);
    expect(
      decide(s3, 'lambda:InvokeFunction', fn, { ...context, 'aws:SourceAccount': '111111111111' })
        .allowed,
    ).toBe(false);
    expect(decide(s3, 'lambda:InvokeFunction', lambda('ReconcilerFunction'), context).allowed).toBe(
      false,
    );
  });

  it("EventBridge may invoke the Reconciler for the stack's rules, and send their dead letters", () => {
    const fn = lambda('ReconcilerFunction');
    const queue = arnOf('AWS::SQS::Queue', 'TriggersDeadLetters');
    for (const rule of ['ReconcilerSweep', 'ReconcilerExecutionEnded']) {
      const context = { 'aws:SourceArn': arnOf('AWS::Events::Rule', rule) };
      expect(decide(events, 'lambda:InvokeFunction', fn, context).allowed).toBe(true);
      expect(decide(events, 'sqs:SendMessage', queue, context).allowed).toBe(true);
    }
    const elsewhere = { 'aws:SourceArn': `arn:aws:events:${REGION}:${ACCOUNT}:rule/Other` };
    expect(decide(events, 'lambda:InvokeFunction', fn, elsewhere).allowed).toBe(false);
    expect(decide(events, 'sqs:SendMessage', queue, elsewhere).allowed).toBe(false);
  });

  it("API Gateway may invoke a route's function for that route of the stage, not another", () => {
    const api = logicalId('AWS::ApiGateway::RestApi', 'ApiRestApi');
    const route = (path: string) => ({
      'aws:SourceArn': `arn:aws:execute-api:${REGION}:${ACCOUNT}:${api}/v1/${path}`,
    });
    const submit = lambda('ApiSubmitGeneration');
    expect(
      decide(apigateway, 'lambda:InvokeFunction', submit, route('POST/generations')).allowed,
    ).toBe(true);
    expect(
      decide(apigateway, 'lambda:InvokeFunction', submit, route('GET/generations')).allowed,
    ).toBe(false);
    expect(
      decide(
        apigateway,
        'lambda:InvokeFunction',
        lambda('ApiGetGeneration'),
        route('GET/generations/g-1'),
      ).allowed,
    ).toBe(true);
  });

  it('a function role gets nothing from a permission naming a service', () => {
    const fn = lambda('TriggersPromptFile');
    expect(decide(roleOf('ApiOpenApi'), 'lambda:InvokeFunction', fn).allowed).toBe(false);
  });
});

describe('the administrator', () => {
  it('may put a prompt file over TLS (counted so locally), and is denied by enforce-TLS policies without it', () => {
    const object = `${bucket('Input')}/prompts/batch.jsonl`;
    expect(decide(ADMINISTRATOR, 's3:PutObject', object).allowed).toBe(true);
    expect(
      decide(ADMINISTRATOR, 's3:PutObject', object, { 'aws:SecureTransport': false }),
    ).toMatchObject({
      allowed: false,
      reason: 'explicit-deny',
      statement: { policy: expect.stringMatching(/^StorageInputPolicy/) },
    });
    expect(decide(ADMINISTRATOR, 'dynamodb:Scan', table('Generations')).allowed).toBe(true);
  });
});

describe('the synthesized template with something the evaluator does not know', () => {
  /** The template with one statement of the Reconciler's policy changed. */
  function withReconcilerStatement(
    change: (statement: Record<string, unknown>) => void,
  ): CfnTemplate {
    const copy = structuredClone(template) as {
      Resources: Record<string, { Properties: Record<string, unknown> }>;
    };
    const policyId = logicalId('AWS::IAM::Policy', 'ReconcilerFunctionRoleDefaultPolicy');
    const document = copy.Resources[policyId]?.Properties.PolicyDocument as {
      Statement: Record<string, unknown>[];
    };
    change(document.Statement[2] as Record<string, unknown>);
    return copy as unknown as CfnTemplate;
  }

  it.each<[string, (statement: Record<string, unknown>) => void, string]>([
    [
      'an unknown condition key',
      (s) => {
        s.Condition = { StringEquals: { 'dynamodb:Select': 'COUNT' } };
      },
      'Condition.StringEquals.dynamodb:Select',
    ],
    [
      'an unknown operator',
      (s) => {
        s.Condition = { NumericLessThan: { 'aws:SourceAccount': '1' } };
      },
      'Condition.NumericLessThan',
    ],
    [
      'an unknown element',
      (s) => {
        s.NotPrincipal = { AWS: ACCOUNT };
      },
      'NotPrincipal',
    ],
  ])('is refused at load for %s, naming the policy and the statement', (_, change, element) => {
    let thrown: unknown;
    try {
      PolicySet.fromTemplate(withReconcilerStatement(change));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(UnsupportedPolicyError);
    const error = thrown as UnsupportedPolicyError;
    expect(error.element).toBe(element);
    expect(error.location).toMatchObject({
      policy: expect.stringMatching(/^ReconcilerFunctionRoleDefaultPolicy/),
      statementIndex: 2,
    });
  });
});
