/**
 * The Standard "generation" state machine, written in JSONPath so the local interpreter runs
 * exactly what is deployed. It reads top-down: record the generation queued, take a provider
 * slot, create the task, wait and poll until it ends, copy the images, record the outcome and
 * publish it. The pieces live beside it (./workflow/): the retry catalogue, the record writes
 * (built from shared/generation/transitions.ts), the publish states (from the event catalogue)
 * and the failure path every task catches into.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  Choice,
  Condition,
  DefinitionBody,
  IntegrationPattern,
  JsonPath,
  LogLevel,
  StateMachine,
  StateMachineType,
  Succeed,
  TaskInput,
  Timeout,
  Wait,
  WaitTime,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { EVENT_COMPLETED } from '#shared/generation/events.ts';
import { allow } from './grants.ts';
import { CONDITION_FAILED } from './service-errors.ts';
import { FailureStateNames, failurePath, releaseSlotThen } from './workflow/failure-path.ts';
import { publishCompletedTask } from './workflow/publish-tasks.ts';
import {
  ExecutionPaths,
  keepEventTask,
  recordQueuedTask,
  recordSuccessTask,
} from './workflow/record-tasks.ts';
import {
  ANY_ERROR,
  errorNames,
  type ProviderRetryProps,
  retryCatalogue,
} from './workflow/retries.ts';

/** Names of the states, shared with the local runtime and the tests. */
export const StateNames = {
  recordQueued: 'RecordQueued',
  acquireSlot: 'AcquireSlot',
  createTask: 'CreateTask',
  waitForTask: 'WaitForTask',
  pollTask: 'PollTask',
  isTaskDone: 'IsTaskDone',
  copyImages: 'CopyImages',
  recordSuccess: 'RecordSuccess',
  publishCompleted: 'PublishCompleted',
  keepCompletedEvent: 'KeepCompletedEvent',
  releaseCancelledSlot: 'ReleaseCancelledSlot',
  alreadyFinished: 'AlreadyFinished',
  eventNotPublished: 'EventNotPublished',
  ...FailureStateNames,
} as const;

export interface GenerationWorkflowProps {
  /** Takes a provider slot or queues the execution's task token (concurrency cap). */
  readonly acquireSlot: IFunction;
  /** Gives a slot back and wakes the next waiting executions. */
  readonly releaseSlot: IFunction;
  readonly createTask: IFunction;
  readonly pollTask: IFunction;
  readonly copyImages: IFunction;
  readonly classifyFailure: IFunction;
  readonly generationsTable: ITableV2;
  readonly eventBus: IEventBus;
  /** The longest a generation may poll; the machine's own timeout is set beyond it. */
  readonly maxElapsed: Duration;
  /** The longest a generation may wait for a provider slot before it fails (`090003011`). */
  readonly maxQueue: Duration;
  /** The state machine's name (fixed, so the functions it calls can be granted on its ARN). */
  readonly stateMachineName: string;
  readonly logRetention: RetentionDays;
  /** Retry of throttled and failing provider calls. @default 2 s, x2, 5 attempts, 30 s cap */
  readonly providerRetry?: ProviderRetryProps;
}

/**
 * The Standard "generation" state machine (docs/reliability.md). Every task has an explicit Retry
 * (transient errors only, exponential backoff with full jitter) and a Catch that ends in the
 * failure record, so every execution leaves its record terminal.
 */
export class GenerationWorkflow extends Construct {
  public readonly stateMachine: StateMachine;
  public readonly logGroup: LogGroup;
  /** The longest an execution can run: the machine's own timeout. */
  public readonly stateMachineTimeout: Duration;
  /** The state machine's name, as a plain string. */
  public readonly stateMachineName: string;

