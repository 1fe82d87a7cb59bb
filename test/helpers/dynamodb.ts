/**
 * A real DynamoDB-compatible server (dynalite, in memory, with the local runtime's
 * TransactWriteItems) on 127.0.0.1 for tests of code that
 * talks to DynamoDB: conditional writes, sets and queries behave as the SDK expects.
 */
import type { AddressInfo } from 'node:net';
import {
  type AttributeDefinition,
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  type KeySchemaElement,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll } from 'vitest';
import { dynaliteWithTransactions } from '#local/runtime/dynalite-server.ts';

export interface LocalDynamoDb {
  readonly client: DynamoDBClient;
  readonly documents: DynamoDBDocumentClient;
  /**
   * Creates a table keyed by string attributes (`{ pk: 'HASH', sk: 'RANGE' }`), with global
   * secondary indexes (all attributes projected); key attributes are strings but for those named
   * in `numberKeys`.
   */
  createTable(
    name: string,
    keys: Record<string, 'HASH' | 'RANGE'>,
    indexes?: ReadonlyArray<{ name: string; partitionKey: string; sortKey: string }>,
    numberKeys?: readonly string[],
  ): Promise<void>;
  close(): Promise<void>;
}

export async function startDynamoDb(): Promise<LocalDynamoDb> {
  const server = dynaliteWithTransactions({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  const client = new DynamoDBClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  const documents = DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true },
  });
  return {
    client,
    documents,
    async createTable(name, keys, indexes = [], numberKeys = []) {
      const names = [
        ...new Set([
          ...Object.keys(keys),
          ...indexes.flatMap((index) => [index.partitionKey, index.sortKey]),
        ]),
      ];
      await client.send(
        new CreateTableCommand({
          TableName: name,
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: names.map(
            (AttributeName): AttributeDefinition => ({
              AttributeName,
              AttributeType: numberKeys.includes(AttributeName) ? 'N' : 'S',
            }),
          ),
          KeySchema: Object.entries(keys).map(
            ([AttributeName, KeyType]): KeySchemaElement => ({ AttributeName, KeyType }),
          ),
          ...(indexes.length > 0 && {
            GlobalSecondaryIndexes: indexes.map((index) => ({
              IndexName: index.name,
              KeySchema: [
                { AttributeName: index.partitionKey, KeyType: 'HASH' },
                { AttributeName: index.sortKey, KeyType: 'RANGE' },
              ],
              Projection: { ProjectionType: 'ALL' },
            })),
          }),
        }),
      );
      // dynalite answers CreateTable with the table CREATING and refuses item requests on it
      // (ResourceNotFoundException) until a timer marks it ACTIVE, which a busy event loop
      // can delay past the caller's first request.
      for (;;) {
        const { Table } = await client.send(new DescribeTableCommand({ TableName: name }));
        if (Table?.TableStatus === 'ACTIVE') return;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    },
    async close() {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * A local DynamoDB for the test file that calls this at its top: started before its tests and
 * closed after them. `tableNumber()` numbers the tables each test creates, so none share one.
 */
export function useLocalDynamoDb(): Omit<LocalDynamoDb, 'close'> & { tableNumber(): number } {
  let started: LocalDynamoDb | undefined;
  let tables = 0;
  beforeAll(async () => {
    started = await startDynamoDb();
  });
  afterAll(async () => {
    await started?.close();
  });
  const running = (): LocalDynamoDb => {
    if (started === undefined) throw new Error('the local DynamoDB is used outside a test');
    return started;
  };
  return {
    get client() {
      return running().client;
    },
    get documents() {
      return running().documents;
    },
    createTable: (name, keys, indexes, numberKeys) =>
      running().createTable(name, keys, indexes, numberKeys),
    tableNumber: () => ++tables,
  };
}
