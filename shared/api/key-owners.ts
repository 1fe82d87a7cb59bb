/**
 * Whether an owner has an active API key, for the prompt-file trigger: a file under
 * `prompts/<owner>/` belongs to an owner that has one. The keys table is keyed by the key's hash,
 * so the lookup goes through its `byOwner` index.
 *
 * Apart from `keys.ts` on purpose: the prompt-file function needs DynamoDB only for files in an
 * owner's folder, so the client is imported on first use, and nothing here imports an SDK
 * package at load.
 */
import type { DynamoDBClient, QueryCommandOutput } from '@aws-sdk/client-dynamodb';
import { once } from '#shared/aws/once.ts';
import { API_KEYS_BY_OWNER_INDEX } from './key-table.ts';

export interface KeyOwnerLookup {
  readonly tableName: string;
  /** @default a DynamoDB client of this process, made on the first lookup */
  readonly client?: () => Promise<Pick<DynamoDBClient, 'send'>>;
}

// Here rather than in shared/aws/lazy.ts: a bundle that imports that module carries every
// client its other factories import, used or not.
const clientOnFirstUse = once(async () => {
  const { DynamoDBClient } = await import('@aws-sdk/client-dynamodb');
  return new DynamoDBClient({});
});

/**
 * True when at least one key of `owner` is not revoked. The index is eventually consistent: a
 * key made a moment before may not be seen yet.
 */
export async function ownerHasActiveKey(owner: string, lookup: KeyOwnerLookup): Promise<boolean> {
  const [{ QueryCommand }, client] = await Promise.all([
    import('@aws-sdk/client-dynamodb'),
    (lookup.client ?? clientOnFirstUse)(),
  ]);
  let startKey: QueryCommandOutput['LastEvaluatedKey'];
  do {
    const page = await client.send(
      new QueryCommand({
        TableName: lookup.tableName,
        IndexName: API_KEYS_BY_OWNER_INDEX.name,
        KeyConditionExpression: '#owner = :owner',
        FilterExpression: 'attribute_not_exists(revokedAt)',
        ExpressionAttributeNames: { '#owner': API_KEYS_BY_OWNER_INDEX.partitionKey },
        ExpressionAttributeValues: { ':owner': { S: owner } },
        ...(startKey && { ExclusiveStartKey: startKey }),
      }),
    );
    if ((page.Count ?? 0) > 0) return true;
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return false;
}
