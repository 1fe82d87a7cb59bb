import { Duration } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import {
  ImageCopySettings,
  PollingSettings,
  RecordSettings,
  Resources,
  SlotSettings,
  SparkSettings,
} from '#shared/contracts/environment.ts';
import { environmentOf, type Settings } from '#shared/contracts/setting.ts';
import { POLL_COUNT_ATTRIBUTES } from '#shared/generation/model.ts';
import type { PollingPolicy } from '#shared/generation/polling.ts';
import { POLLING_STATS_KEY } from '#shared/generation/polling-stats.ts';
import { allow } from './grants.ts';
import { PipelineFunction } from './pipeline-function.ts';

/** How long the copy waits for an image's bytes (the function's own default is shorter). */
const IMAGE_DOWNLOAD_TIMEOUT_MS = 120_000;

/** The Spark client's settings (`SparkSettings`), with the secret holding the provider API key. */
export interface SparkEndpointProps extends Omit<Settings<typeof SparkSettings>, 'apiKeySecret'> {
  readonly apiKeySecret: ISecret;
}

export interface WorkflowStepsProps {
  readonly spark: SparkEndpointProps;
  readonly polling: PollingPolicy;
  readonly generationsTable: ITableV2;
  /** Batch heads and counts: a batch line moves them as it starts (CreateTask). */
  readonly batchesTable: ITableV2;
  /** Days a generation record is kept: PollTask gives a completed record its `expiresAt`. */
  readonly recordRetentionDays: number;
  readonly imagesBucket: IBucket;
  /** Largest image copied, in bytes. */
  readonly maxImageBytes: number;
  /** Host names image URLs may point at; empty = any public host. @default [] */
  readonly imageAllowedHosts?: readonly string[];
  /** The provider-wide concurrency cap's table. */
  readonly slotsTable: ITableV2;
  /** Provider tasks in flight at most, across every trigger. */
  readonly maxConcurrentTasks: number;
  /**
   * The generation state machine's ARN, for waking waiting executions. Passed as a plain string
   * (not the state machine's token), because the state machine itself refers to these functions.
   */
  readonly stateMachineArn: string;
}

/**
 * The Lambda functions the generation workflow calls, each with exactly the configuration and
 * the access it needs: the environment variable and the grant are set together here.
 */
export class WorkflowSteps extends Construct {
  /** Creates the Spark task once and records its id (reads and updates the generations table). */
  public readonly createTask: PipelineFunction;
  /** Polls the Spark task and says when to poll next (the secret; appends learned durations). */
  public readonly pollTask: PipelineFunction;
  /** Streams the provider's images into the images bucket (writes only there). */
  public readonly copyImages: PipelineFunction;
  /** Maps a caught error to the record's code and message (no AWS access). */
  public readonly classifyFailure: PipelineFunction;
  /** Takes a provider slot, or queues the execution's task token until one is free. */
  public readonly acquireSlot: PipelineFunction;
  /** Gives a slot back and wakes the next waiting executions (the failure path). */
  public readonly releaseSlot: PipelineFunction;

