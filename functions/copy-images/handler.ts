/** Workflow step CopyImages: streams the provider's images into the images bucket. */
import { s3 } from '../../shared/aws/s3.ts';
import { EnvNames, readEnv } from '../../shared/config/env.ts';
import { copySettingsFromEnv } from '../../shared/config/pipeline-env.ts';
import { type CopyImagesInput, copyImagesStep } from '../../shared/generation/copy-step.ts';
import { lambdaHandler } from '../../shared/observability/handler.ts';
import * as z from '../../shared/zod.ts';

const env = readEnv({ [EnvNames.imagesBucket]: z.string().check(z.minLength(1)) });
const settings = copySettingsFromEnv();
const deps = {
  s3: s3(),
  bucket: env[EnvNames.imagesBucket],
  policy: settings.policy,
  maxImageBytes: settings.maxImageBytes,
  timeoutMs: settings.downloadTimeoutMs,
};

export const handler = lambdaHandler(async (event: CopyImagesInput) => copyImagesStep(event, deps));
