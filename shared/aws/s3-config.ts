import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { S3ClientSettings } from '#shared/contracts/environment.ts';
import { readSettings } from '#shared/contracts/setting.ts';

/**
 * The S3 clients' configuration beyond the SDK's standard variables (see clients.ts). A module of
 * its own, importing no SDK code, so that a lazily made client does not load the SDK with it.
 */
export function s3ClientConfig(env: NodeJS.ProcessEnv = process.env): S3ClientConfig {
  return { forcePathStyle: readSettings(S3ClientSettings, env).forcePathStyle };
}
