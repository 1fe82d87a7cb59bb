/**
 * The two ways the repositories read a partition of an index: every item, a page at a time (the
 * sweeps and the outboxes), and one page newest first for an API list (GET /generations,
 * GET /batches), which asks one item more than the page so the caller can tell whether another
 * page exists.
 */
import {
  type DynamoDBDocumentClient,
  QueryCommand,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';

/** An index of a table, as the table schemas name it. */
export interface IndexKeys {
  readonly name: string;
  readonly partitionKey: string;
}

/** One page of a Query; `lastEvaluatedKey` when DynamoDB has more. */
export interface QueryPage<T> {
  readonly items: T[];
  readonly lastEvaluatedKey?: Record<string, unknown>;
}

/** Every page of a Query, following `LastEvaluatedKey` until DynamoDB has no more. */
export async function* queryPages(
  client: DynamoDBDocumentClient,
  input: Omit<QueryCommandInput, 'ExclusiveStartKey'>,
): AsyncGenerator<Array<Record<string, unknown>>> {
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await client.send(
      new QueryCommand({ ...input, ...(startKey && { ExclusiveStartKey: startKey }) }),
    );
    yield page.Items ?? [];
    startKey = page.LastEvaluatedKey;
  } while (startKey);
}

/** One page of a partition of an index, newest (highest sort key) first, one item over `limit`. */
export async function newestFirst(
  client: DynamoDBDocumentClient,
  query: {
    readonly tableName: string;
    readonly index: IndexKeys;
    readonly partition: string;
    readonly limit: number;
    readonly startKey?: Record<string, unknown>;
  },
): Promise<QueryPage<Record<string, unknown>>> {
  const { Items = [], LastEvaluatedKey } = await client.send(
    new QueryCommand({
      TableName: query.tableName,
      IndexName: query.index.name,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': query.index.partitionKey },
      ExpressionAttributeValues: { ':pk': query.partition },
      ScanIndexForward: false,
      Limit: query.limit + 1,
      ...(query.startKey && { ExclusiveStartKey: query.startKey }),
    }),
  );
  return {
    items: Items,
    ...(LastEvaluatedKey !== undefined && { lastEvaluatedKey: LastEvaluatedKey }),
  };
}
