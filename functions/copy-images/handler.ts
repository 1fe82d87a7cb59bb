/** Workflow step CopyImages: streams the provider's images into the images bucket. */
import { s3 } from '#shared/aws/s3.ts';
import { copySettingsFromEnv } from '#shared/config/pipeline-env.ts';
import { Resources } from '#shared/contracts/environment.ts';
import { readSettings } from '#shared/contracts/setting.ts';
import { type CopyImagesInput, copyImagesStep } from '#shared/generation/copy-step.ts';
import { lambdaHandler } from '#shared/observability/handler.ts';

const { imagesBucket } = readSettings({ imagesBucket: Resources.imagesBucket });
const settings = copySettingsFromEnv();
const deps = {
  s3: s3(),
  bucket: imagesBucket,
  policy: settings.policy,
  maxImageBytes: settings.maxImageBytes,
  timeoutMs: settings.downloadTimeoutMs,
};

export const handler = lambdaHandler(async (event: CopyImagesInput) => copyImagesStep(event, deps));