  constructor(scope: Construct, id: string, props: GenerationWorkflowProps) {
    super(scope, id);
    const retries = retryCatalogue(props.providerRetry);
    const records = { table: props.generationsTable, retries };
    const { generationId } = ExecutionPaths;

    // Where a path can end early: the failure path, and a record found terminal already.
    const failures = failurePath(this, {
      ...records,
      eventBus: props.eventBus,
      releaseSlot: props.releaseSlot,
      classifyFailure: props.classifyFailure,
      maxQueue: props.maxQueue,
    });
    const { classifyFailure, onError } = failures;
    const alreadyFinished = new Succeed(this, StateNames.alreadyFinished, {
      comment: 'The record was already terminal (cancelled); nothing is overwritten.',
    });
    // Cancelled while holding a slot: give it back before ending.
    const releaseCancelledSlot = releaseSlotThen(
      this,
      StateNames.releaseCancelledSlot,
      { releaseSlot: props.releaseSlot, retries },
      alreadyFinished,
    );

    // 1. Record the generation queued (prompt files and schedules create the record here).
    const recordQueued = recordQueuedTask(this, StateNames.recordQueued, records)
      .addCatch(alreadyFinished, { errors: errorNames(CONDITION_FAILED), resultPath: '$.error' })
      .addCatch(classifyFailure, onError);

    // 2. The concurrency cap: a slot is granted at once when one is free; otherwise the execution
    // waits (no polling, no transitions) until a finishing generation hands it its slot.
    const acquireSlot = new LambdaInvoke(this, StateNames.acquireSlot, {
      lambdaFunction: props.acquireSlot,
      integrationPattern: IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      retryOnServiceExceptions: false,
      payload: TaskInput.fromObject({
        id: generationId,
        token: JsonPath.taskToken,
        queuedAt: ExecutionPaths.queuedAt,
      }),
      resultPath: '$.slot',
      taskTimeout: Timeout.duration(props.maxQueue),
    })
      .addRetry(retries.slotFunction)
      .addCatch(failures.useSlotWaitFailure, {
        errors: errorNames('States.Timeout'),
        resultPath: '$.error',
      })
      .addCatch(classifyFailure, onError);

    // 3. Create the provider task (recorded on the record before anything else can fail). A
    // create the provider throttles with Retry-After answers `throttled` with that wait: the Wait
    // state waits it, PollTask hands it on untouched, and IsTaskDone comes back here.
    const createTask = new LambdaInvoke(this, StateNames.createTask, {
      lambdaFunction: props.createTask,
      payload: TaskInput.fromObject({
        id: generationId,
        // The same bound as the polls': a throttled create is asked again only within it.
        startedAt: JsonPath.stringAt('$.slot.acquiredAt'),
      }),
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      resultPath: '$.task',
      taskTimeout: Timeout.duration(Duration.minutes(2)),
    })
      .addRetry(retries.lambdaService)
      // Not SparkResponseParseError: a create answer we could not read may still have made a
      // task, and creating again would pay twice.
      .addRetry(retries.provider)
      .addCatch(releaseCancelledSlot, {
        errors: errorNames('GenerationAlreadyFinishedError'),
        resultPath: '$.error',
      })
      .addCatch(classifyFailure, onError);

    // 4. Wait the time the last poll asked for, poll, and go on by the task's state.
    const waitForTask = new Wait(this, StateNames.waitForTask, {
      time: WaitTime.secondsPath('$.task.nextWaitSeconds'),
    });
    const pollTask = new LambdaInvoke(this, StateNames.pollTask, {
      lambdaFunction: props.pollTask,
      payload: TaskInput.fromObject({
        id: generationId,
        task: JsonPath.objectAt('$.task'),
        // The polling bound counts from the slot's grant: time spent queueing is not the provider's.
        startedAt: JsonPath.stringAt('$.slot.acquiredAt'),
      }),
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      resultPath: '$.task',
      taskTimeout: Timeout.duration(Duration.minutes(2)),
    })
      // Polling is idempotent, and so is the slot release the poll that sees the end makes.
      .addRetry(retries.slotFunction)
      .addRetry(retries.provider)
      // A garbled answer is usually transient, but only worth a few more tries.
      .addRetry(retries.garbledPoll)
      .addCatch(classifyFailure, onError);
    const isTaskDone = new Choice(this, StateNames.isTaskDone);

    // 5. Copy the images into the bucket.
    const copyImages = new LambdaInvoke(this, StateNames.copyImages, {
      lambdaFunction: props.copyImages,
      payload: TaskInput.fromObject({
        id: generationId,
        owner: ExecutionPaths.owner,
        request: JsonPath.objectAt('$.request'),
        images: JsonPath.listAt('$.task.images'),
      }),
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      resultPath: '$.stored',
      taskTimeout: Timeout.duration(Duration.minutes(6)),
    })
      .addRetry(retries.lambdaService)
      .addRetry(retries.imageDownload)
      .addCatch(classifyFailure, onError);

    // 6. Record the success (a record cancelled meanwhile stays cancelled), then publish it. An
    // event PutEvents could not publish stays on the record for the reconciler to publish.
    const recordSuccess = recordSuccessTask(this, StateNames.recordSuccess, records)
      .addCatch(alreadyFinished, {
        errors: errorNames(CONDITION_FAILED),
        resultPath: '$.recordError',
      })
      .addCatch(classifyFailure, onError);
    const eventNotPublished = new Succeed(this, StateNames.eventNotPublished, {
      comment: 'The record is completed; it keeps the event for the reconciler to publish.',
    });
    const keepCompletedEvent = keepEventTask(
      this,
      StateNames.keepCompletedEvent,
      records,
      'completed',
      EVENT_COMPLETED,
    ).addCatch(eventNotPublished, { errors: ANY_ERROR, resultPath: '$.keepEventError' });
    const publishCompleted = publishCompletedTask(this, StateNames.publishCompleted, {
      eventBus: props.eventBus,
      retries,
    }).addCatch(keepCompletedEvent, { errors: ANY_ERROR, resultPath: '$.eventError' });

    // The main line, top-down.
    recordQueued.next(acquireSlot);
    acquireSlot.next(createTask);
    createTask.next(waitForTask);
    waitForTask.next(pollTask);
    pollTask.next(isTaskDone);
    isTaskDone
      .when(Condition.stringEquals('$.task.state', 'completed'), copyImages)
      .when(Condition.stringEquals('$.task.state', 'failed'), failures.useTaskFailure)
      .when(Condition.stringEquals('$.task.state', 'throttled'), createTask)
      .otherwise(waitForTask);
    copyImages.next(recordSuccess);
    recordSuccess.next(publishCompleted);
    keepCompletedEvent.next(eventNotPublished);

    this.stateMachineName = props.stateMachineName;
    this.stateMachineTimeout = props.maxQueue.plus(props.maxElapsed).plus(Duration.minutes(15));
    // Under /aws/vendedlogs/: Step Functions delivers logs as a vended log source, which adds a
    // statement for its log group to the account's CloudWatch Logs resource policy, a policy of
    // 5,120 characters at most. Under this prefix one statement covers every such group, so a
    // machine (or a stack) more cannot exhaust it and fail to deploy. Named after the machine,
    // itself named after the stack: two stacks never share it.
    this.logGroup = new LogGroup(this, 'Logs', {
      logGroupName: `/aws/vendedlogs/states/${props.stateMachineName}`,
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      stateMachineName: props.stateMachineName,
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: DefinitionBody.fromChainable(recordQueued),
      comment:
        'spark-t2i generation: create the Spark task, poll it, copy the images, record the outcome',
      // Past the queueing and polling bounds the workflow fails the generation itself; this is
      // the backstop.
      timeout: this.stateMachineTimeout,
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: LogLevel.ALL, includeExecutionData: true },
    });
    // The CustomState success write is not granted by CDK; the typed tasks grant their own.
    allow(this.stateMachine, ['dynamodb:UpdateItem'], [props.generationsTable.tableArn]);
  }
}
