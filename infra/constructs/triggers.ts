import { Duration, RemovalPolicy, TimeZone } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { S3EventSourceV2 } from 'aws-cdk-lib/aws-lambda-event-sources';
import { EventType, type IBucket } from 'aws-cdk-lib/aws-s3';
import {
  ContextAttribute,
  Schedule,
  ScheduleExpression,
  ScheduleTargetInput,
} from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { API_KEYS_BY_OWNER_INDEX } from '#shared/api/key-table.ts';
import { PromptFileSettings, ScheduleFiringSettings } from '#shared/contracts/environment.ts';
import { environmentOf } from '#shared/contracts/setting.ts';
import { firingGenerationId, type ScheduleFiring } from '#shared/generation/schedule-firing.ts';
import { workflowInputSchema } from '#shared/generation/workflow-input.ts';
import {
  PROMPT_FILE_MAX_EVENT_AGE_SECONDS,
  PROMPT_FILE_TIMEOUT_SECONDS,
} from '#shared/prompt-files/attempts.ts';
import type { ScheduleConfig } from '../config.ts';
import { allow } from './grants.ts';
import { PipelineFunction, reservation } from './pipeline-function.ts';

export interface TriggersProps {
  readonly inputBucket: IBucket;
  readonly stateMachine: IStateMachine;
  /** Owner of schedules and of prompt files directly under `prompts/`. */
  readonly defaultOwner: string;
  /** Where a folder owner's API keys are looked up. */
  readonly apiKeysTable: ITableV2;
  /** Each prompt file is a batch: its lines' records go here, its head and counts there. */
  readonly generationsTable: ITableV2;
  readonly batchesTable: ITableV2;
  /** Where a batch that ends as its file is read announces it. */
  readonly eventBus: IEventBus;
  readonly recordRetentionDays: number;
  readonly promptFileMaxBytes: number;
  readonly promptFileMaxLines: number;
  readonly promptFileStartsPerSecond: number;
  /**
   * Prompt-file invocations reserved, out of the account's concurrency; 0 = no reservation.
   * @default 0
   */
  readonly promptFileReservedConcurrency?: number;
  /** Validated schedules (each request checked by the shared schema when the config was read). */
  readonly schedules: readonly ScheduleConfig[];
}

/** Prefix of prompt files in the input bucket; reports are written under `reports/`. */
export const PROMPTS_PREFIX = 'prompts/';

/** The workflow input of a schedule: fixed at synth time, so it is validated then. */
export function scheduleInput(
  schedule: ScheduleConfig,
  owner: string,
): ReturnType<typeof workflowInputSchema.parse> {
  return workflowInputSchema.parse({
    request: schedule.request,
    source: 'schedule',
    sourceRef: `schedule:${schedule.name}`,
    owner,
  });
}

/**
 * What a schedule's target hands the schedule-firing function: its name and workflow input, and
 * the firing's scheduled time (`<aws.scheduler.scheduled-time>`), the one value Scheduler keeps
 * the same across every delivery and retry of a firing. The function names the execution from it
 * (shared/generation/schedule-firing.ts).
 */
export function scheduleFiringEvent(
  schedule: ScheduleConfig,
  owner: string,
): Omit<ScheduleFiring, 'scheduledTime'> & { scheduledTime: string } {
  // The longest scheduled time must still leave a valid generation id (fails synth otherwise).
  firingGenerationId(schedule.name, '2030-01-01T00:00:00.000Z');
  return {
    schedule: schedule.name,
    scheduledTime: ContextAttribute.scheduledTime,
    input: scheduleInput(schedule, owner),
  };
}

/**
 * The two non-HTTP ways in: prompt files uploaded under `prompts/` (S3 -> prompt-file function,
 * one execution per valid line) and schedules (EventBridge Scheduler -> schedule-firing function,
 * which starts the execution named from the firing's scheduled time). Both are delivered at least
 * once and both name their executions, so a repeat starts nothing twice. Deliveries that fail for
 * good go to a dead-letter queue instead of being lost.
 */
export class Triggers extends Construct {
  public readonly promptFileFunction: PipelineFunction;
  /** Starts the generation of a schedule's firing (there is one whatever the schedules). */
  public readonly scheduleFiringFunction: PipelineFunction;
  public readonly schedules: readonly Schedule[];
  /** Prompt-file events and schedule firings that could not be delivered. */
  public readonly deadLetterQueue: Queue;

