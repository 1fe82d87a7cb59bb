import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  Choice,
  Condition,
  CustomState,
  DefinitionBody,
  Fail,
  IntegrationPattern,
  JitterType,
  JsonPath,
  LogLevel,
  Pass,
  type RetryProps,
  type State,
  StateMachine,
  StateMachineType,
  Succeed,
  TaskInput,
  Timeout,
  Wait,
  WaitTime,
} from 'aws-cdk-lib/aws-stepfunctions';
import {
  DynamoAttributeValue,
  DynamoUpdateItem,
  EventBridgePutEvents,
  LambdaInvoke,
} from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { ErrorCodes } from '../../shared/errors/codes.ts';
import type * as GenerationErrors from '../../shared/generation/errors.ts';
import { EVENT_COMPLETED, EVENT_FAILED, EVENT_SOURCE } from '../../shared/generation/events.ts';
import { UNFINISHED } from '../../shared/generation/model.ts';
import type * as ImageErrors from '../../shared/images/errors.ts';
import type * as SparkErrors from '../../shared/spark/errors.ts';
import { RETRYABLE_SPARK_ERRORS } from '../../shared/spark/errors.ts';
import { allow } from './grants.ts';
import {
  CONDITION_FAILED,
  DYNAMODB_TRANSIENT_ERRORS,
  EVENTBRIDGE_TRANSIENT_ERRORS,
  LAMBDA_SERVICE_ERRORS,
  LAMBDA_TIMED_OUT,
  LAMBDA_UNKNOWN,
  SDK_TRANSIENT_ERRORS,
  type ServiceErrorName,
} from './service-errors.ts';

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
  useTaskFailure: 'UseTaskFailure',
  classifyFailure: 'ClassifyFailure',
  useInternalFailure: 'UseInternalFailure',
  useSlotWaitFailure: 'UseSlotWaitFailure',
  releaseSlot: 'ReleaseSlot',
  releaseCancelledSlot: 'ReleaseCancelledSlot',
  recordFailure: 'RecordFailure',
  publishFailed: 'PublishFailed',
  generationFailed: 'GenerationFailed',
  alreadyFinished: 'AlreadyFinished',
  eventNotPublished: 'EventNotPublished',
} as const;

/**
 * Lambda's timeout (by either of the names it can arrive under) and the AWS SDK's throttling met
 * inside the slot functions (DynamoDB, Step Functions): every slot step is idempotent, so trying
 * it again is always safe.
 */
const SLOT_TRANSIENT_ERRORS = [LAMBDA_TIMED_OUT, LAMBDA_UNKNOWN, ...SDK_TRANSIENT_ERRORS] as const;

/** A class that `new` can make: not an abstract one. */
type Concrete<Instance> = new (...args: never) => Instance;
/** The `name` of each concrete error class a module exports (an abstract class names nothing). */
type ErrorNamesOf<Module> = {
  [Export in keyof Module]: Module[Export] extends Concrete<infer Instance extends Error>
    ? Instance['name']
    : never;
}[keyof Module];

/**
 * What a Retry or Catch may name: Step Functions' own errors, a service's (`service-errors.ts`),
 * or one the workflow's functions throw, by the literal name its class sets. A misspelt or
 * unknown name fails the type check; test/infra/error-routing.test.ts checks that each state's
 * function bundle carries the names of ours (docs/decisions.md D20).
 */
type RoutedErrorName =
  | `States.${string}`
  | ServiceErrorName
  | ErrorNamesOf<typeof GenerationErrors>
  | ErrorNamesOf<typeof ImageErrors>
  | ErrorNamesOf<typeof SparkErrors>;

/** The names a Retry or Catch matches, each checked against {@link RoutedErrorName}. */
const errorNames = (...names: readonly RoutedErrorName[]): string[] => [...names];

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
  readonly providerRetry?: Pick<
    RetryProps,
    'interval' | 'maxAttempts' | 'backoffRate' | 'maxDelay'
  >;
}

