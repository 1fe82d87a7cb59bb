/**
 * `Idempotency-Key` on POST /generations, with Powertools idempotency: the record of a key lives
 * 24 h in the idempotency table (partition key `id`, TTL attribute `expiration`). The key is the
 * owner with the header value, so owners never share keys; the body is validated against the
 * stored record, so the same key with another body is a conflict rather than a replay.
 */
import { IdempotencyConfig } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { BasePersistenceLayer } from '@aws-lambda-powertools/idempotency/persistence';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';

export const IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60;
/** Stable across deployments (the default, the function name, would change with it). */
export const IDEMPOTENCY_KEY_PREFIX = 'spark-t2i/submit-generation';

/** What is handed to the idempotent operation: the key parts and the body they must match. */
export interface IdempotentSubmission {
  readonly owner: string;
  readonly idempotencyKey: string;
  /** The parsed request body; its canonical JSON is hashed for payload validation. */
  readonly body: unknown;
}

/** The persistence of idempotency records in the DynamoDB table `tableName`. */
export function idempotencyStore(
  tableName: string,
  client: DynamoDBClient = new DynamoDBClient({}),
): BasePersistenceLayer {
  return new DynamoDBPersistenceLayer({
    tableName,
    keyAttr: 'id',
    expiryAttr: 'expiration',
    awsSdkV3Client: client,
  });
}

/** Keyed on owner and header value, validated on the body, kept 24 h. */
export function submitIdempotencyConfig(): IdempotencyConfig {
  return new IdempotencyConfig({
    eventKeyJmesPath: '[owner, idempotencyKey]',
    payloadValidationJmesPath: 'body',
    expiresAfterSeconds: IDEMPOTENCY_TTL_SECONDS,
    hashFunction: 'sha256',
    throwOnNoIdempotencyKey: true,
  });
}
