/** The shared index reads, against a real local DynamoDB: every page followed, newest first. */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { newestFirst, queryPages } from '#shared/aws/queries.ts';
import { useLocalDynamoDb } from '../../../helpers/dynamodb.ts';

const dynamodb = useLocalDynamoDb();
const INDEX = { name: 'byOwner', partitionKey: 'owner', sortKey: 'createdAt' };

/** A table of `count` items of owner `alice` (created a minute apart) and one of `bob`. */
async function tableOf(count: number): Promise<string> {
  const table = `queries-${dynamodb.tableNumber()}`;
  await dynamodb.createTable(table, { id: 'HASH' }, [INDEX]);
  const items = [
    ...Array.from({ length: count }, (_, n) => ({
      id: `a${n}`,
      owner: 'alice',
      createdAt: `2026-01-01T00:${String(n).padStart(2, '0')}:00.000Z`,
    })),
    { id: 'b0', owner: 'bob', createdAt: '2026-01-01T00:00:00.000Z' },
  ];
  for (const item of items) {
    await dynamodb.documents.send(new PutCommand({ TableName: table, Item: item }));
  }
  return table;
}

describe('queryPages', () => {
  it('follows LastEvaluatedKey until the partition is read, a page at a time', async () => {
    const table = await tableOf(5);
    const pages: string[][] = [];
    for await (const items of queryPages(dynamodb.documents, {
      TableName: table,
      IndexName: INDEX.name,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': INDEX.partitionKey },
      ExpressionAttributeValues: { ':pk': 'alice' },
      Limit: 2,
    })) {
      pages.push(items.map((item) => String(item.id)));
    }
    expect(pages.flat()).toEqual(['a0', 'a1', 'a2', 'a3', 'a4']);
    expect(pages.slice(0, 3).map((page) => page.length)).toEqual([2, 2, 1]);
  });
});

describe('newestFirst', () => {
  it('answers one item over the limit, newest first, and goes on from its start key', async () => {
    const table = await tableOf(5);
    const query = { tableName: table, index: INDEX, partition: 'alice', limit: 2 };
    const first = await newestFirst(dynamodb.documents, query);
    expect(first.items.map((item) => item.id)).toEqual(['a4', 'a3', 'a2']);
    expect(first.lastEvaluatedKey).toBeDefined();
    const rest = await newestFirst(dynamodb.documents, {
      ...query,
      limit: 5,
      startKey: first.lastEvaluatedKey,
    });
    expect(rest.items.map((item) => item.id)).toEqual(['a1', 'a0']);
    expect(rest.lastEvaluatedKey).toBeUndefined();
  });
});
