/**
 * The generations table's poll-count write, against a real DynamoDB-compatible server: its
 * conditions decide which writes land.
 */
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GenerationRecord } from '#shared/generation/model.ts';
import { GenerationStore } from '#shared/generation/store.ts';
import { type LocalDynamoDb, startDynamoDb } from '../../../helpers/dynamodb.ts';

const TABLE = 'generations';
const CREATED = '2026-12-02T10:00:00.000Z';
const LATER = new Date('2026-12-02T10:00:30.000Z');

let dynamodb: LocalDynamoDb;
let store: GenerationStore;

beforeAll(async () => {
  dynamodb = await startDynamoDb();
  await dynamodb.createTable(TABLE, { id: 'HASH' });
  store = new GenerationStore(dynamodb.documents, TABLE);
});
afterAll(async () => {
  await dynamodb.close();
});

async function put(id: string, status: GenerationRecord['status'], polls?: number) {
  await dynamodb.documents.send(
    new PutCommand({
      TableName: TABLE,
      Item: {
        id,
        status,
        createdAt: CREATED,
        updatedAt: CREATED,
        ...(polls !== undefined && { polls }),
      },
    }),
  );
}

async function read(id: string) {
  const { Item } = await dynamodb.documents.send(new GetCommand({ TableName: TABLE, Key: { id } }));
  return Item as { polls?: number; updatedAt: string } | undefined;
}

describe('GenerationStore.recordPolls', () => {
  it('writes the count of a running generation, with the time of the write', async () => {
    await put('running-1', 'running', 0);

    await store.recordPolls('running-1', 3, LATER);

    expect(await read('running-1')).toMatchObject({ polls: 3, updatedAt: LATER.toISOString() });
  });

  it('never moves the count back (a retried poll writing an older count)', async () => {
    await put('running-2', 'running', 5);

    await store.recordPolls('running-2', 4, LATER);

    expect(await read('running-2')).toMatchObject({ polls: 5, updatedAt: CREATED });
  });

  it('leaves an ended record alone (cancelled while the poll ran)', async () => {
    await put('cancelled-1', 'cancelled', 1);

    await store.recordPolls('cancelled-1', 2, LATER);

    expect(await read('cancelled-1')).toMatchObject({ polls: 1, updatedAt: CREATED });
  });

  it('creates no record for an id that has none', async () => {
    await store.recordPolls('missing-1', 1, LATER);

    expect(await read('missing-1')).toBeUndefined();
  });
});