  constructor(scope: Construct, id: string, props: WorkflowStepsProps) {
    super(scope, id);
    const { spark, polling } = props;
    // Each group's variables, written from the declarations the functions read them with.
    const sparkEnv = environmentOf(SparkSettings, {
      ...spark,
      apiKeySecret: spark.apiKeySecret.secretArn,
    });
    const pollingEnv = environmentOf(PollingSettings, polling);
    const slotsEnv = environmentOf(SlotSettings, {
      slotsTable: props.slotsTable.tableName,
      maxConcurrentTasks: props.maxConcurrentTasks,
    });
    const tableEnv = { [Resources.generationsTable.env]: props.generationsTable.tableName };
    // Taking or giving back slots (the semaphore and queue items of shared/generation/slot-store.ts),
    // and waking the executions that wait for one. Only taking one queues a waiter (a put);
    // giving back hands freed slots over, which reads the queue in order and claims waiters.
    const grantSlots = (fn: PipelineFunction, use: 'acquire' | 'release') => {
      allow(
        fn,
        [
          'dynamodb:GetItem',
          'dynamodb:UpdateItem',
          'dynamodb:DeleteItem',
          ...(use === 'acquire' ? ['dynamodb:PutItem'] : ['dynamodb:Query']),
        ],
        [props.slotsTable.tableArn],
      );
      allow(fn, ['states:SendTaskSuccess'], [props.stateMachineArn]);
    };
    // The provider key: read, never described or listed.
    const grantApiKeyRead = (fn: PipelineFunction) =>
      allow(fn, ['secretsmanager:GetSecretValue'], [spark.apiKeySecret.secretArn]);

    // A function that gives a slot back or queues for one wakes a waiting execution only when one
    // waits: Step Functions is imported on first use (shared/aws/lazy.ts).
    const wakesOnFirstUse = ['@aws-sdk/client-sfn'];

    // A call must end before the function does, so a slow provider is a typed, retryable timeout.
    const sparkTimeout = Duration.millis(spark.requestTimeoutMs * 2 + 5000);

    this.createTask = new PipelineFunction(this, 'CreateTask', {
      entryPoint: 'create-task',
      description: 'Creates the Spark task of a generation (once) and records its id',
      timeout: sparkTimeout,
      environment: {
        ...sparkEnv,
        ...pollingEnv,
        ...tableEnv,
        [Resources.batchesTable.env]: props.batchesTable.tableName,
        // A line of a cancelled batch is cancelled here: its record gets its expiry.
        ...environmentOf(RecordSettings, { retentionDays: props.recordRetentionDays }),
      },
    });
    allow(
      this.createTask,
      ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
      [props.generationsTable.tableArn],
    );
    // A batch line counts as running with its task (one transaction), and a line of a cancelled
    // batch is cancelled before any task: the batch's head is read, its counts moved.
    allow(
      this.createTask,
      ['dynamodb:BatchGetItem', 'dynamodb:UpdateItem'],
      [props.batchesTable.tableArn],
    );
    grantApiKeyRead(this.createTask);

    this.pollTask = new PipelineFunction(this, 'PollTask', {
      entryPoint: 'poll-task',
      sdkOnFirstUse: wakesOnFirstUse,
      description:
        'Polls the Spark task of a generation, re-checking briefly; gives its slot back when it ends',
      timeout: sparkTimeout,
      environment: {
        ...sparkEnv,
        ...pollingEnv,
        ...slotsEnv,
        ...tableEnv,
        ...environmentOf(RecordSettings, { retentionDays: props.recordRetentionDays }),
      },
    });
    // To append the provider durations it learns: the polling-stats item and no other.
    allow(this.pollTask, ['dynamodb:UpdateItem'], [props.generationsTable.tableArn], {
      'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [POLLING_STATS_KEY] },
    });
    // To count each poll on its generation's record: these attributes and no others
    // (`GenerationStore.recordPolls`: the key, the two it sets, the status its condition reads).
    allow(this.pollTask, ['dynamodb:UpdateItem'], [props.generationsTable.tableArn], {
      'ForAllValues:StringEquals': { 'dynamodb:Attributes': [...POLL_COUNT_ATTRIBUTES] },
      StringEqualsIfExists: { 'dynamodb:ReturnValues': 'NONE' },
    });
    grantApiKeyRead(this.pollTask);
    grantSlots(this.pollTask, 'release');

    this.copyImages = new PipelineFunction(this, 'CopyImages', {
      entryPoint: 'copy-images',
      description: "Streams a generation's images from the provider into the images bucket",
      timeout: Duration.minutes(5),
      memorySize: 512,
      // A streamed image leaves every 64 KiB socket read behind as a dead buffer; with V8's
      // default young generation no scavenge comes during a copy, and they pile up until a full
      // GC (up to 87 MiB over a 100 MiB image). A 1 MiB semi-space scavenges them within megabytes,
      // but promotes what a stream holds a moment longer, and the old generation then reaches
      // its first allocation limit during a copy: a full GC whose marking runs beside the copy
      // and keeps every buffer allocated meanwhile. A 64 MB initial old space puts that limit
      // out of a copy's way (docs/decisions.md, D18). Both go through the bundle's exec wrapper,
      // which puts them after the runtime bootstrap's own flags: NODE_OPTIONS refuses the second,
      // and the bootstrap sets the first itself (25 MiB at 512 MB) on node's command line, where
      // it would override NODE_OPTIONS' value, as it did until 2026-12-07.
      nodeArguments: ['--max-semi-space-size=1', '--initial-old-space-size=64'],
      environment: {
        [Resources.imagesBucket.env]: props.imagesBucket.bucketName,
        ...environmentOf(ImageCopySettings, {
          maxImageBytes: props.maxImageBytes,
          downloadTimeoutMs: IMAGE_DOWNLOAD_TIMEOUT_MS,
          allowedHosts: [...(props.imageAllowedHosts ?? [])],
        }),
      },
    });
    allow(
      this.copyImages,
      ['s3:PutObject', 's3:AbortMultipartUpload'],
      [props.imagesBucket.arnForObjects('images/*')],
    );

    this.classifyFailure = new PipelineFunction(this, 'ClassifyFailure', {
      entryPoint: 'classify-failure',
      description: 'Maps a caught workflow error to the documented error code',
      timeout: Duration.seconds(10),
      memorySize: 128,
    });

    this.acquireSlot = new PipelineFunction(this, 'AcquireSlot', {
      entryPoint: 'acquire-slot',
      sdkOnFirstUse: wakesOnFirstUse,
      description: 'Takes a provider slot for a generation, or queues it until one is free',
      timeout: Duration.seconds(60),
      memorySize: 128,
      environment: slotsEnv,
    });
    grantSlots(this.acquireSlot, 'acquire');
    this.releaseSlot = new PipelineFunction(this, 'ReleaseSlot', {
      entryPoint: 'release-slot',
      sdkOnFirstUse: wakesOnFirstUse,
      description: "Gives a generation's provider slot back and wakes the next in line",
      timeout: Duration.seconds(30),
      memorySize: 128,
      environment: slotsEnv,
    });
    grantSlots(this.releaseSlot, 'release');
  }
}
