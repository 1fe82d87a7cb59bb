/** Trigger: a prompt file created under `prompts/` in the input bucket starts one generation a line. */
import type { S3Event } from 'aws-lambda';
import { ownerHasActiveKey } from '../../shared/api/key-owners.ts';
import { s3 } from '../../shared/aws/s3.ts';
import { stepFunctions } from '../../shared/aws/step-functions.ts';
import { EnvNames, readEnv } from '../../shared/config/env.ts';
import { ownerSchema } from '../../shared/generation/model.ts';
import { lambdaHandler } from '../../shared/observability/handler.ts';
import { metrics } from '../../shared/observability/powertools.ts';
import { recordPromptFileMetrics } from '../../shared/prompt-files/metrics.ts';
import { DEFAULT_STARTS_PER_SECOND, processS3Event } from '../../shared/prompt-files/processor.ts';
import {
  DEFAULT_PROMPT_FILE_MAX_BYTES,
  DEFAULT_PROMPT_FILE_MAX_LINES,
  envPositiveInt,
  PromptFileEnv,
} from '../../shared/prompt-files/settings.ts';
import * as z from '../../shared/zod.ts';

const env = readEnv({
  [EnvNames.stateMachineArn]: z.string().check(z.minLength(1)),
  [PromptFileEnv.defaultOwner]: ownerSchema,
  [PromptFileEnv.maxBytes]: envPositiveInt(DEFAULT_PROMPT_FILE_MAX_BYTES),
  [PromptFileEnv.maxLines]: envPositiveInt(DEFAULT_PROMPT_FILE_MAX_LINES),
  [PromptFileEnv.startsPerSecond]: envPositiveInt(DEFAULT_STARTS_PER_SECOND),
  [PromptFileEnv.apiKeysTable]: z.string().check(z.minLength(1)),
});
// DynamoDB is imported on the first file in an owner's folder (files under prompts/ need none).
const keyOwners = { tableName: env[PromptFileEnv.apiKeysTable] };
const deps = {
  s3: s3(),
  sfn: stepFunctions(),
  stateMachineArn: env[EnvNames.stateMachineArn],
  defaultOwner: env[PromptFileEnv.defaultOwner],
  maxBytes: env[PromptFileEnv.maxBytes],
  maxLines: env[PromptFileEnv.maxLines],
  startsPerSecond: env[PromptFileEnv.startsPerSecond],
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
