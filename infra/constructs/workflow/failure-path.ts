/**
 * The workflow's failure path: whatever was caught is classified, the provider slot given back,
 * the record failed, the world told, and the execution failed with the generation's code. Every
 * task of the workflow catches into it, so every execution leaves its record terminal.
 */
import { Duration } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import {
  Fail,
  type IChainable,
  JsonPath,
  Pass,
  type State,
  TaskInput,
  Timeout,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { ErrorCodes } from '#shared/errors/codes.ts';
import { EVENT_FAILED } from '#shared/generation/events.ts';
import { type PublishTaskProps, publishFailedTask } from './publish-tasks.ts';
import {
  ExecutionPaths,
  keepEventTask,
  type RecordTaskProps,
  recordFailureTask,
} from './record-tasks.ts';
import { ANY_ERROR } from './retries.ts';

/** Names of the failure path's states (part of the workflow's `StateNames`). */
export const FailureStateNames = {
  useTaskFailure: 'UseTaskFailure',
  classifyFailure: 'ClassifyFailure',
  useInternalFailure: 'UseInternalFailure',
  useSlotWaitFailure: 'UseSlotWaitFailure',
  releaseSlot: 'ReleaseSlot',
  recordFailure: 'RecordFailure',
  publishFailed: 'PublishFailed',
  keepFailedEvent: 'KeepFailedEvent',
  generationFailed: 'GenerationFailed',
} as const;

export interface FailurePathProps extends RecordTaskProps, PublishTaskProps {
  readonly releaseSlot: IFunction;
  readonly classifyFailure: IFunction;
  /** The longest a generation may wait for a provider slot (the slot-wait failure's message). */
  readonly maxQueue: Duration;
}

/** The entries into the failure path. */
export interface FailurePath {
  /** Classifies the error a Catch put at `$.error`. */
  readonly classifyFailure: IChainable;
  /** Fails with the failure the provider (or the polling bounds) gave at `$.task.failure`. */
  readonly useTaskFailure: IChainable;
  /** Fails because no provider slot became free in time. */
  readonly useSlotWaitFailure: IChainable;
  /** The Catch of every task into {@link classifyFailure}. */
  readonly onError: { readonly errors: string[]; readonly resultPath: string };
}

/**
 * Gives the generation's provider slot back (a no-op when it holds none), then goes on to `next`
 * whatever happens: a release that fails is left to the reconciler rather than blocking what
 * follows.
 */
export function releaseSlotThen(
  scope: Construct,
  name: string,
  props: Pick<FailurePathProps, 'releaseSlot' | 'retries'>,
  next: State,
) {
  return new LambdaInvoke(scope, name, {
    lambdaFunction: props.releaseSlot,
    payload: TaskInput.fromObject({
      id: ExecutionPaths.generationId,
      queuedAt: ExecutionPaths.queuedAt,
    }),
    payloadResponseOnly: true,
    retryOnServiceExceptions: false,
    resultPath: JsonPath.DISCARD,
    taskTimeout: Timeout.duration(Duration.seconds(60)),
  })
    .addRetry(props.retries.slotFunction)
    .addCatch(next, { errors: ANY_ERROR, resultPath: '$.releaseError' })
    .next(next);
}

/** Builds the failure path, from its end (the Fail state) back to its entries. */
export function failurePath(scope: Construct, props: FailurePathProps): FailurePath {
  const generationFailed = new Fail(scope, FailureStateNames.generationFailed, {
    errorPath: JsonPath.stringAt('$.failure.code'),
    causePath: JsonPath.stringAt('$.failure.message'),
  });
  // An event PutEvents could not publish stays on the record for the reconciler to publish.
  const keepFailedEvent = keepEventTask(
    scope,
    FailureStateNames.keepFailedEvent,
    props,
    'failed',
    EVENT_FAILED,
  ).addCatch(generationFailed, { errors: ANY_ERROR, resultPath: '$.keepEventError' });
  keepFailedEvent.next(generationFailed);
  const publishFailed = publishFailedTask(scope, FailureStateNames.publishFailed, props).addCatch(
    keepFailedEvent,
    { errors: ANY_ERROR, resultPath: '$.eventError' },
  );
  publishFailed.next(generationFailed);
  const recordFailure = recordFailureTask(scope, FailureStateNames.recordFailure, props)
    // Already terminal (cancelled meanwhile): nothing to record, and no second event.
    .addCatch(generationFailed, { errors: ANY_ERROR, resultPath: '$.recordError' });
  recordFailure.next(publishFailed);

  // Every failure gives the provider slot back before recording (a no-op when none is held).
  const releaseSlot = releaseSlotThen(scope, FailureStateNames.releaseSlot, props, recordFailure);

  const useInternalFailure = new Pass(scope, FailureStateNames.useInternalFailure, {
    parameters: {
      code: ErrorCodes.INTERNAL_ERROR,
      message: 'Internal pipeline error (the failure could not be classified)',
    },
    resultPath: '$.failure',
  }).next(releaseSlot);
  const useSlotWaitFailure = new Pass(scope, FailureStateNames.useSlotWaitFailure, {
    comment: 'No provider slot became free within the queueing bound.',
    parameters: {
      code: ErrorCodes.SLOT_WAIT_EXCEEDED,
      message: `No provider slot became free within ${props.maxQueue.toSeconds()} s`,
    },
    resultPath: '$.failure',
  }).next(releaseSlot);
  const useTaskFailure = new Pass(scope, FailureStateNames.useTaskFailure, {
    comment: 'The provider ended the task as failed, or polling ran past its bounds.',
    inputPath: '$.task.failure',
    resultPath: '$.failure',
  }).next(releaseSlot);
  const classifyFailure = new LambdaInvoke(scope, FailureStateNames.classifyFailure, {
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
    .addRetry(props.retries.lambdaService)
    .addCatch(useInternalFailure, { errors: ANY_ERROR, resultPath: '$.classifyError' });
  classifyFailure.next(releaseSlot);

  return {
    classifyFailure,
    useTaskFailure,
    useSlotWaitFailure,
    onError: { errors: ANY_ERROR, resultPath: '$.error' },
  };
}
