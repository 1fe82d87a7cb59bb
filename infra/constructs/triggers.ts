import { Duration, RemovalPolicy, TimeZone } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { S3EventSourceV2 } from 'aws-cdk-lib/aws-lambda-event-sources';
import { EventType, type IBucket } from 'aws-cdk-lib/aws-s3';
import {
  ContextAttribute,
  Schedule,
  ScheduleExpression,
  ScheduleTargetInput,
} from 'aws-cdk-lib/aws-scheduler';
import { Universal } from 'aws-cdk-lib/aws-scheduler-targets';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { API_KEYS_BY_OWNER_INDEX, API_KEYS_TABLE_VARIABLE } from '../../shared/api/key-table.ts';
import { EnvNames } from '../../shared/config/env.ts';
import {
  generationIdSchema,
  type WorkflowInput,
  workflowInputSchema,
} from '../../shared/generation/model.ts';
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
export function scheduleInput(schedule: ScheduleConfig, owner: string): WorkflowInput {
  return workflowInputSchema.parse({
    request: schedule.request,
    source: 'schedule',
    sourceRef: `schedule:${schedule.name}`,
    owner,
  });
}

/**
 * Scheduler's id of one firing (`<aws.scheduler.execution-id>`): it identifies the invocation,
 * while `<aws.scheduler.attempt-number>` counts Scheduler's attempts at it, so every retry and
 * every repeated delivery of one firing carries the same id. (The scheduled time is stable too,
 * but it holds `:`, which an execution name may not.)
 */
export const FIRING_ID = ContextAttribute.executionId;

/** Room left for the firing id in an 80-character execution name. */
const SCHEDULE_NAME_IN_ID = 40;

/**
 * The execution name, and so the generation id, of a schedule's firing: `s_<schedule>_<firing
 * id>`. Step Functions starts a name once (the same name and input while it runs answers the
 * running execution; afterwards it is ExecutionAlreadyExists), so a firing delivered twice
 * makes one generation.
 */
export function scheduleExecutionName(scheduleName: string, firingId: string = FIRING_ID): string {
  return `s_${scheduleName.slice(0, SCHEDULE_NAME_IN_ID)}_${firingId}`;
}

/** The `sfn:StartExecution` request Scheduler sends for a schedule (a universal target). */
export function scheduleStartExecution(
  schedule: ScheduleConfig,
  owner: string,
  stateMachineArn: string,
): { StateMachineArn: string; Name: string; Input: string } {
  // A firing id as long as a UUID must still leave a valid generation id.
  const longest = scheduleExecutionName(schedule.name, 'f'.repeat(36));
  if (!generationIdSchema.safeParse(longest).success) {
    throw new Error(`Schedule "${schedule.name}" cannot name its executions (${longest})`);
  }
  return {
    StateMachineArn: stateMachineArn,
    Name: scheduleExecutionName(schedule.name),
    Input: JSON.stringify(scheduleInput(schedule, owner)),
  };
}

/**
 * The two non-HTTP ways in: prompt files uploaded under `prompts/` (S3 -> prompt-file function,
 * one execution per valid line) and schedules (EventBridge Scheduler -> StartExecution on the
 * state machine itself, no function in between, each firing naming its execution). Both are
 * delivered at least once and both name their executions, so a repeat starts nothing twice.
 * Deliveries that fail for good go to a dead-letter queue instead of being lost.
 */
export class Triggers extends Construct {
  public readonly promptFileFunction: PipelineFunction;
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
      timeout: Duration.minutes(15),
      memorySize: 512,
      // Bounded (5 by default, the stack config), so a burst of files cannot exceed the Step
      // Functions StartExecution rate; unreserved, a burst is paced by StartExecution's
      // throttling, which the starter retries.
      reservedConcurrentExecutions: reservation(props.promptFileReservedConcurrency),
      environment: {
        [EnvNames.stateMachineArn]: props.stateMachine.stateMachineArn,
        DEFAULT_OWNER: props.defaultOwner,
        PROMPT_FILE_MAX_BYTES: String(props.promptFileMaxBytes),
        PROMPT_FILE_MAX_LINES: String(props.promptFileMaxLines),
        PROMPT_FILE_STARTS_PER_SECOND: String(props.promptFileStartsPerSecond),
        [API_KEYS_TABLE_VARIABLE]: props.apiKeysTable.tableName,
      },
      // Only files in an owner's folder look up its keys (shared/api/key-owners.ts).
      sdkOnFirstUse: ['@aws-sdk/client-dynamodb'],
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
    this.promptFileFunction.configureAsyncInvoke({
      retryAttempts: 2,
      onFailure: new SqsDestination(this.deadLetterQueue),
    });
    this.promptFileFunction.addEventSource(
      new S3EventSourceV2(props.inputBucket, {
        events: [EventType.OBJECT_CREATED],
        filters: [{ prefix: PROMPTS_PREFIX }],
      }),
    );

    this.schedules = props.schedules.map(
      (schedule) =>
        new Schedule(this, `Schedule-${schedule.name}`, {
          description: schedule.description ?? `spark-t2i schedule ${schedule.name}`,
          schedule: ScheduleExpression.expression(
            schedule.expression,
            TimeZone.of(schedule.timeZone),
          ),
          enabled: schedule.enabled,
          // A universal target rather than the templated one: only it can name the execution.
          target: new Universal({
            service: 'sfn',
            action: 'startExecution',
            input: ScheduleTargetInput.fromObject(
              scheduleStartExecution(
                schedule,
                props.defaultOwner,
                props.stateMachine.stateMachineArn,
              ),
            ),
            policyStatements: [
              new PolicyStatement({
                actions: ['states:StartExecution'],
                resources: [props.stateMachine.stateMachineArn],
              }),
            ],
            deadLetterQueue: this.deadLetterQueue,
            maxEventAge: Duration.hours(1),
            retryAttempts: 10,
          }),
        }),
    );
  }
}
