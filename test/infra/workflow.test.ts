import validateAsl from 'asl-validator';
import { beforeAll, describe, expect, it } from 'vitest';
import { EVENT_COMPLETED, EVENT_FAILED, EVENT_SOURCE } from '#shared/generation/events.ts';
import { Transitions } from '#shared/generation/transitions.ts';
import { RETRYABLE_SPARK_ERRORS } from '#shared/spark/errors.ts';
import { StateNames } from '../../infra/constructs/workflow.ts';
import { type AslDefinition, type AslState, synthesizeStack } from '../helpers/stack.ts';

let asl: AslDefinition;
const state = (name: string): AslState => {
  const found = asl.States[name];
  if (!found) throw new Error(`no state ${name}`);
  return found;
};
const retriedErrors = (name: string) =>
  (state(name).Retry ?? []).flatMap((retry) => retry.ErrorEquals);

beforeAll(() => {
  ({ asl } = synthesizeStack({ polling: { maxElapsedSeconds: 1200 }, maxQueueSeconds: 3600 }));
});

describe('the generation state machine, as synthesized', () => {
  it('is valid ASL (asl-validator) in JSONPath, starting by recording the generation', () => {
    const result = validateAsl(asl);
    expect(result.errorsText()).toBe('');
    expect(result.isValid).toBe(true);
    expect(asl.QueryLanguage ?? 'JSONPath').toBe('JSONPath');
    expect(asl.StartAt).toBe(StateNames.recordQueued);
  });

  it('has a machine timeout beyond the queueing and polling bounds', () => {
    expect(asl.TimeoutSeconds).toBe(3600 + 1200 + 15 * 60);
  });

  it('goes RecordQueued -> AcquireSlot -> CreateTask -> WaitForTask -> PollTask -> IsTaskDone', () => {
    expect(state(StateNames.recordQueued).Next).toBe(StateNames.acquireSlot);
    expect(state(StateNames.acquireSlot).Next).toBe(StateNames.createTask);
    expect(state(StateNames.createTask).Next).toBe(StateNames.waitForTask);
    expect(state(StateNames.waitForTask).Next).toBe(StateNames.pollTask);
    expect(state(StateNames.pollTask).Next).toBe(StateNames.isTaskDone);
  });

  it("gives CreateTask the slot's grant time, the bound within which a throttled create is asked again", () => {
    expect(state(StateNames.createTask)).toMatchObject({
      Parameters: { 'id.$': '$$.Execution.Name', 'startedAt.$': '$.slot.acquiredAt' },
    });
  });

  it('waits for the number of seconds the poll step answered', () => {
    expect(state(StateNames.waitForTask)).toMatchObject({
      Type: 'Wait',
      SecondsPath: '$.task.nextWaitSeconds',
    });
  });

  it('routes on the task state: completed to CopyImages, failed to the failure record, a throttled create to CreateTask again, else wait', () => {
    const choice = state(StateNames.isTaskDone);
    expect(choice.Choices).toEqual([
      { Variable: '$.task.state', StringEquals: 'completed', Next: StateNames.copyImages },
      { Variable: '$.task.state', StringEquals: 'failed', Next: StateNames.useTaskFailure },
      { Variable: '$.task.state', StringEquals: 'throttled', Next: StateNames.createTask },
    ]);
    expect(choice.Default).toBe(StateNames.waitForTask);
    expect(state(StateNames.useTaskFailure).Next).toBe(StateNames.releaseSlot);
  });

  it('waits for a provider slot with a task token, bounded by the queueing limit', () => {
    expect(state(StateNames.acquireSlot)).toMatchObject({
      Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
      Parameters: {
        Payload: {
          'id.$': '$$.Execution.Name',
          'token.$': '$$.Task.Token',
          'queuedAt.$': '$$.Execution.StartTime',
        },
      },
      ResultPath: '$.slot',
      TimeoutSeconds: 3600,
    });
    expect(state(StateNames.acquireSlot).Catch?.[0]).toEqual({
      ErrorEquals: ['States.Timeout'],
      Next: StateNames.useSlotWaitFailure,
      ResultPath: '$.error',
    });
    expect(state(StateNames.useSlotWaitFailure)).toMatchObject({
      Type: 'Pass',
      Parameters: { code: '090003011' },
      Next: StateNames.releaseSlot,
    });
  });

  it('gives the slot back on every failure before recording it, even when the release fails', () => {
    for (const name of [
      StateNames.classifyFailure,
      StateNames.useInternalFailure,
      StateNames.useTaskFailure,
      StateNames.useSlotWaitFailure,
    ]) {
      expect(state(name).Next).toBe(StateNames.releaseSlot);
    }
    expect(state(StateNames.releaseSlot)).toMatchObject({
      Parameters: { 'id.$': '$$.Execution.Name' },
      ResultPath: null,
      Next: StateNames.recordFailure,
    });
    expect(state(StateNames.releaseSlot).Catch).toEqual([
      { ErrorEquals: ['States.ALL'], Next: StateNames.recordFailure, ResultPath: '$.releaseError' },
    ]);
  });

  it('ends a success with RecordSuccess (DynamoDB, no Lambda) then PublishCompleted (EventBridge)', () => {
    expect(state(StateNames.copyImages).Next).toBe(StateNames.recordSuccess);
    expect(state(StateNames.recordSuccess)).toMatchObject({
      Resource: 'arn:aws:states:::dynamodb:updateItem',
      Next: StateNames.publishCompleted,
    });
    expect(state(StateNames.publishCompleted)).toMatchObject({
      Resource: 'arn:aws:states:::events:putEvents',
      End: true,
    });
  });

  it('ends a failure with RecordFailure (DynamoDB), PublishFailed (EventBridge) and a Fail state carrying the code', () => {
    expect(state(StateNames.recordFailure)).toMatchObject({
      Resource: 'arn:aws:states:::dynamodb:updateItem',
      Next: StateNames.publishFailed,
    });
    expect(state(StateNames.publishFailed).Next).toBe(StateNames.generationFailed);
    expect(state(StateNames.generationFailed)).toMatchObject({
      Type: 'Fail',
      ErrorPath: '$.failure.code',
      CausePath: '$.failure.message',
    });
  });

  it('writes records only forward: every status write is conditional on a non-terminal status', () => {
    for (const name of [StateNames.recordSuccess, StateNames.recordFailure]) {
      expect(state(name).Parameters).toMatchObject({
        ConditionExpression: '#status IN (:queued, :running)',
      });
    }
    expect(state(StateNames.recordQueued).Parameters).toMatchObject({
      ConditionExpression: 'attribute_not_exists(id) OR #status IN (:queued, :running)',
    });
  });

  it.each(Object.values(StateNames))(
    'gives task state %s an explicit retry and a catch',
    (name) => {
      const current = state(name);
      if (current.Type !== 'Task') return;
      expect(current.Retry?.length).toBeGreaterThan(0);
      expect(current.Catch?.some((c) => c.ErrorEquals.includes('States.ALL'))).toBe(true);
    },
  );

  it.each(Object.values(StateNames))(
    'uses full jitter and a delay cap on every retry of %s',
    (name) => {
      for (const retry of state(name).Retry ?? []) {
        expect(retry.JitterStrategy).toBe('FULL');
        expect(retry.MaxDelaySeconds).toBeGreaterThan(0);
        expect(retry.MaxAttempts).toBeLessThanOrEqual(5);
        expect(retry.ErrorEquals).not.toContain('States.ALL');
      }
    },
  );

  it('retries provider throttling and 5xx on CreateTask and PollTask, never 4xx rejections', () => {
    for (const name of [StateNames.createTask, StateNames.pollTask]) {
      expect(retriedErrors(name)).toEqual(expect.arrayContaining([...RETRYABLE_SPARK_ERRORS]));
      expect(retriedErrors(name)).not.toContain('SparkRejectedError');
      expect(retriedErrors(name)).not.toContain('SparkAuthError');
      const providerRetry = state(name).Retry?.find((retry) =>
        retry.ErrorEquals.includes('SparkThrottledError'),
      );
      expect(providerRetry).toMatchObject({
        BackoffRate: 2,
        JitterStrategy: 'FULL',
        MaxDelaySeconds: 30,
      });
    }
  });

  it('retries an unparseable poll answer a bounded number of times, but never re-creates on one', () => {
    const pollParse = state(StateNames.pollTask).Retry?.find((retry) =>
      retry.ErrorEquals.includes('SparkResponseParseError'),
    );
    expect(pollParse?.MaxAttempts).toBe(3);
    expect(retriedErrors(StateNames.createTask)).not.toContain('SparkResponseParseError');
  });

  it('retries a failed or truncated image download a bounded number of times', () => {
    const copyRetry = state(StateNames.copyImages).Retry?.find((retry) =>
      retry.ErrorEquals.includes('ImageTruncatedError'),
    );
    expect(copyRetry).toMatchObject({
      ErrorEquals: ['ImageDownloadError', 'ImageTruncatedError'],
      MaxAttempts: 3,
    });
  });

  it('sends caught errors to ClassifyFailure, whose own failure still reaches the failure record', () => {
    for (const name of [StateNames.createTask, StateNames.pollTask, StateNames.copyImages]) {
      const catchAll = state(name).Catch?.find((c) => c.ErrorEquals.includes('States.ALL'));
      expect(catchAll).toEqual({
        ErrorEquals: ['States.ALL'],
        Next: StateNames.classifyFailure,
        ResultPath: '$.error',
      });
    }
    expect(state(StateNames.classifyFailure)).toMatchObject({
      Parameters: { 'Error.$': '$.error.Error', 'Cause.$': '$.error.Cause' },
      ResultPath: '$.failure',
      Next: StateNames.releaseSlot,
    });
    expect(state(StateNames.classifyFailure).Catch?.[0]?.Next).toBe(StateNames.useInternalFailure);
    expect(state(StateNames.useInternalFailure).Next).toBe(StateNames.releaseSlot);
  });

  it.each([
    // Names AWS documents (docs/decisions.md D20 names the pages): DynamoDB's errors without an
    // SDK class of their own (its throttling among them), and PutEvents' failed entries.
    ['arn:aws:states:::dynamodb:updateItem', 'DynamoDB.AmazonDynamoDBException'],
    ['arn:aws:states:::events:putEvents', 'EventBridge.FailedEntry'],
  ])('retries every %s task on %s, the name its throttling arrives under', (resource, name) => {
    const tasks = Object.values(asl.States).filter((candidate) => candidate.Resource === resource);
    expect(tasks.length).toBeGreaterThan(0);
    for (const task of tasks) {
      expect(task.Retry?.flatMap((retry) => retry.ErrorEquals)).toContain(name);
      // Names no Step Functions error carries: error codes where it reports SDK class names.
      expect(task.Retry?.flatMap((retry) => retry.ErrorEquals)).not.toEqual(
        expect.arrayContaining([
          expect.stringMatching(/\.(ThrottlingException|RequestLimitExceeded)$/),
        ]),
      );
    }
  });

  it('leaves a record that is already terminal alone (cancelled meanwhile)', () => {
    const onConflict = state(StateNames.recordSuccess).Catch?.[0];
    expect(onConflict).toMatchObject({
      ErrorEquals: ['DynamoDB.ConditionalCheckFailedException'],
      Next: StateNames.alreadyFinished,
    });
    // Cancelled while holding a slot: the slot goes back before the execution ends.
    expect(state(StateNames.createTask).Catch?.[0]).toMatchObject({
      ErrorEquals: ['GenerationAlreadyFinishedError'],
      Next: StateNames.releaseCancelledSlot,
    });
    expect(state(StateNames.releaseCancelledSlot).Next).toBe(StateNames.alreadyFinished);
  });

  it('passes the poll step its task, the generation id and when its slot was granted', () => {
    expect(state(StateNames.pollTask)).toMatchObject({
      Parameters: {
        'id.$': '$$.Execution.Name',
        'task.$': '$.task',
        'startedAt.$': '$.slot.acquiredAt',
      },
      ResultPath: '$.task',
    });
  });

  it('writes images, usage and cost in the success record straight from the steps', () => {
    expect(state(StateNames.recordSuccess).Parameters).toMatchObject({
      ExpressionAttributeValues: {
        ':images': { 'L.$': '$.stored.dynamoImages' },
        ':usage.$': '$.task.attributes.usage',
        ':costUsd.$': '$.task.attributes.costUsd',
      },
    });
  });

  it.each([
    [StateNames.recordQueued, Transitions.queued],
    [StateNames.recordSuccess, Transitions.succeeded],
    [StateNames.recordFailure, Transitions.failed],
    [StateNames.keepCompletedEvent, Transitions.eventOwed('completed')],
    [StateNames.keepFailedEvent, Transitions.eventOwed('failed')],
  ])('builds %s from its transition in shared/generation/transitions.ts', (name, transition) => {
    const parameters = state(name).Parameters as Record<string, unknown>;
    expect(parameters.UpdateExpression).toBe(transition.updateExpression);
    expect(parameters.ConditionExpression).toBe(transition.conditionExpression);
    expect(parameters.ExpressionAttributeNames).toEqual(transition.attributeNames);
    for (const [placeholder, value] of Object.entries(transition.fixedValues)) {
      expect(parameters.ExpressionAttributeValues).toHaveProperty([placeholder], { S: value });
    }
  });

  it.each([
    [
      StateNames.publishCompleted,
      EVENT_COMPLETED,
      StateNames.keepCompletedEvent,
      StateNames.eventNotPublished,
    ],
    [
      StateNames.publishFailed,
      EVENT_FAILED,
      StateNames.keepFailedEvent,
      StateNames.generationFailed,
    ],
  ])(
    'publishes %s from the event catalogue, and keeps an unpublished event on the record',
    (name, detailType, keep, end) => {
      const entry = (state(name).Parameters as { Entries: Array<Record<string, unknown>> })
        .Entries[0];
      expect(entry).toMatchObject({ Source: EVENT_SOURCE, DetailType: detailType });
      expect(state(name).Catch).toEqual([
        { ErrorEquals: ['States.ALL'], Next: keep, ResultPath: '$.eventError' },
      ]);
      expect(state(keep)).toMatchObject({
        Resource: 'arn:aws:states:::dynamodb:updateItem',
        Next: end,
        Parameters: {
          ExpressionAttributeValues: {
            ':event': {
              M: { detailType: { S: detailType }, at: { 'S.$': '$$.State.EnteredTime' } },
            },
          },
        },
      });
    },
  );
});
