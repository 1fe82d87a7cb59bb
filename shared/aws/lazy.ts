/**
 * Clients made on first use, for functions that need them on some paths only (an API route that
 * shows images only for completed generations, a poll that wakes a waiting execution only when
 * one waits). A bundle keeps every static import of an external package, so a client imported
 * statically is loaded at every cold start whether it is used or not; these are imported
 * dynamically, when first asked for, and then kept for the life of the process.
 *
 * Each is marked pure for the bundler, but a bundle still carries every package this module
 * imports dynamically unless the function lists it in `sdkOnFirstUse`: a function that needs one
 * client only imports a module of its own (EventBridge: `put-events-on-first-use.ts`).
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { SFNClient } from '@aws-sdk/client-sfn';
import { once } from './once.ts';
import { s3ClientConfig } from './s3-config.ts';

/** A client made on its first use. */
export type LazyClient<Client> = () => Promise<Client>;

export const lazyStepFunctions: LazyClient<SFNClient> = /* @__PURE__ */ once(async () => {
  const { SFNClient } = await import('@aws-sdk/client-sfn');
  return new SFNClient({});
});

export const lazyS3: LazyClient<S3Client> = /* @__PURE__ */ once(async () => {
  const { S3Client } = await import('@aws-sdk/client-s3');
  return new S3Client(s3ClientConfig());
});
