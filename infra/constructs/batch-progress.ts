import { Duration } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { type IEventBus, Rule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { BatchProgressSettings } from '#shared/contracts/environment.ts';
import { environmentOf } from '#shared/contracts/setting.ts';
import { EVENT_SOURCE, GENERATION_EVENT_TYPES } from '#shared/generation/events.ts';
import { PROMPT_FILE_ID_PREFIX } from '#shared/prompt-files/ids.ts';
import { allow } from './grants.ts';
import { PipelineFunction } from './pipeline-function.ts';

export interface BatchProgressProps {
  readonly generationsTable: ITableV2;
  readonly batchesTable: ITableV2;
  readonly eventBus: IEventBus;
  /** Events the function still fails on after its retries. */
  readonly deadLetterQueue: IQueue;
}

/**
 * Batch progress: every end of a batch line (the generation events on the bus, delivered at least
 * once, published from the outbox when PutEvents failed) is counted in its batch, once, and the
 * batch ends (with its own event) when its file is read and every line has ended.
 */
export class BatchProgress extends Construct {
  public readonly function: PipelineFunction;

  constructor(scope: Construct, id: string, props: BatchProgressProps) {
    super(scope, id);
    this.function = new PipelineFunction(this, 'Function', {
      entryPoint: 'batch-progress',
      description: "Counts each batch line's end in its batch and ends the batch after its last",
      timeout: Duration.seconds(30),
      memorySize: 256,
      environment: environmentOf(BatchProgressSettings, {
        generationsTable: props.generationsTable.tableName,
        batchesTable: props.batchesTable.tableName,
        eventBusName: props.eventBus.eventBusName,
      }),
    });
    // The record is read and marked counted in the same transaction as the shard's counts.
    allow(
      this.function,
      ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
      [props.generationsTable.tableArn],
    );
    allow(
      this.function,
      ['dynamodb:BatchGetItem', 'dynamodb:UpdateItem'],
      [props.batchesTable.tableArn],
    );
    props.eventBus.grantPutEventsTo(this.function);
    // EventBridge invokes it asynchronously: an event it still fails on after Lambda's retries is
    // kept in the dead-letter queue with the error (nothing is lost: the count is idempotent, so
    // the event can be replayed).
    this.function.configureAsyncInvoke({
      retryAttempts: 2,
      onFailure: new SqsDestination(props.deadLetterQueue),
    });

    new Rule(this, 'LineEnded', {
      description: 'Ends of generations that are lines of a batch (prompt files)',
      eventBus: props.eventBus,
      eventPattern: {
        source: [EVENT_SOURCE],
        detailType: [...GENERATION_EVENT_TYPES],
        detail: { id: [{ prefix: PROMPT_FILE_ID_PREFIX }] },
      },
      targets: [
        new LambdaFunction(this.function, {
          deadLetterQueue: props.deadLetterQueue,
          retryAttempts: 8,
          maxEventAge: Duration.hours(6),
        }),
      ],
    });
  }
}
