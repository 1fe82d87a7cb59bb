/**
 * cdk-nag (AWS Solutions and Serverless packs) runs at synth time and fails it on any finding that
 * is not acknowledged here. Each acknowledgement names one finding (with its resource where the
 * rule reports one), is placed on the constructs it concerns only, and says why.
 */
import { type App, Stack, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { PipelineFunction } from './constructs/pipeline-function.ts';
import type { SparkT2iStack } from './stack.ts';

export function applyNagChecks(app: App, stack: SparkT2iStack): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
  acknowledgeFindings(stack);
}

function acknowledge(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}

/** A finding of an IAM wildcard on a given resource, as cdk-nag names it. */
function wildcard(resource: string): string {
  return `AwsSolutions::AwsSolutions-IAM5[Resource::${resource}]`;
}

function logicalId(scope: IConstruct): string {
  return Stack.of(scope).getLogicalId(scope.node.defaultChild as never);
}

export function acknowledgeFindings(stack: SparkT2iStack): void {
  const { storage, steps, workflow, api, triggers, reconciler, webhooks } = stack;
  const functions = stack.node.findAll().filter((node) => node instanceof PipelineFunction);

  for (const fn of functions) {
    acknowledge(
      fn.role ?? fn,
      wildcard('*'),
      'X-Ray tracing: xray:PutTraceSegments and xray:PutTelemetryRecords accept no resource but *. Every other statement names its resources (checked by test/infra/stack.test.ts).',
    );
  }
  // Invoked synchronously (Step Functions, API Gateway): the caller sees and retries the error, so
  // a dead-letter queue would never receive anything.
  for (const fn of [...Object.values(steps), ...api.functions].filter(
    (f) => f instanceof PipelineFunction,
  )) {
    acknowledge(
      fn,
      'Serverless::Serverless-LambdaDLQ',
      'Invoked synchronously by Step Functions or API Gateway, which handle its errors (Retry/Catch, HTTP answer); a DLQ only applies to asynchronous invocations.',
    );
  }

  acknowledge(
    workflow.stateMachine,
    wildcard('*'),
    'X-Ray tracing and CloudWatch Logs vended log delivery of the state machine: these actions accept no resource but * (AWS documents both).',
  );
  for (const fn of [
    steps.acquireSlot,
    steps.createTask,
    steps.pollTask,
    steps.copyImages,
    steps.classifyFailure,
    steps.releaseSlot,
  ]) {
    acknowledge(
      workflow.stateMachine,
      wildcard(`<${logicalId(fn)}.Arn>:*`),
      'The LambdaInvoke task is allowed to invoke its function’s versions and aliases (ARN:*), as CDK grants it; only the workflow’s own functions are named.',
    );
  }
  acknowledge(
    reconciler.function.role ?? reconciler.function,
    wildcard(
      `arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:${workflow.stateMachineName}:*`,
    ),
    'Executions are named by generation id: DescribeExecution is allowed on the executions of this one state machine, to tell a dead execution from a running one.',
  );
  acknowledge(
    reconciler.function,
    'Serverless::Serverless-LambdaDLQ',
    'Invoked by EventBridge rules whose targets carry a dead-letter queue and retries (events that still fail are kept there with the error).',
  );

  const imagesPrefix = wildcard(`<${logicalId(storage.imagesBucket)}.Arn>/images/*`);
  for (const fn of [
    steps.copyImages,
    api.getFunction,
    api.listFunction,
    api.cancelFunction,
    api.batchFunctions.readBatches,
    webhooks.function,
  ]) {
    acknowledge(
      fn.role ?? fn,
      imagesPrefix,
      'Image keys are images/<owner>/<generation>/<n>.<ext>, made per generation: the grant is limited to that prefix and to the single action needed (PutObject for the copy, GetObject to pre-sign).',
    );
  }
  acknowledge(
    triggers.promptFileFunction.role ?? triggers.promptFileFunction,
    wildcard(`<${logicalId(storage.inputBucket)}.Arn>/prompts/*`),
    'Prompt files are any object under prompts/ (the trigger prefix); read-only.',
  );
  acknowledge(
    triggers.promptFileFunction.role ?? triggers.promptFileFunction,
    wildcard(`<${logicalId(storage.inputBucket)}.Arn>/reports/*`),
    'Reports are written at reports/<prompt file key>.json, one per file: PutObject under that prefix only.',
  );
  const batches = api.batchFunctions;
  acknowledge(
    batches.submitBatch.role ?? batches.submitBatch,
    wildcard(`<${logicalId(storage.inputBucket)}.Arn>/prompts/*`),
    'A batch sent through the API is put (or its upload pre-signed) at prompts/<owner>/batches/<id>.<format>, a new key per batch: PutObject under prompts/ only.',
  );
  acknowledge(
    batches.readBatches.role ?? batches.readBatches,
    wildcard(`<${logicalId(storage.inputBucket)}.Arn>/reports/*`),
    'A batch report is read from reports/<prompt file key>.json, one per file: GetObject under that prefix only.',
  );
  for (const fn of [api.cancelFunction, batches.cancelBatch]) {
    acknowledge(
      fn.role ?? fn,
      wildcard(
        `arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"${logicalId(workflow.stateMachine)}"}]}]}:*`,
      ),
      'Executions are named by generation id: StopExecution is allowed on the executions of this one state machine.',
    );
  }

  for (const fn of [
    triggers.promptFileFunction,
    triggers.scheduleFiringFunction,
    stack.batchProgress.function,
  ]) {
    acknowledge(
      fn,
      'Serverless::Serverless-LambdaDLQ',
      'Its asynchronous failures go to an SQS on-failure destination (the dead-letter queue), which records the event with the error, unlike a plain DLQ.',
    );
  }
  // The role the schedules' Lambda targets share (aws-scheduler-targets makes one per stack).
  for (const node of stack.node.children.filter((child) =>
    child.node.id.startsWith('SchedulerRoleForTarget'),
  )) {
    acknowledge(
      node,
      wildcard(`<${logicalId(triggers.scheduleFiringFunction)}.Arn>:*`),
      'Schedules invoke the schedule-firing function; CDK grants its versions and aliases (ARN:*) with it. No other function is named.',
    );
  }
  acknowledge(
    stack.node.findChild('SparkApiKey'),
    'AwsSolutions::AwsSolutions-SMG4',
    'The provider API key is issued by the provider; it cannot be rotated by a Lambda. Rotate it at the provider and put the new value in the secret (README, Deploy).',
  );
  acknowledge(
    api.cursorSecret,
    'AwsSolutions::AwsSolutions-SMG4',
    'It signs page cursors that live as long as a listing; rotating it would only invalidate cursors in use. Replace its value (a random string of at least 32 characters) to rotate by hand.',
  );
  acknowledge(
    triggers.deadLetterQueue,
    'AwsSolutions::AwsSolutions-SQS3',
    'This queue is itself the dead-letter queue of the prompt-file function and the schedules.',
  );
  acknowledge(
    triggers.deadLetterQueue,
    'Serverless::Serverless-SQSRedrivePolicy',
    'This queue is itself the dead-letter queue; it has no redrive target of its own.',
  );
  acknowledge(
    webhooks.function,
    'Serverless::Serverless-LambdaDLQ',
    'Invoked by an SQS event source mapping, not asynchronously: a failed message stays on its queue, whose redrive policy moves it to the webhook dead-letter queue (and the function puts a delivery given up on there itself).',
  );
  acknowledge(
    webhooks.function,
    'Serverless::Serverless-LambdaEventSourceMappingDestination',
    "An SQS event source keeps failed messages on the queue; the queue's redrive policy is their destination (the webhook dead-letter queue, alarmed on).",
  );
  acknowledge(
    webhooks.deadLetterQueue,
    'Serverless::Serverless-SQSRedrivePolicy',
    'This queue is itself the dead-letter queue of the webhook deliveries; it has no redrive target of its own.',
  );
  // S3 bucket notifications are configured by a CDK-provided function; its role is CDK's.
  for (const node of stack.node.children.filter((child) =>
    child.node.id.startsWith('BucketNotificationsHandler'),
  )) {
    acknowledge(
      node,
      'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      'The CDK-provided handler that configures S3 bucket notifications at deploy time; it runs only during deployments.',
    );
  }

  acknowledge(
    api.restApi,
    'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
    'The account-level role API Gateway uses to write execution logs; AWS documents this managed policy for it.',
  );
  for (const method of api.methodNotAllowedMethods) {
    acknowledge(
      method,
      'AwsSolutions::AwsSolutions-APIG4',
      'The ANY method of a resource only answers 405 (a mock integration, no data, no function): refusing a wrong method needs no key.',
    );
  }
  acknowledge(
    api.restApi,
    'AwsSolutions::AwsSolutions-APIG2',
    'Bodies are validated in the submit function by the shared zod schema, so callers get the provider’s 9-digit codes; API Gateway models would answer a different shape.',
  );
  acknowledge(
    api.restApi,
    'AwsSolutions::AwsSolutions-APIG3',
    'No WAF by default (cost); the API authenticates every route with hashed API keys, throttles per stage and limits body size. Attach a WAF web ACL to the stage where the threat model asks for one.',
  );
  acknowledge(
    api.restApi,
    'AwsSolutions::AwsSolutions-COG4',
    'Callers are services holding API keys (README, API keys), resolved by the Lambda token authorizer; there are no Cognito users.',
  );
  acknowledge(
    api.restApi.root.resourceForPath('openapi.json').node.findChild('GET'),
    'AwsSolutions::AwsSolutions-APIG4',
    'GET /openapi.json is public on purpose: the API description holds no data. Every other route is authorised (checked by test/infra/stack.test.ts).',
  );
  for (const method of api.console.methods) {
    acknowledge(
      method,
      'AwsSolutions::AwsSolutions-APIG4',
      'The console page (GET /, GET /console/{file}) is public on purpose, as a web page is: it holds no data, and everything it shows comes through the authorised routes with the key a person types (docs/decisions.md D35).',
    );
  }
}
