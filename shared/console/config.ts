/**
 * Configuration of the console function, read once at cold start: where the images bucket's
 * pre-signed URLs point, for the page's content security policy.
 */
import { ConsoleSettings, S3ClientSettings } from '#shared/contracts/environment.ts';
import { readEnv, readSettings } from '#shared/contracts/setting.ts';
import * as z from '#shared/zod.ts';
import { contentSecurityPolicy, imageOrigins } from './page.ts';

/** Variables Lambda sets (the region), or the local runtime (the S3 endpoint). */
const RuntimeLocation = {
  region: 'AWS_REGION',
  s3Endpoint: 'AWS_ENDPOINT_URL_S3',
} as const;

export function consolePolicyFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  const { imagesBucket } = readSettings(ConsoleSettings, env);
  const { forcePathStyle } = readSettings(S3ClientSettings, env);
  const location = readEnv(
    {
      [RuntimeLocation.region]: z.string().check(z.minLength(1)),
      [RuntimeLocation.s3Endpoint]: z.optional(z.url()),
    },
    env,
  );
  return contentSecurityPolicy(
    imageOrigins({
      bucket: imagesBucket,
      region: location[RuntimeLocation.region],
      endpoint: location[RuntimeLocation.s3Endpoint],
      forcePathStyle,
    }),
  );
}
