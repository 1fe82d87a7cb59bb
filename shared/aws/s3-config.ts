import type { S3ClientConfig } from '@aws-sdk/client-s3';

/**
 * The S3 clients' configuration beyond the SDK's standard variables (see clients.ts). A module of
 * its own, importing no SDK code, so that a lazily made client does not load the SDK with it.
 */
export function s3ClientConfig(): S3ClientConfig {
  return { forcePathStyle: process.env.S3_FORCE_PATH_STYLE === 'true' };
}
