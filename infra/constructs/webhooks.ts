import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { type IEventBus, Rule } from 'aws-cdk-lib/aws-events';
import { SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { WebhookDeliverySettings } from '#shared/contracts/environment.ts';
import { environmentOf } from '#shared/contracts/setting.ts';
import { EVENT_SOURCE } from '#shared/generation/events.ts';
import { MAX_ATTEMPTS } from '#shared/webhooks/backoff.ts';
import { WEBHOOK_EVENT_OF_DETAIL_TYPE } from '#shared/webhooks/bus-events.ts';
import { DELIVERY_ATTRIBUTES } from '#shared/webhooks/deliveries.ts';
import { allow } from './grants.ts';
import { PipelineFunction } from './pipeline-function.ts';

export interface WebhooksProps {
  readonly eventBus: IEventBus;
  readonly generationsTable: ITableV2;
  readonly batchesTable: ITableV2;
  /** Where the owners' signing secrets are kept. */
  readonly apiKeysTable: ITableV2;
  /** The body's image URLs are pre-signed on it, as GET answers them. */
  readonly imagesBucket: IBucket;
  readonly presignedUrlTtlSeconds: number;
  /**
   * Messages the function takes at once (each a POST of up to 10 s, sent together).
   * @default 5
   */
  readonly batchSize?: number;
  /** Concurrent invocations at most, whatever the queue's depth. @default 5 */
  readonly maxConcurrency?: number;
}

/** Each attempt of an event is one receive; past this many, a message is dead-lettered. */
const MAX_RECEIVES = MAX_ATTEMPTS + 5;

/**
 * Webhook deliveries through managed parts: a rule per deliverable event on the bus, matching
 * only events whose webhook asked for them (so a generation without a webhook costs nothing
 * here), sends them to a queue; a function takes them in small batches, POSTs each once, and
 * schedules its retry by hiding the message (ChangeMessageVisibility) for the backoff's wait.
 * A delivery given up on is put in the dead-letter queue by the function; a message that keeps
 * failing before any decision is moved there by the redrive policy. The stack alarms on its depth.
 */
export class Webhooks extends Construct {
  public readonly queue: Queue;
  public readonly deadLetterQueue: Queue;
  public readonly function: PipelineFunction;

  constructor(scope: Construct, id: string, props: WebhooksProps) {
    super(scope, id);
    const batchSize = props.batchSize ?? 5;
    const maxConcurrency = props.maxConcurrency ?? 5;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10) {
      throw new Error(`batchSize must be a whole number from 1 to 10, not ${batchSize}`);
    }
    if (!Number.isInteger(maxConcurrency) || maxConcurrency < 2 || maxConcurrency > 1000) {
      throw new Error(
        `maxConcurrency must be a whole number from 2 to 1000, not ${maxConcurrency}`,
      );
    }
    const timeout = Duration.seconds(30);

    this.deadLetterQueue = new Queue(this, 'DeadLetters', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.queue = new Queue(this, 'Deliveries', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // Longer than the 24 h of retries, with room for an outage of the function.
      retentionPeriod: Duration.days(4),
      // Lambda's advice: six times the function's timeout, so a batch is not received twice.
      visibilityTimeout: Duration.seconds(timeout.toSeconds() * 6),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: MAX_RECEIVES },
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.function = new PipelineFunction(this, 'Function', {
      entryPoint: 'deliver-webhooks',
      description: 'Delivers signed webhooks of generation and batch ends, retrying for 24 h',
      timeout,
      memorySize: 256,
      environment: environmentOf(WebhookDeliverySettings, {
        generationsTable: props.generationsTable.tableName,
        batchesTable: props.batchesTable.tableName,
        apiKeysTable: props.apiKeysTable.tableName,
        presignedUrlTtlSeconds: props.presignedUrlTtlSeconds,
        queueUrl: this.queue.queueUrl,
        deadLetterQueueUrl: this.deadLetterQueue.queueUrl,
      }),
    });
    this.function.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize,
        maxConcurrency,
        reportBatchItemFailures: true,
      }),
    );
    // The subject's view (the whole record), its attempts and final failure (those attributes only).
    allow(this.function, ['dynamodb:GetItem'], [props.generationsTable.tableArn]);
    allow(this.function, ['dynamodb:UpdateItem'], [props.generationsTable.tableArn], {
      'ForAllValues:StringEquals': {
        'dynamodb:Attributes': ['id', DELIVERY_ATTRIBUTES.attempts, DELIVERY_ATTRIBUTES.failure],
      },
    });
    allow(
      this.function,
      ['dynamodb:GetItem', 'dynamodb:BatchGetItem'],
      [props.batchesTable.tableArn],
    );
    allow(this.function, ['dynamodb:UpdateItem'], [props.batchesTable.tableArn], {
      'ForAllValues:StringEquals': {
        'dynamodb:Attributes': ['id', DELIVERY_ATTRIBUTES.attempts, DELIVERY_ATTRIBUTES.failure],
      },
    });
    // The owner's secret, made if nobody read it yet: its own item only, never a key's.
    allow(this.function, ['dynamodb:GetItem', 'dynamodb:PutItem'], [props.apiKeysTable.tableArn], {
      'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['webhook-secret#*'] },
    });
    allow(this.function, ['s3:GetObject'], [props.imagesBucket.arnForObjects('images/*')]);
    allow(this.function, ['sqs:SendMessage'], [this.deadLetterQueue.queueArn]);

    for (const [detailType, event] of Object.entries(WEBHOOK_EVENT_OF_DETAIL_TYPE)) {
      new Rule(this, `Deliver${detailType.replace(/\s/g, '')}`, {
        description: `${detailType} events whose webhook asked for ${event}`,
        eventBus: props.eventBus,
        eventPattern: {
          source: [EVENT_SOURCE],
          detailType: [detailType],
          detail: { webhookEvents: [event] },
        },
        // An event the queue does not take (after EventBridge's retries) is kept with the
        // deliveries given up on.
        targets: [new SqsQueue(this.queue, { deadLetterQueue: this.deadLetterQueue })],
      });
    }
  }
}
