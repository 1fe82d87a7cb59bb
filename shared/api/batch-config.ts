/**
 * Configuration of the batch routes that read and cancel (POST /batches has its own module,
 * `submit-batch-config.ts`, as only it carries idempotency): each reads its own settings group
 * once, at cold start.
 */

import { dynamoDb } from '#shared/aws/dynamodb.ts';
import { lazyS3, lazyStepFunctions } from '#shared/aws/lazy.ts';
import { putEventsOnFirstUse } from '#shared/aws/put-events-on-first-use.ts';
import { BatchRepository } from '#shared/batches/repository.ts';
import { BatchRouteSettings } from '#shared/contracts/environment.ts';
import { readSettings } from '#shared/contracts/setting.ts';
import { stepFunctionsExecutions } from '#shared/generation/executions.ts';
import { eventBridgePublisher } from '#shared/generation/publisher.ts';
import { GenerationRepository } from '#shared/generation/repository.ts';
import { CursorCodec } from './cursor.ts';
import { s3Presigner } from './presign.ts';
import { type CancelBatch, cancelBatch } from './use-cases/batches/cancel.ts';
import { type ReadBatches, type ReadObject, readBatches } from './use-cases/batches/read.ts';

/** The four GET routes of batches, with the cursor secret `cursorSecretFromEnv` read. */
export function readBatchesFromEnv(
  cursorSecret: string,
  env: NodeJS.ProcessEnv = process.env,
): ReadBatches {
  const settings = readSettings(BatchRouteSettings.readBatches, env);
  return readBatches({
    batches: new BatchRepository(dynamoDb(), settings.batchesTable),
    generations: new GenerationRepository(dynamoDb(), settings.generationsTable),
    presign: s3Presigner(lazyS3, settings.presignedUrlTtlSeconds),
    cursors: new CursorCodec(cursorSecret),
    readObject: s3TextReader,
  });
}

/** DELETE /batches/{id}. */
export function cancelBatchFromEnv(env: NodeJS.ProcessEnv = process.env): CancelBatch {
  const settings = readSettings(BatchRouteSettings.cancelBatch, env);
  return cancelBatch({
    batches: new BatchRepository(dynamoDb(), settings.batchesTable),
    repository: new GenerationRepository(dynamoDb(), settings.generationsTable, {
      retentionDays: settings.recordRetentionDays,
    }),
    executions: stepFunctionsExecutions(lazyStepFunctions, settings.stateMachineArn),
    // Loaded on the first cancel, not at the cold start.
    publish: eventBridgePublisher(putEventsOnFirstUse, settings.eventBusName),
    now: () => new Date(),
  });
}

/** An object's text from S3; undefined when the key holds none. */
const s3TextReader: ReadObject = async ({ bucket, key }) => {
  const [s3, { GetObjectCommand, NoSuchKey }] = await Promise.all([
    lazyS3(),
    import('@aws-sdk/client-s3'),
  ]);
  try {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return (await object.Body?.transformToString('utf8')) ?? '';
  } catch (error) {
    if (error instanceof NoSuchKey) return undefined;
    throw error;
  }
};
