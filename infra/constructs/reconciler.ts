import { Duration } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { type IEventBus, Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { BatchesTableSchema } from '#shared/batches/model.ts';
import { ReconcilerSettings, SlotSettings } from '#shared/contracts/environment.ts';
import { environmentOf } from '#shared/contracts/setting.ts';
import { executionArnOf } from '#shared/generation/executions.ts';
import { GenerationsTableSchema } from '#shared/generation/model.ts';
import { allow } from './grants.ts';
import { PipelineFunction, reservation } from './pipeline-function.ts';

export interface ReconcilerProps {
  readonly generationsTable: ITableV2;
  readonly batchesTable: ITableV2;
  readonly slotsTable: ITableV2;
  readonly maxConcurrentTasks: number;
  /** The generation state machine's ARN (a plain string; see WorkflowSteps). */
  readonly stateMachineArn: string;
  /** The longest an execution can run (the machine's timeout). */
  readonly maxExecution: Duration;
  /** Days a generation record is kept (its `expiresAt`). */
  readonly recordRetentionDays: number;
  readonly eventBus: IEventBus;
  /**
   * Invocations reserved for it, out of the account's concurrency; 0 = no reservation.
   * @default 0
   */
  readonly reservedConcurrency?: number;
  /** How often to sweep. @default 5 minutes */
  readonly every?: Duration;
  /** Where events the function could not handle after retries go. */
  readonly deadLetterQueue: IQueue;
}

/** The execution statuses that can leave a record unfinished and a slot taken. */
export const RECONCILED_STATUSES = ['FAILED', 'TIMED_OUT', 'ABORTED'] as const;

/**
 * The reconciler (docs/reliability.md): a function run on every execution of the generation state
 * machine that ends FAILED, TIMED_OUT or ABORTED (Step Functions' own status-change events on the
 * default bus), and on a schedule as a sweep. It gives back provider slots of executions that
 * are no longer running, ends their records as failed (`090003008`), and hands freed slots on.
 */
export class Reconciler extends Construct {
  public readonly function: PipelineFunction;

  constructor(scope: Construct, id: string, props: ReconcilerProps) {
    super(scope, id);
    const stateMachineArn = props.stateMachineArn;
    this.function = new PipelineFunction(this, 'Function', {
      entryPoint: 'reconciler',
      description: 'Frees provider slots and ends records left behind by dead executions',
      timeout: Duration.minutes(5),
      // Two at a time by default (the stack config): an execution-ended event need not wait
      // behind a running sweep. What they write cannot undo each other (a record only moves
      // forward, a slot is given back by its holder's id, which is idempotent); more would only
      // race for the same slots, and a burst of ended executions (a provider outage) queues
      // instead of taking the account's concurrency. Unreserved, that is all it loses.
      reservedConcurrentExecutions: reservation(props.reservedConcurrency),
      environment: {
        ...environmentOf(ReconcilerSettings, {
          generationsTable: props.generationsTable.tableName,
          batchesTable: props.batchesTable.tableName,
          stateMachineArn,
          eventBusName: props.eventBus.eventBusName,
          maxExecutionSeconds: props.maxExecution.toSeconds(),
          recordRetentionDays: props.recordRetentionDays,
        }),
        ...environmentOf(SlotSettings, {
          slotsTable: props.slotsTable.tableName,
          maxConcurrentTasks: props.maxConcurrentTasks,
        }),
      },
    });
    allow(
      this.function,
      ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
      [props.generationsTable.tableArn],
    );
    // The sweep pages through the sparse index of unfinished generations (no Scan).
    allow(
      this.function,
      ['dynamodb:Query'],
      [`${props.generationsTable.tableArn}/index/${GenerationsTableSchema.unfinishedIndex.name}`],
    );
    // Frees slots and hands them over (shared/generation/slots.ts): claims a waiter (an update),
    // wakes it and takes it off the queue (a delete); it never queues one.
    allow(
      this.function,
      ['dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:Query'],
      [props.slotsTable.tableArn],
    );
    // The batch sweep (shared/batches/sweep.ts): owed batch events, and the line ends of a batch
    // whose counts stand still, counted in the same transaction as the records they mark.
    allow(
      this.function,
      ['dynamodb:Query'],
      [
        `${props.batchesTable.tableArn}/index/${BatchesTableSchema.outboxIndex.name}`,
        `${props.batchesTable.tableArn}/index/${BatchesTableSchema.unfinishedIndex.name}`,
        `${props.generationsTable.tableArn}/index/${GenerationsTableSchema.byBatchIndex.name}`,
      ],
    );
    allow(
      this.function,
      ['dynamodb:BatchGetItem', 'dynamodb:UpdateItem'],
      [props.batchesTable.tableArn],
    );
    allow(this.function, ['states:SendTaskSuccess'], [stateMachineArn]);
    allow(this.function, ['states:DescribeExecution'], [executionArnOf(stateMachineArn, '*')]);
    props.eventBus.grantPutEventsTo(this.function);

    const target = new LambdaFunction(this.function, {
      deadLetterQueue: props.deadLetterQueue,
      retryAttempts: 4,
      maxEventAge: Duration.hours(2),
    });
    new Rule(this, 'ExecutionEnded', {
      description: 'Generation executions that ended without the workflow recording an outcome',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: { stateMachineArn: [stateMachineArn], status: [...RECONCILED_STATUSES] },
      },
      targets: [target],
    });
    new Rule(this, 'Sweep', {
      description: 'Periodic sweep for slots and records left behind',
      schedule: Schedule.rate(props.every ?? Duration.minutes(5)),
      targets: [target],
    });
  }
}