/**
 * The Standard "generation" state machine (design section 7), written in JSONPath so the local
 * interpreter runs exactly what is deployed. Every task has an explicit Retry (transient errors
 * only, exponential backoff with full jitter) and a Catch that ends in the failure record, so
 * every execution leaves its record terminal.
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
    const table = props.generationsTable;
    const generationId = JsonPath.stringAt('$$.Execution.Name');
    const now = JsonPath.stringAt('$$.State.EnteredTime');
    const owner = JsonPath.stringAt('$.owner');
    // A waiting execution's place in the slot queue: when it started.
    const queuedAt = JsonPath.stringAt('$$.Execution.StartTime');
    const providerRetry: RetryProps = {
      interval: Duration.seconds(2),
      maxAttempts: 5,
      backoffRate: 2,
      maxDelay: Duration.seconds(30),
      ...props.providerRetry,
      jitterStrategy: JitterType.FULL,
    };
    const transientRetry: RetryProps = {
      interval: Duration.seconds(1),
      maxAttempts: 4,
      backoffRate: 2,
      maxDelay: Duration.seconds(20),
      jitterStrategy: JitterType.FULL,
    };

    /**
     * Gives the generation's provider slot back (a no-op when it holds none), then goes on to
     * `next` whatever happens: a release that fails is left to the reconciler rather than
     * blocking what follows.
     */
    const releaseSlotThen = (name: string, next: State) =>
      new LambdaInvoke(this, name, {
        lambdaFunction: props.releaseSlot,
        payload: TaskInput.fromObject({ id: generationId, queuedAt }),
        payloadResponseOnly: true,
        retryOnServiceExceptions: false,
        resultPath: JsonPath.DISCARD,
        taskTimeout: Timeout.duration(Duration.seconds(60)),
      })
        .addRetry({
          errors: errorNames(...LAMBDA_SERVICE_ERRORS, ...SLOT_TRANSIENT_ERRORS),
          ...transientRetry,
        })
        .addCatch(next, { errors: errorNames('States.ALL'), resultPath: '$.releaseError' })
        .next(next);

    // Failure path: classify what was caught, record it, tell the world, fail the execution.
    const generationFailed = new Fail(this, StateNames.generationFailed, {
      errorPath: JsonPath.stringAt('$.failure.code'),
      causePath: JsonPath.stringAt('$.failure.message'),
    });
    const publishFailed = new EventBridgePutEvents(this, StateNames.publishFailed, {
      entries: [
        {
          eventBus: props.eventBus,
          source: EVENT_SOURCE,
          detailType: EVENT_FAILED,
          detail: TaskInput.fromObject({
            id: generationId,
            owner,
            status: 'failed',
            source: JsonPath.stringAt('$.source'),
            sourceRef: JsonPath.stringAt('$.sourceRef'),
            error: JsonPath.objectAt('$.failure'),
          }),
        },
      ],
      resultPath: JsonPath.DISCARD,
    })
      .addRetry({ errors: errorNames(...EVENTBRIDGE_TRANSIENT_ERRORS), ...transientRetry })
      .addCatch(generationFailed, { errors: errorNames('States.ALL'), resultPath: '$.eventError' });
    publishFailed.next(generationFailed);

    const recordFailure = new DynamoUpdateItem(this, StateNames.recordFailure, {
      table,
      key: { id: DynamoAttributeValue.fromString(generationId) },
      updateExpression:
        'SET #status = :failed, ownerStatus = :ownerStatus, #error = :error, updatedAt = :now, completedAt = :now REMOVE unfinished',
      conditionExpression: '#status IN (:queued, :running)',
      expressionAttributeNames: { '#status': 'status', '#error': 'error' },
      expressionAttributeValues: {
        ':failed': DynamoAttributeValue.fromString('failed'),
        ':queued': DynamoAttributeValue.fromString('queued'),
        ':running': DynamoAttributeValue.fromString('running'),
        ':ownerStatus': DynamoAttributeValue.fromString(JsonPath.format('{}#failed', owner)),
        ':error': DynamoAttributeValue.fromMap({
          code: DynamoAttributeValue.fromString(JsonPath.stringAt('$.failure.code')),
          message: DynamoAttributeValue.fromString(JsonPath.stringAt('$.failure.message')),
        }),
        ':now': DynamoAttributeValue.fromString(now),
      },
      resultPath: JsonPath.DISCARD,
    })
      .addRetry({ errors: errorNames(...DYNAMODB_TRANSIENT_ERRORS), ...transientRetry })
      // Already terminal (cancelled meanwhile): nothing to record, and no second event.
      .addCatch(generationFailed, {
        errors: errorNames('States.ALL'),
        resultPath: '$.recordError',
      });
    recordFailure.next(publishFailed);

    // Every failure gives the provider slot back before recording (a no-op when none is held). A
    // release that fails is left to the reconciler rather than blocking the record.
    const releaseSlot = releaseSlotThen(StateNames.releaseSlot, recordFailure);

    const useInternalFailure = new Pass(this, StateNames.useInternalFailure, {
      parameters: {
        code: ErrorCodes.INTERNAL_ERROR,
        message: 'Internal pipeline error (the failure could not be classified)',
      },
      resultPath: '$.failure',
    }).next(releaseSlot);
    const useSlotWaitFailure = new Pass(this, StateNames.useSlotWaitFailure, {
      comment: 'No provider slot became free within the queueing bound.',
      parameters: {
        code: ErrorCodes.SLOT_WAIT_EXCEEDED,
        message: `No provider slot became free within ${props.maxQueue.toSeconds()} s`,
      },
      resultPath: '$.failure',
    }).next(releaseSlot);
    const classifyFailure = new LambdaInvoke(this, StateNames.classifyFailure, {
      lambdaFunction: props.classifyFailure,
      payload: TaskInput.fromObject({
        Error: JsonPath.stringAt('$.error.Error'),
        Cause: JsonPath.stringAt('$.error.Cause'),
      }),
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      resultPath: '$.failure',
      taskTimeout: Timeout.duration(Duration.seconds(30)),
    })
      .addRetry({ errors: errorNames(...LAMBDA_SERVICE_ERRORS), ...transientRetry })
      .addCatch(useInternalFailure, {
        errors: errorNames('States.ALL'),
        resultPath: '$.classifyError',
      });
    classifyFailure.next(releaseSlot);
    const onError = { errors: errorNames('States.ALL'), resultPath: '$.error' };

    // Success path.
    const alreadyFinished = new Succeed(this, StateNames.alreadyFinished, {
      comment: 'The record was already terminal (cancelled); nothing is overwritten.',
    });
    // Cancelled while holding a slot: give it back before ending.
    const releaseCancelledSlot = releaseSlotThen(StateNames.releaseCancelledSlot, alreadyFinished);
    const eventNotPublished = new Succeed(this, StateNames.eventNotPublished, {
      comment: 'The record is completed; only the event could not be published.',
    });
    const publishCompleted = new EventBridgePutEvents(this, StateNames.publishCompleted, {
      entries: [
        {
          eventBus: props.eventBus,
          source: EVENT_SOURCE,
          detailType: EVENT_COMPLETED,
          detail: TaskInput.fromObject({
            id: generationId,
            owner,
            status: 'completed',
            source: JsonPath.stringAt('$.source'),
            sourceRef: JsonPath.stringAt('$.sourceRef'),
            images: JsonPath.listAt('$.stored.images'),
            costUsd: JsonPath.objectAt('$.task.costUsd'),
          }),
        },
      ],
      resultPath: JsonPath.DISCARD,
    })
      .addRetry({ errors: errorNames(...EVENTBRIDGE_TRANSIENT_ERRORS), ...transientRetry })
      .addCatch(eventNotPublished, {
        errors: errorNames('States.ALL'),
        resultPath: '$.eventError',
      });

    // A CustomState: the success write takes DynamoDB JSON straight from the steps' results
    // (images, usage, cost), which the typed task's value helpers cannot express.
    const recordSuccess = new CustomState(this, StateNames.recordSuccess, {
      stateJson: {
        Type: 'Task',
        Resource: 'arn:aws:states:::dynamodb:updateItem',
        Parameters: {
          TableName: table.tableName,
          Key: { id: { 'S.$': '$$.Execution.Name' } },
          UpdateExpression:
            'SET #status = :completed, ownerStatus = :ownerStatus, images = :images, #usage = :usage, costUsd = :costUsd, polls = :polls, updatedAt = :now, completedAt = :now REMOVE unfinished',
          ConditionExpression: '#status IN (:queued, :running)',
          ExpressionAttributeNames: { '#status': 'status', '#usage': 'usage' },
          ExpressionAttributeValues: {
            ':completed': { S: 'completed' },
            ':queued': { S: 'queued' },
            ':running': { S: 'running' },
            ':ownerStatus': { 'S.$': "States.Format('{}#completed', $.owner)" },
            ':images': { 'L.$': '$.stored.dynamoImages' },
            ':usage.$': '$.task.attributes.usage',
            ':costUsd.$': '$.task.attributes.costUsd',
            ':polls': { 'N.$': "States.Format('{}', $.task.polls)" },
            ':now': { 'S.$': '$$.State.EnteredTime' },
          },
        },
        ResultPath: null,
      },
    })
      .addRetry({ errors: errorNames(...DYNAMODB_TRANSIENT_ERRORS), ...transientRetry })
      .addCatch(alreadyFinished, {
        errors: errorNames(CONDITION_FAILED),
        resultPath: '$.recordError',
      })
      .addCatch(classifyFailure, onError);
    recordSuccess.next(publishCompleted);

    const copyImages = new LambdaInvoke(this, StateNames.copyImages, {
      lambdaFunction: props.copyImages,
      payload: TaskInput.fromObject({
        id: generationId,
        owner,
        request: JsonPath.objectAt('$.request'),
        images: JsonPath.listAt('$.task.images'),
      }),
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      resultPath: '$.stored',
      taskTimeout: Timeout.duration(Duration.minutes(6)),
    })
      .addRetry({ errors: errorNames(...LAMBDA_SERVICE_ERRORS), ...transientRetry })
      .addRetry({
        errors: errorNames('ImageDownloadError', 'ImageTruncatedError'),
        interval: Duration.seconds(2),
        maxAttempts: 3,
        backoffRate: 2,
        maxDelay: Duration.seconds(10),
        jitterStrategy: JitterType.FULL,
      })
      .addCatch(classifyFailure, onError);
    copyImages.next(recordSuccess);

    const useTaskFailure = new Pass(this, StateNames.useTaskFailure, {
      comment: 'The provider ended the task as failed, or polling ran past its bounds.',
      inputPath: '$.task.failure',
      resultPath: '$.failure',
    }).next(releaseSlot);

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
      .addRetry({
        errors: errorNames(...LAMBDA_SERVICE_ERRORS, ...SLOT_TRANSIENT_ERRORS),
        ...transientRetry,
      })
      .addRetry({ errors: errorNames(...RETRYABLE_SPARK_ERRORS), ...providerRetry })
      // A garbled answer is usually transient, but only worth a few more tries.
      .addRetry({
        errors: errorNames('SparkResponseParseError'),
        interval: Duration.seconds(2),
        maxAttempts: 3,
        backoffRate: 2,
        maxDelay: Duration.seconds(10),
        jitterStrategy: JitterType.FULL,
      })
      .addCatch(classifyFailure, onError);
    const isTaskDone = new Choice(this, StateNames.isTaskDone)
      .when(Condition.stringEquals('$.task.state', 'completed'), copyImages)
      .when(Condition.stringEquals('$.task.state', 'failed'), useTaskFailure)
      .otherwise(waitForTask);
    waitForTask.next(pollTask);
    pollTask.next(isTaskDone);

    const createTask = new LambdaInvoke(this, StateNames.createTask, {
      lambdaFunction: props.createTask,
      payload: TaskInput.fromObject({ id: generationId }),
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      resultPath: '$.task',
      taskTimeout: Timeout.duration(Duration.minutes(2)),
    })
      .addRetry({ errors: errorNames(...LAMBDA_SERVICE_ERRORS), ...transientRetry })
      // Not SparkResponseParseError: a create answer we could not read may still have made a
      // task, and creating again would pay twice.
      .addRetry({ errors: errorNames(...RETRYABLE_SPARK_ERRORS), ...providerRetry })
      .addCatch(releaseCancelledSlot, {
        errors: errorNames('GenerationAlreadyFinishedError'),
        resultPath: '$.error',
      })
      .addCatch(classifyFailure, onError);
    createTask.next(waitForTask);

    // The concurrency cap: a slot is granted at once when one is free; otherwise the execution
    // waits (no polling, no transitions) until a finishing generation hands it its slot.
    const acquireSlot = new LambdaInvoke(this, StateNames.acquireSlot, {
      lambdaFunction: props.acquireSlot,
      integrationPattern: IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      retryOnServiceExceptions: false,
      payload: TaskInput.fromObject({
        id: generationId,
        token: JsonPath.taskToken,
        queuedAt,
      }),
      resultPath: '$.slot',
      taskTimeout: Timeout.duration(props.maxQueue),
    })
      .addRetry({
        errors: errorNames(...LAMBDA_SERVICE_ERRORS, ...SLOT_TRANSIENT_ERRORS),
        ...transientRetry,
      })
      .addCatch(useSlotWaitFailure, { errors: errorNames('States.Timeout'), resultPath: '$.error' })
      .addCatch(classifyFailure, onError);
    acquireSlot.next(createTask);

    // The record exists already for HTTP (the API writes it before answering 202); prompt files
    // and schedules start here. Either way it is left queued with its request and owner.
    const recordQueued = new DynamoUpdateItem(this, StateNames.recordQueued, {
      table,
      key: { id: DynamoAttributeValue.fromString(generationId) },
      updateExpression: [
        'SET #status = if_not_exists(#status, :queued)',
        '#owner = if_not_exists(#owner, :owner)',
        'ownerStatus = if_not_exists(ownerStatus, :ownerStatus)',
        '#request = if_not_exists(#request, :request)',
        '#source = if_not_exists(#source, :source)',
        'sourceRef = if_not_exists(sourceRef, :sourceRef)',
        'polls = if_not_exists(polls, :zero)',
        'images = if_not_exists(images, :noImages)',
        'createdAt = if_not_exists(createdAt, :now)',
        'unfinished = :unfinished',
        'updatedAt = :now',
      ].join(', '),
      // Running is allowed too: a generation carried on after a restart (or redriven) starts here
      // again, and CreateTask then finds its recorded task instead of paying for another.
      conditionExpression: 'attribute_not_exists(id) OR #status IN (:queued, :running)',
      expressionAttributeNames: {
        '#status': 'status',
        '#owner': 'owner',
        '#request': 'request',
        '#source': 'source',
      },
      expressionAttributeValues: {
        ':queued': DynamoAttributeValue.fromString('queued'),
        ':running': DynamoAttributeValue.fromString('running'),
        ':owner': DynamoAttributeValue.fromString(owner),
        ':ownerStatus': DynamoAttributeValue.fromString(JsonPath.format('{}#queued', owner)),
        ':unfinished': DynamoAttributeValue.fromString(UNFINISHED),
        ':request': DynamoAttributeValue.fromMap({
          prompt: DynamoAttributeValue.fromString(JsonPath.stringAt('$.request.prompt')),
          use_pre_llm: DynamoAttributeValue.booleanFromJsonPath(
            JsonPath.stringAt('$.request.use_pre_llm'),
          ),
          seed: DynamoAttributeValue.numberFromString(
            JsonPath.format('{}', JsonPath.stringAt('$.request.seed')),
          ),
          width: DynamoAttributeValue.numberFromString(
            JsonPath.format('{}', JsonPath.stringAt('$.request.width')),
          ),
          height: DynamoAttributeValue.numberFromString(
            JsonPath.format('{}', JsonPath.stringAt('$.request.height')),
          ),
        }),
        ':source': DynamoAttributeValue.fromString(JsonPath.stringAt('$.source')),
        ':sourceRef': DynamoAttributeValue.fromString(JsonPath.stringAt('$.sourceRef')),
        ':zero': DynamoAttributeValue.fromNumber(0),
        ':noImages': DynamoAttributeValue.fromList([]),
        ':now': DynamoAttributeValue.fromString(now),
      },
      resultPath: JsonPath.DISCARD,
    })
      .addRetry({ errors: errorNames(...DYNAMODB_TRANSIENT_ERRORS), ...transientRetry })
      .addCatch(alreadyFinished, { errors: errorNames(CONDITION_FAILED), resultPath: '$.error' })
      .addCatch(classifyFailure, onError);
    recordQueued.next(acquireSlot);

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
    allow(this.stateMachine, ['dynamodb:UpdateItem'], [table.tableArn]);
  }
}
