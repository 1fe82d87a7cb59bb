/**
 * Trigger: a prompt file created under `prompts/` in the input bucket is a batch; it starts one
 * generation a line and writes its report.
 */
import type { S3Event } from 'aws-lambda';
import { ownerHasActiveKey } from '#shared/api/key-owners.ts';
import { dynamoDb } from '#shared/aws/dynamodb.ts';
import { putEventsOnFirstUse } from '#shared/aws/put-events-on-first-use.ts';
import { s3 } from '#shared/aws/s3.ts';
import { stepFunctions } from '#shared/aws/step-functions.ts';
import { batchLedger } from '#shared/batches/ledger.ts';
import { BatchRepository } from '#shared/batches/repository.ts';
import { PromptFileSettings } from '#shared/contracts/environment.ts';
import { readSettings } from '#shared/contracts/setting.ts';
import { eventBridgePublisher } from '#shared/generation/publisher.ts';
import { GenerationRepository } from '#shared/generation/repository.ts';
import { lambdaHandler } from '#shared/observability/handler.ts';
import { metrics } from '#shared/observability/powertools.ts';
import { recordPromptFileMetrics } from '#shared/prompt-files/metrics.ts';
import { processS3Event } from '#shared/prompt-files/processor.ts';

const {
  apiKeysTable,
  generationsTable,
  batchesTable,
  eventBusName,
  recordRetentionDays,
  ...settings
} = readSettings(PromptFileSettings);
const keyOwners = { tableName: apiKeysTable };
const deps = {
  s3: s3(),
  sfn: stepFunctions(),
  ...settings,
  ownerHasApiKey: (owner: string) => ownerHasActiveKey(owner, keyOwners),
  ledger: batchLedger({
    generations: new GenerationRepository(dynamoDb(), generationsTable, {
      retentionDays: recordRetentionDays,
      batchesTable,
    }),
    batches: new BatchRepository(dynamoDb(), batchesTable),
    // A batch ends as its file is read only when no line was accepted: seldom published.
    publish: eventBridgePublisher(putEventsOnFirstUse, eventBusName),
  }),
};

export const handler = lambdaHandler(async (event: S3Event, context) => {
  const result = await processS3Event(event, {
    ...deps,
    remainingMs: () => context.getRemainingTimeInMillis(),
  });
  recordPromptFileMetrics(result, metrics);
  return result;
});
