/**
 * The workflow's PutEvents states, built from the event catalogue (shared/generation/events.ts):
 * the same source and detail-types the functions publish, with the detail shapes filled from the
 * execution's state.
 */
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import type { TaskStateBase } from 'aws-cdk-lib/aws-stepfunctions';
import { JsonPath, TaskInput } from 'aws-cdk-lib/aws-stepfunctions';
import { EventBridgePutEvents } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import {
  type CompletedDetail,
  EVENT_COMPLETED,
  EVENT_FAILED,
  EVENT_SOURCE,
  type FailedDetail,
} from '#shared/generation/events.ts';
import { ExecutionPaths } from './record-tasks.ts';
import type { RetryCatalogue } from './retries.ts';

export interface PublishTaskProps {
  readonly eventBus: IEventBus;
  readonly retries: RetryCatalogue;
}

/** Each field of a detail, as the path or value the state machine fills it from. */
type DetailPaths<Detail> = { readonly [Field in keyof Required<Detail>]: unknown };

function publishTask(
  scope: Construct,
  id: string,
  props: PublishTaskProps,
  detailType: string,
  detail: Record<string, unknown>,
): TaskStateBase {
  return new EventBridgePutEvents(scope, id, {
    entries: [
      {
        eventBus: props.eventBus,
        source: EVENT_SOURCE,
        detailType,
        detail: TaskInput.fromObject(detail),
      },
    ],
    resultPath: JsonPath.DISCARD,
  }).addRetry(props.retries.eventBridge);
}

/** "Generation Completed", from the copied images and the task's cost. */
export function publishCompletedTask(scope: Construct, id: string, props: PublishTaskProps) {
  const detail: DetailPaths<CompletedDetail> = {
    id: ExecutionPaths.generationId,
    owner: ExecutionPaths.owner,
    status: 'completed',
    source: JsonPath.stringAt('$.source'),
    sourceRef: JsonPath.stringAt('$.sourceRef'),
    images: JsonPath.listAt('$.stored.images'),
    costUsd: JsonPath.objectAt('$.task.costUsd'),
    webhookEvents: JsonPath.listAt('$.webhookEvents'),
  };
  return publishTask(scope, id, props, EVENT_COMPLETED, detail);
}

/** "Generation Failed", with the classified failure. */
export function publishFailedTask(scope: Construct, id: string, props: PublishTaskProps) {
  const detail: DetailPaths<FailedDetail> = {
    id: ExecutionPaths.generationId,
    owner: ExecutionPaths.owner,
    status: 'failed',
    source: JsonPath.stringAt('$.source'),
    sourceRef: JsonPath.stringAt('$.sourceRef'),
    error: JsonPath.objectAt('$.failure'),
    webhookEvents: JsonPath.listAt('$.webhookEvents'),
  };
  return publishTask(scope, id, props, EVENT_FAILED, detail);
}
