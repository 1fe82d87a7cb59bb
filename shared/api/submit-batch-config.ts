/**
 * Configuration of POST /batches: a module of its own, as only it carries `Idempotency-Key`
 * support (Powertools idempotency), and only it writes to the input bucket.
 */
import { dynamoDb } from '#shared/aws/dynamodb.ts';
import { lazyS3 } from '#shared/aws/lazy.ts';
import { newBatchId } from '#shared/batches/model.ts';
import { BatchRepository } from '#shared/batches/repository.ts';
import { BatchRouteSettings } from '#shared/contracts/environment.ts';
import { readSettings } from '#shared/contracts/setting.ts';
import { webhookPolicyFromEnv } from '#shared/webhooks/settings.ts';
import { idempotencyStore, idempotentStarts } from './idempotency.ts';
import { s3PutPresigner } from './presign.ts';
import {
  BATCH_IDEMPOTENCY_KEY_PREFIX,
  type SubmitBatch,
  type SubmitBatchDeps,
  submitBatch,
} from './use-cases/batches/submit.ts';

/** POST /batches. */
export function submitBatchFromEnv(env: NodeJS.ProcessEnv = process.env): SubmitBatch {
  const settings = readSettings(BatchRouteSettings.submitBatch, env);
  return submitBatch({
    batches: new BatchRepository(dynamoDb(), settings.batchesTable),
    inputBucket: settings.inputBucket,
    maxUploadBytes: settings.promptFileMaxBytes,
    metadataMaxBytes: settings.metadataMaxBytes,
    webhookPolicy: webhookPolicyFromEnv(env),
    retentionDays: settings.recordRetentionDays,
    putObject: s3Put,
    presignPut: s3PutPresigner(lazyS3),
    idempotency: idempotentStarts({
      persistenceStore: idempotencyStore(settings.idempotencyTable),
      keyPrefix: BATCH_IDEMPOTENCY_KEY_PREFIX,
    }),
    now: () => new Date(),
    newId: newBatchId,
  });
}

const s3Put: SubmitBatchDeps['putObject'] = async (object) => {
  const [s3, { PutObjectCommand }] = await Promise.all([lazyS3(), import('@aws-sdk/client-s3')]);
  await s3.send(
    new PutObjectCommand({
      Bucket: object.bucket,
      Key: object.key,
      Body: object.body,
      ContentType: object.contentType,
    }),
  );
};