  constructor(scope: Construct, id: string, props: TriggersProps) {
    super(scope, id);
    this.deadLetterQueue = new Queue(this, 'DeadLetters', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.promptFileFunction = new PipelineFunction(this, 'PromptFile', {
      entryPoint: 'prompt-file',
      description: 'Starts one generation per valid line of a prompt file and writes its report',
      // 10,000 lines start in 400 s at 25 a second; a bigger file starts faster as the time left
      // runs short. A retry is cheap (idempotent names).
      timeout: Duration.seconds(PROMPT_FILE_TIMEOUT_SECONDS),
      memorySize: 512,
      // Bounded (5 by default, the stack config), so a burst of files cannot exceed the Step
      // Functions StartExecution rate; unreserved, a burst is paced by StartExecution's
      // throttling, which the starter retries.
      reservedConcurrentExecutions: reservation(props.promptFileReservedConcurrency),
      environment: environmentOf(PromptFileSettings, {
        stateMachineArn: props.stateMachine.stateMachineArn,
        defaultOwner: props.defaultOwner,
        maxBytes: props.promptFileMaxBytes,
        maxLines: props.promptFileMaxLines,
        startsPerSecond: props.promptFileStartsPerSecond,
        apiKeysTable: props.apiKeysTable.tableName,
        generationsTable: props.generationsTable.tableName,
        batchesTable: props.batchesTable.tableName,
        eventBusName: props.eventBus.eventBusName,
        recordRetentionDays: props.recordRetentionDays,
      }),
      // Only files in an owner's folder look up its keys (shared/api/key-owners.ts); a batch
      // event is published only when a file ends as it is read (no line accepted).
      sdkOnFirstUse: ['@aws-sdk/client-dynamodb', '@aws-sdk/client-eventbridge'],
    });
    allow(
      this.promptFileFunction,
      ['dynamodb:Query'],
      [`${props.apiKeysTable.tableArn}/index/${API_KEYS_BY_OWNER_INDEX.name}`],
    );
    allow(
      this.promptFileFunction,
      ['s3:GetObject', 's3:GetObjectVersion'],
      [props.inputBucket.arnForObjects(`${PROMPTS_PREFIX}*`)],
    );
    allow(
      this.promptFileFunction,
      ['s3:PutObject'],
      [props.inputBucket.arnForObjects('reports/*')],
    );
    props.stateMachine.grantStartExecution(this.promptFileFunction);
    // The batch (shared/batches/ledger.ts): each line's record is put with its count in one
    // transaction; the head is created, pinned to its file and told how far it has been read.
    allow(this.promptFileFunction, ['dynamodb:PutItem'], [props.generationsTable.tableArn]);
    allow(
      this.promptFileFunction,
      ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:BatchGetItem'],
      [props.batchesTable.tableArn],
    );
    props.eventBus.grantPutEventsTo(this.promptFileFunction);
    this.promptFileFunction.configureAsyncInvoke({
      retryAttempts: 2,
      // The reconciler gives up on a batch whose reading stood still past this age (+ a try).
      maxEventAge: Duration.seconds(PROMPT_FILE_MAX_EVENT_AGE_SECONDS),
      onFailure: new SqsDestination(this.deadLetterQueue),
    });
    this.promptFileFunction.addEventSource(
      new S3EventSourceV2(props.inputBucket, {
        events: [EventType.OBJECT_CREATED],
        filters: [{ prefix: PROMPTS_PREFIX }],
      }),
    );

    this.scheduleFiringFunction = new PipelineFunction(this, 'ScheduleFiring', {
      entryPoint: 'schedule-firing',
      description: "Starts the generation of a schedule's firing, named from its scheduled time",
      timeout: Duration.seconds(30),
      memorySize: 128,
      environment: environmentOf(ScheduleFiringSettings, {
        stateMachineArn: props.stateMachine.stateMachineArn,
      }),
    });
    props.stateMachine.grantStartExecution(this.scheduleFiringFunction);
    // Scheduler invokes it asynchronously: an invocation that still fails after Lambda's retries
    // goes to the dead-letter queue with its error, as an undeliverable firing does.
    this.scheduleFiringFunction.configureAsyncInvoke({
      retryAttempts: 2,
      onFailure: new SqsDestination(this.deadLetterQueue),
    });

    this.schedules = props.schedules.map(
      (schedule) =>
        new Schedule(this, `Schedule-${schedule.name}`, {
          description: schedule.description ?? `spark-t2i schedule ${schedule.name}`,
          schedule: ScheduleExpression.expression(
            schedule.expression,
            TimeZone.of(schedule.timeZone),
          ),
          enabled: schedule.enabled,
          target: new LambdaInvoke(this.scheduleFiringFunction, {
            input: ScheduleTargetInput.fromObject(
              scheduleFiringEvent(schedule, props.defaultOwner),
            ),
            deadLetterQueue: this.deadLetterQueue,
            maxEventAge: Duration.hours(1),
            retryAttempts: 10,
          }),
        }),
    );
  }
}
