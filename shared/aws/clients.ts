/**
 * AWS SDK v3 clients, one of each per process. Endpoints follow the SDK's standard
 * configuration (`AWS_REGION`, `AWS_ENDPOINT_URL_<SERVICE>`), which is how the local runtime
 * points the very same code at its local servers; `S3_FORCE_PATH_STYLE=true` is the one
 * addition, for S3-compatible servers that do not serve virtual-hosted buckets.
 *
 * Each client lives in a module of its own: a function that imports only the one it needs does
 * not load the other SDK packages at cold start (a bundle keeps every import of an external
 * package, used or not). This module gathers them for code that needs several.
 */
export { dynamoDb } from './dynamodb.ts';
export { eventBridge } from './event-bridge.ts';
export { s3 } from './s3.ts';
export { stepFunctions } from './step-functions.ts';
