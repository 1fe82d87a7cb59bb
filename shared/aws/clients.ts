/**
 * AWS SDK v3 clients, one of each per process, traced. Endpoints follow the SDK's standard
 * configuration (`AWS_REGION`, `AWS_ENDPOINT_URL_<SERVICE>`), which is how the local runtime
 * points the very same code at its local servers; `S3_FORCE_PATH_STYLE=true` is the one
 * addition, for S3-compatible servers that do not serve virtual-hosted buckets.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { tracer } from '../observability/powertools.ts';

function once<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => {
    value ??= make();
    return value;
  };
}

export const dynamoDb = once(() =>
  DynamoDBDocumentClient.from(tracer.captureAWSv3Client(new DynamoDBClient({})), {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  }),
);

export const s3 = once(() =>
  tracer.captureAWSv3Client(
    new S3Client({ forcePathStyle: process.env.S3_FORCE_PATH_STYLE === 'true' }),
  ),
);

export const stepFunctions = once(() => tracer.captureAWSv3Client(new SFNClient({})));

export const eventBridge = once(() => tracer.captureAWSv3Client(new EventBridgeClient({})));
