import {
  ArnFormat,
  CfnOutput,
  Duration,
  type RemovalPolicy,
  Stack,
  type StackProps,
} from 'aws-cdk-lib';
import { EventBus } from 'aws-cdk-lib/aws-events';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import type { StackConfig } from './config.ts';
import { GenerationApi } from './constructs/api.ts';
import { BatchProgress } from './constructs/batch-progress.ts';
import { Observability } from './constructs/observability.ts';
import { Reconciler } from './constructs/reconciler.ts';
import { Storage } from './constructs/storage.ts';
import { Triggers } from './constructs/triggers.ts';
import { Webhooks } from './constructs/webhooks.ts';
import { GenerationWorkflow } from './constructs/workflow.ts';
import { WorkflowSteps } from './constructs/workflow-steps.ts';

export interface SparkT2iStackProps extends StackProps {
  readonly config: StackConfig;
  /** Buckets and tables are kept when the stack is deleted unless this says otherwise. @default RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/** The deployed pipeline: it only wires the constructs together. */
export class SparkT2iStack extends Stack {
  public readonly storage: Storage;
  public readonly workflow: GenerationWorkflow;
  public readonly steps: WorkflowSteps;
  public readonly api: GenerationApi;
  public readonly triggers: Triggers;
  public readonly batchProgress: BatchProgress;
  public readonly reconciler: Reconciler;
  public readonly webhooks: Webhooks;

