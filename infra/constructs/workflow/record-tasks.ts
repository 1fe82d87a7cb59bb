/**
 * The workflow's writes of the generation record: direct DynamoDB integrations, each built from
 * its transition in shared/generation/transitions.ts (expression, condition, attribute names and
 * fixed values), so the state machine and the functions write a transition the same way.
 */
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { TaskStateBase } from 'aws-cdk-lib/aws-stepfunctions';
import { CustomState, JsonPath } from 'aws-cdk-lib/aws-stepfunctions';
import { DynamoAttributeValue, DynamoUpdateItem } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { type TransitionDefinition, Transitions } from '#shared/generation/transitions.ts';
import type { RetryCatalogue } from './retries.ts';

/** Where the workflow finds a generation's identity and the time of a write. */
export const ExecutionPaths = {
  generationId: JsonPath.stringAt('$$.Execution.Name'),
  now: JsonPath.stringAt('$$.State.EnteredTime'),
  owner: JsonPath.stringAt('$.owner'),
  /** A waiting execution's place in the slot queue: when it started. */
  queuedAt: JsonPath.stringAt('$$.Execution.StartTime'),
} as const;

export interface RecordTaskProps {
  readonly table: ITableV2;
  readonly retries: RetryCatalogue;
}

/** A typed update task of one transition; `values` give what the transition does not fix. */
function transitionTask(
  scope: Construct,
  id: string,
  props: RecordTaskProps,
  transition: TransitionDefinition,
  values: Record<string, DynamoAttributeValue>,
): TaskStateBase {
  const fixed = Object.fromEntries(
    Object.entries(transition.fixedValues).map(([name, value]) => [
      name,
      DynamoAttributeValue.fromString(value),
    ]),
  );
  return new DynamoUpdateItem(scope, id, {
    table: props.table,
    key: { id: DynamoAttributeValue.fromString(ExecutionPaths.generationId) },
    updateExpression: transition.updateExpression,
    conditionExpression: transition.conditionExpression,
    expressionAttributeNames: { ...transition.attributeNames },
    expressionAttributeValues: { ...fixed, ...values },
    resultPath: JsonPath.DISCARD,
  }).addRetry(props.retries.dynamoDb);
}

/** The owner/status key of the record's new status (`<owner>#<status>`). */
const ownerStatusOf = (status: string) =>
  DynamoAttributeValue.fromString(JsonPath.format(`{}#${status}`, ExecutionPaths.owner));

/**
 * RecordQueued: the record exists already for HTTP (the API writes it before answering 202);
 * prompt files and schedules create it here. Either way it is left queued with its request and
 * owner.
 */
export function recordQueuedTask(scope: Construct, id: string, props: RecordTaskProps) {
  const number = (path: string) =>
    DynamoAttributeValue.numberFromString(JsonPath.format('{}', JsonPath.stringAt(path)));
  return transitionTask(scope, id, props, Transitions.queued, {
    ':owner': DynamoAttributeValue.fromString(ExecutionPaths.owner),
    ':ownerStatus': ownerStatusOf('queued'),
    ':request': DynamoAttributeValue.fromMap({
      prompt: DynamoAttributeValue.fromString(JsonPath.stringAt('$.request.prompt')),
      use_pre_llm: DynamoAttributeValue.booleanFromJsonPath(
        JsonPath.stringAt('$.request.use_pre_llm'),
      ),
      seed: number('$.request.seed'),
      width: number('$.request.width'),
      height: number('$.request.height'),
    }),
    ':source': DynamoAttributeValue.fromString(JsonPath.stringAt('$.source')),
    ':sourceRef': DynamoAttributeValue.fromString(JsonPath.stringAt('$.sourceRef')),
    ':zero': DynamoAttributeValue.fromNumber(0),
    ':noImages': DynamoAttributeValue.fromList([]),
    ':now': DynamoAttributeValue.fromString(ExecutionPaths.now),
  });
}

/** RecordFailure: the record failed with the classified `$.failure`. */
export function recordFailureTask(scope: Construct, id: string, props: RecordTaskProps) {
  return transitionTask(scope, id, props, Transitions.failed, {
    ':ownerStatus': ownerStatusOf('failed'),
    ':error': DynamoAttributeValue.fromMap({
      code: DynamoAttributeValue.fromString(JsonPath.stringAt('$.failure.code')),
      message: DynamoAttributeValue.fromString(JsonPath.stringAt('$.failure.message')),
    }),
    ':now': DynamoAttributeValue.fromString(ExecutionPaths.now),
  });
}

/**
 * RecordSuccess. A CustomState: the success write takes DynamoDB JSON straight from the steps'
 * results (images, usage, cost), which the typed task's value helpers cannot express. Not
 * granted by CDK: the construct grants its UpdateItem.
 */
export function recordSuccessTask(scope: Construct, id: string, props: RecordTaskProps) {
  const transition = Transitions.succeeded;
  const fixed = Object.fromEntries(
    Object.entries(transition.fixedValues).map(([name, value]) => [name, { S: value }]),
  );
  return new CustomState(scope, id, {
    stateJson: {
      Type: 'Task',
      Resource: 'arn:aws:states:::dynamodb:updateItem',
      Parameters: {
        TableName: props.table.tableName,
        Key: { id: { 'S.$': '$$.Execution.Name' } },
        UpdateExpression: transition.updateExpression,
        ConditionExpression: transition.conditionExpression,
        ExpressionAttributeNames: { ...transition.attributeNames },
        ExpressionAttributeValues: {
          ...fixed,
          ':ownerStatus': { 'S.$': "States.Format('{}#completed', $.owner)" },
          ':images': { 'L.$': '$.stored.dynamoImages' },
          ':usage.$': '$.task.attributes.usage',
          ':costUsd.$': '$.task.attributes.costUsd',
          ':expiresAt.$': '$.task.attributes.expiresAt',
          ':polls': { 'N.$': "States.Format('{}', $.task.polls)" },
          ':now': { 'S.$': '$$.State.EnteredTime' },
        },
      },
      ResultPath: null,
    },
  }).addRetry(props.retries.dynamoDb);
}

/**
 * The record keeps the event its publish state could not publish (the outbox), so the
 * reconciler's sweep publishes it later instead of it being lost.
 */
export function keepEventTask(
  scope: Construct,
  id: string,
  props: RecordTaskProps,
  status: 'completed' | 'failed',
  detailType: string,
) {
  return transitionTask(scope, id, props, Transitions.eventOwed(status), {
    ':event': DynamoAttributeValue.fromMap({
      detailType: DynamoAttributeValue.fromString(detailType),
      at: DynamoAttributeValue.fromString(ExecutionPaths.now),
    }),
  });
}
