import { Duration } from 'aws-cdk-lib';
import { type IResource, LambdaIntegration, type MethodOptions } from 'aws-cdk-lib/aws-apigateway';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { BatchesTableSchema } from '#shared/batches/model.ts';
import { BatchRouteSettings } from '#shared/contracts/environment.ts';
import { environmentOf } from '#shared/contracts/setting.ts';
import { GenerationsTableSchema } from '#shared/generation/model.ts';
import { PROMPTS_PREFIX, REPORTS_PREFIX } from '#shared/prompt-files/keys.ts';
import { allow } from './grants.ts';
import { PipelineFunction } from './pipeline-function.ts';

export interface BatchRoutesProps {
  readonly root: IResource;
  /** The authorizer and validator every authorised method has. */
  readonly authorised: MethodOptions;
  readonly batchesTable: ITableV2;
  readonly generationsTable: ITableV2;
  readonly idempotencyTable: ITableV2;
  readonly inputBucket: IBucket;
  readonly imagesBucket: IBucket;
  readonly stateMachine: IStateMachine;
  readonly eventBus: IEventBus;
  readonly cursorSecret: ISecret;
  readonly presignedUrlTtlSeconds: number;
  readonly metadataMaxBytes: number;
  readonly recordRetentionDays: number;
  /** The prompt-file size limit: the largest file an upload request may announce. */
  readonly promptFileMaxBytes: number;
  readonly sdkOnFirstUse: string[];
  /** Adds the 405 answer of the methods a resource does not have. */
  readonly answerOtherMethods: (resource: IResource, allowed: string) => void;
}

export interface BatchFunctions {
  readonly submitBatch: PipelineFunction;
  readonly readBatches: PipelineFunction;
  readonly cancelBatch: PipelineFunction;
}

/**
 * The batch routes (`/batches…`) of the API: three functions (POST, the four GETs, DELETE), each
 * granted only what its code calls. Built in the API construct's scope, beside the generation
 * routes, with the same authorizer and gateway answers.
 */
export function addBatchRoutes(scope: Construct, props: BatchRoutesProps): BatchFunctions {
  const batchesTable = props.batchesTable.tableName;
  const generationsTable = props.generationsTable.tableName;
  const inputBucket = props.inputBucket.bucketName;
  const { sdkOnFirstUse } = props;

  const submitBatch = new PipelineFunction(scope, 'SubmitBatch', {
    entryPoint: 'submit-batch',
    sdkOnFirstUse,
    description: 'POST /batches: records the batch and stores its file, or signs its upload',
    timeout: Duration.seconds(15),
    // A 5 MiB body arrives base64 in the event, is decoded and sent on to S3.
    memorySize: 512,
    environment: environmentOf(BatchRouteSettings.submitBatch, {
      batchesTable,
      inputBucket,
      idempotencyTable: props.idempotencyTable.tableName,
      metadataMaxBytes: props.metadataMaxBytes,
      recordRetentionDays: props.recordRetentionDays,
      promptFileMaxBytes: props.promptFileMaxBytes,
    }),
  });
  // create; a keyed retry's getHead; a batch whose file could not be stored marked failed.
  allow(
    submitBatch,
    ['dynamodb:PutItem', 'dynamodb:BatchGetItem', 'dynamodb:UpdateItem'],
    [props.batchesTable.tableArn],
  );
  allow(
    submitBatch,
    ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
    [props.idempotencyTable.tableArn],
  );
  // Its own puts and the pre-signed ones (signed with its credentials), under prompts/ only.
  allow(submitBatch, ['s3:PutObject'], [props.inputBucket.arnForObjects(`${PROMPTS_PREFIX}*`)]);

  const readBatches = new PipelineFunction(scope, 'ReadBatches', {
    entryPoint: 'read-batches',
    sdkOnFirstUse,
    description: "GET /batches[/{id}[/generations|/report]]: the owner's batches, read only",
    timeout: Duration.seconds(10),
    environment: environmentOf(BatchRouteSettings.readBatches, {
      batchesTable,
      generationsTable,
      inputBucket,
      presignedUrlTtlSeconds: props.presignedUrlTtlSeconds,
      cursorSecretId: props.cursorSecret.secretArn,
    }),
  });
  allow(readBatches, ['dynamodb:BatchGetItem'], [props.batchesTable.tableArn]);
  allow(
    readBatches,
    ['dynamodb:Query'],
    [BatchesTableSchema.byOwnerIndex.name, BatchesTableSchema.byOwnerStatusIndex.name].map(
      (index) => `${props.batchesTable.tableArn}/index/${index}`,
    ),
  );
  allow(
    readBatches,
    ['dynamodb:Query'],
    [`${props.generationsTable.tableArn}/index/${GenerationsTableSchema.byBatchIndex.name}`],
  );
  allow(readBatches, ['secretsmanager:GetSecretValue'], [props.cursorSecret.secretArn]);
  allow(readBatches, ['s3:GetObject'], [props.imagesBucket.arnForObjects('images/*')]);
  allow(readBatches, ['s3:GetObject'], [props.inputBucket.arnForObjects(`${REPORTS_PREFIX}*`)]);

  const cancelBatch = new PipelineFunction(scope, 'CancelBatch', {
    entryPoint: 'cancel-batch',
    sdkOnFirstUse,
    description: 'DELETE /batches/{id}: cancels the batch and its unfinished generations',
    // Cancelling a large batch's lines takes what time there is; the workflow's guard stops the
    // lines it does not reach.
    timeout: Duration.seconds(29),
    environment: environmentOf(BatchRouteSettings.cancelBatch, {
      batchesTable,
      generationsTable,
      stateMachineArn: props.stateMachine.stateMachineArn,
      eventBusName: props.eventBus.eventBusName,
      recordRetentionDays: props.recordRetentionDays,
    }),
  });
  allow(
    cancelBatch,
    ['dynamodb:BatchGetItem', 'dynamodb:UpdateItem'],
    [props.batchesTable.tableArn],
  );
  allow(cancelBatch, ['dynamodb:UpdateItem'], [props.generationsTable.tableArn]);
  allow(
    cancelBatch,
    ['dynamodb:Query'],
    [`${props.generationsTable.tableArn}/index/${GenerationsTableSchema.byBatchIndex.name}`],
  );
  props.stateMachine.grantExecution(cancelBatch, 'states:StopExecution');
  props.eventBus.grantPutEventsTo(cancelBatch);

  const batches = props.root.addResource('batches');
  batches.addMethod('POST', new LambdaIntegration(submitBatch), props.authorised);
  batches.addMethod('GET', new LambdaIntegration(readBatches), props.authorised);
  const batch = batches.addResource('{id}');
  const withId = { ...props.authorised, requestParameters: { 'method.request.path.id': true } };
  batch.addMethod('GET', new LambdaIntegration(readBatches), withId);
  batch.addMethod('DELETE', new LambdaIntegration(cancelBatch), withId);
  const generations = batch.addResource('generations');
  generations.addMethod('GET', new LambdaIntegration(readBatches), withId);
  const report = batch.addResource('report');
  report.addMethod('GET', new LambdaIntegration(readBatches), withId);
  for (const [resource, allowed] of [
    [batches, 'GET, POST'],
    [batch, 'GET, DELETE'],
    [generations, 'GET'],
    [report, 'GET'],
  ] as const) {
    props.answerOtherMethods(resource, allowed);
  }
  return { submitBatch, readBatches, cancelBatch };
}