  constructor(scope: Construct, id: string, props: SparkT2iStackProps) {
    super(scope, id, props);
    const { config } = props;
    const logRetention = retentionDays(config.retention.logDays);

    this.storage = new Storage(this, 'Storage', {
      imagesInfrequentAccessDays: config.retention.imagesInfrequentAccessDays,
      inputRetentionDays: config.retention.inputDays,
      recordRetentionDays: config.retention.recordDays,
      removalPolicy: props.removalPolicy,
    });
    // Every physical name the stack sets is derived from its own name: a second stack in the
    // account (another stage, a replacement) never collides with this one.
    const apiKeySecretName = config.spark.apiKeySecretName ?? `${this.stackName}/spark-api-key`;
    const sparkApiKey = new Secret(this, 'SparkApiKey', {
      secretName: apiKeySecretName,
      description:
        'Spark Text to Image 3.0 API key (a plain string). Set it after the first deploy.',
    });
    const eventBus = new EventBus(this, 'Events', { description: 'spark-t2i generation events' });

    // The state machine's name and ARN are fixed strings: the functions it calls wake waiting
    // executions, and granting them on its token would make the template circular.
    const stateMachineName = `${this.stackName}-generation`;
    const stateMachineArn = this.formatArn({
      service: 'states',
      resource: 'stateMachine',
      resourceName: stateMachineName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    const maxQueue = Duration.seconds(config.maxQueueSeconds);
    const maxElapsed = Duration.seconds(config.polling.maxElapsedSeconds);

    this.steps = new WorkflowSteps(this, 'Steps', {
      spark: { ...config.spark, apiKeySecret: sparkApiKey },
      polling: config.polling,
      generationsTable: this.storage.generationsTable,
      batchesTable: this.storage.batchesTable,
      recordRetentionDays: this.storage.recordRetentionDays,
      imagesBucket: this.storage.imagesBucket,
      maxImageBytes: config.limits.maxImageBytes,
      slotsTable: this.storage.slotsTable,
      maxConcurrentTasks: config.maxConcurrentTasks,
      stateMachineArn,
      imageAllowedHosts: config.images.allowedHosts,
    });
    this.workflow = new GenerationWorkflow(this, 'Workflow', {
      acquireSlot: this.steps.acquireSlot,
      releaseSlot: this.steps.releaseSlot,
      createTask: this.steps.createTask,
      pollTask: this.steps.pollTask,
      copyImages: this.steps.copyImages,
      classifyFailure: this.steps.classifyFailure,
      generationsTable: this.storage.generationsTable,
      eventBus,
      maxElapsed,
      maxQueue,
      stateMachineName,
      logRetention,
    });
    this.api = new GenerationApi(this, 'Api', {
      generationsTable: this.storage.generationsTable,
      batchesTable: this.storage.batchesTable,
      inputBucket: this.storage.inputBucket,
      promptFileMaxBytes: config.limits.promptFileMaxBytes,
      apiKeysTable: this.storage.apiKeysTable,
      idempotencyTable: this.storage.idempotencyTable,
      imagesBucket: this.storage.imagesBucket,
      stateMachine: this.workflow.stateMachine,
      eventBus,
      throttleRateLimit: config.api.throttleRateLimit,
      throttleBurstLimit: config.api.throttleBurstLimit,
      presignedUrlTtl: Duration.seconds(config.api.presignedUrlTtlSeconds),
      authorizerCacheTtl: Duration.seconds(config.api.authorizerCacheSeconds),
      metadataMaxBytes: config.limits.metadataMaxBytes,
      recordRetentionDays: this.storage.recordRetentionDays,
      logRetention,
    });
    this.triggers = new Triggers(this, 'Triggers', {
      inputBucket: this.storage.inputBucket,
      stateMachine: this.workflow.stateMachine,
      defaultOwner: config.defaultOwner,
      apiKeysTable: this.storage.apiKeysTable,
      generationsTable: this.storage.generationsTable,
      batchesTable: this.storage.batchesTable,
      eventBus,
      recordRetentionDays: this.storage.recordRetentionDays,
      promptFileMaxBytes: config.limits.promptFileMaxBytes,
      promptFileMaxLines: config.limits.promptFileMaxLines,
      promptFileStartsPerSecond: config.limits.promptFileStartsPerSecond,
      promptFileReservedConcurrency: config.reservedConcurrency.promptFile,
      schedules: config.schedules,
    });
    this.reconciler = new Reconciler(this, 'Reconciler', {
      generationsTable: this.storage.generationsTable,
      batchesTable: this.storage.batchesTable,
      slotsTable: this.storage.slotsTable,
      maxConcurrentTasks: config.maxConcurrentTasks,
      recordRetentionDays: this.storage.recordRetentionDays,
      stateMachineArn,
      maxExecution: this.workflow.stateMachineTimeout,
      eventBus,
      every: Duration.minutes(config.reconcileEveryMinutes),
      reservedConcurrency: config.reservedConcurrency.reconciler,
      deadLetterQueue: this.triggers.deadLetterQueue,
    });
    this.batchProgress = new BatchProgress(this, 'BatchProgress', {
      generationsTable: this.storage.generationsTable,
      batchesTable: this.storage.batchesTable,
      eventBus,
      deadLetterQueue: this.triggers.deadLetterQueue,
    });
    this.webhooks = new Webhooks(this, 'Webhooks', {
      eventBus,
      generationsTable: this.storage.generationsTable,
      batchesTable: this.storage.batchesTable,
      apiKeysTable: this.storage.apiKeysTable,
      imagesBucket: this.storage.imagesBucket,
      presignedUrlTtlSeconds: config.api.presignedUrlTtlSeconds,
    });
    new Observability(this, 'Observability', {
      stateMachine: this.workflow.stateMachine,
      functions: {
        CreateTask: this.steps.createTask,
        PollTask: this.steps.pollTask,
        CopyImages: this.steps.copyImages,
        ClassifyFailure: this.steps.classifyFailure,
        AcquireSlot: this.steps.acquireSlot,
        ReleaseSlot: this.steps.releaseSlot,
        Reconciler: this.reconciler.function,
        PromptFile: this.triggers.promptFileFunction,
        ScheduleFiring: this.triggers.scheduleFiringFunction,
        DeliverWebhooks: this.webhooks.function,
        ...Object.fromEntries(this.api.functions.map((fn) => [fn.node.id, fn])),
      },
      retriedByWorkflow: ['CreateTask', 'PollTask', 'CopyImages'],
      restApi: this.api.restApi,
      deadLetterQueue: this.triggers.deadLetterQueue,
      webhookDeadLetterQueue: this.webhooks.deadLetterQueue,
      alarmEmail: config.alarmEmail,
    });

    new CfnOutput(this, 'ApiUrl', { value: this.api.restApi.url });
    new CfnOutput(this, 'InputBucketName', { value: this.storage.inputBucket.bucketName });
    new CfnOutput(this, 'ImagesBucketName', { value: this.storage.imagesBucket.bucketName });
    new CfnOutput(this, 'ApiKeysTableName', { value: this.storage.apiKeysTable.tableName });
    new CfnOutput(this, 'StateMachineArn', { value: this.workflow.stateMachine.stateMachineArn });
    new CfnOutput(this, 'SparkApiKeySecretName', { value: apiKeySecretName });
    new CfnOutput(this, 'EventBusName', { value: eventBus.eventBusName });
  }
}

function retentionDays(days: number): RetentionDays {
  const supported = Object.values(RetentionDays).filter(
    (value): value is RetentionDays => typeof value === 'number' && value > 0,
  );
  // The closest supported retention that keeps logs at least as long as asked.
  return supported.sort((a, b) => a - b).find((value) => value >= days) ?? RetentionDays.TEN_YEARS;
}
