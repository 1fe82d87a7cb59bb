/** Trigger: a prompt file created under `prompts/` in the input bucket starts one generation a line. */
import type { S3Event } from 'aws-lambda';
import { ownerHasActiveKey } from '#shared/api/key-owners.ts';
import { s3 } from '#shared/aws/s3.ts';
import { stepFunctions } from '#shared/aws/step-functions.ts';
import { PromptFileSettings } from '#shared/contracts/environment.ts';
import { readSettings } from '#shared/contracts/setting.ts';
import { lambdaHandler } from '#shared/observability/handler.ts';
import { metrics } from '#shared/observability/powertools.ts';
import { recordPromptFileMetrics } from '#shared/prompt-files/metrics.ts';
import { processS3Event } from '#shared/prompt-files/processor.ts';

const { apiKeysTable, ...settings } = readSettings(PromptFileSettings);
// DynamoDB is imported on the first file in an owner's folder (files under prompts/ need none).
const keyOwners = { tableName: apiKeysTable };
const deps = {
  s3: s3(),
  sfn: stepFunctions(),
  ...settings,
  ownerHasApiKey: (owner: string) => ownerHasActiveKey(owner, keyOwners),
};

export const handler = lambdaHandler(async (event: S3Event, context) => {
  const result = await processS3Event(event, {
    ...deps,
    remainingMs: () => context.getRemainingTimeInMillis(),
  });
  recordPromptFileMetrics(result, metrics);
  return result;
});
