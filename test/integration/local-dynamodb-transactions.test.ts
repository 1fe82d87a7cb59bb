/**
 * TransactWriteItems in the local DynamoDB, through the real SDK client: all items applied or
 * none, cancellation reasons in AWS's shape, AWS's validation, no write lost or interleaved
 * under concurrency, index entries kept, and IAM deciding each item at the runtime's door.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  TransactionCanceledException,
  type TransactWriteItem,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import type { CfnTemplate } from '#infra/asl.ts';
import { LocalIdentities } from '#local/aws/identities.ts';
import { iamGate } from '#local/iam/gate.ts';
import { startLocalStorage } from '#local/runtime/storage.ts';
import { useLocalDynamoDb } from '../helpers/dynamodb.ts';

const dynamo = useLocalDynamoDb();

async function newTable(): Promise<string> {
  const name = `transactions-${dynamo.tableNumber()}`;
  await dynamo.createTable(name, { pk: 'HASH' }, [
    { name: 'byState', partitionKey: 'state', sortKey: 'pk' },
  ]);
  return name;
}

async function getItem(table: string, pk: string) {
  const { Item } = await dynamo.client.send(
    new GetItemCommand({ TableName: table, Key: { pk: { S: pk } }, ConsistentRead: true }),
  );
  return Item;
}

async function cancelled(items: TransactWriteItem[]): Promise<TransactionCanceledException> {
  const error = await dynamo.client
    .send(new TransactWriteItemsCommand({ TransactItems: items }))
    .then(
      () => undefined,
      (caught: unknown) => caught,
    );
  expect(error).toBeInstanceOf(TransactionCanceledException);
  return error as TransactionCanceledException;
}

describe('TransactWriteItems in the local DynamoDB', () => {
  it('applies an Update, a Put and a ConditionCheck together', async () => {
    const table = await newTable();
    await dynamo.client.send(
      new PutItemCommand({ TableName: table, Item: { pk: { S: 'gate' }, open: { BOOL: true } } }),
    );
    await dynamo.client.send(
      new TransactWriteItemsCommand({
        ClientRequestToken: 'accepted-and-ignored',
        TransactItems: [
          {
            Update: {
              TableName: table,
              Key: { pk: { S: 'record' } },
              UpdateExpression: 'SET #counted = :yes ADD #n :one',
              ConditionExpression: 'attribute_not_exists(#counted)',
              ExpressionAttributeNames: { '#counted': 'counted', '#n': 'n' },
              ExpressionAttributeValues: { ':yes': { BOOL: true }, ':one': { N: '1' } },
            },
          },
          { Put: { TableName: table, Item: { pk: { S: 'new' }, state: { S: 'queued' } } } },
          {
            ConditionCheck: {
              TableName: table,
              Key: { pk: { S: 'gate' } },
              ConditionExpression: '#open = :yes',
              ExpressionAttributeNames: { '#open': 'open' },
              ExpressionAttributeValues: { ':yes': { BOOL: true } },
            },
          },
        ],
      }),
    );
    expect(await getItem(table, 'record')).toEqual({
      pk: { S: 'record' },
      counted: { BOOL: true },
      n: { N: '1' },
    });
    expect(await getItem(table, 'new')).toEqual({ pk: { S: 'new' }, state: { S: 'queued' } });
    // The index entry is written with the item.
    const { Items } = await dynamo.client.send(
      new QueryCommand({
        TableName: table,
        IndexName: 'byState',
        KeyConditionExpression: '#state = :queued',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: { ':queued': { S: 'queued' } },
      }),
    );
    expect(Items?.map((item) => item.pk?.S)).toEqual(['new']);
  });

  it('writes nothing when one condition fails, and says which, in order', async () => {
    const table = await newTable();
    const old = { pk: { S: 'taken' }, state: { S: 'done' }, n: { N: '7' } };
    await dynamo.client.send(new PutItemCommand({ TableName: table, Item: old }));
    const error = await cancelled([
      { Put: { TableName: table, Item: { pk: { S: 'fresh' }, state: { S: 'queued' } } } },
      {
        Update: {
          TableName: table,
          Key: { pk: { S: 'taken' } },
          UpdateExpression: 'SET #state = :running',
          ConditionExpression: '#state = :queued',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: { ':running': { S: 'running' }, ':queued': { S: 'queued' } },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      },
      {
        ConditionCheck: {
          TableName: table,
          Key: { pk: { S: 'elsewhere' } },
          ConditionExpression: 'attribute_exists(pk)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      },
    ]);
    expect(error.message).toBe(
      'Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed, ConditionalCheckFailed]',
    );
    expect(error.CancellationReasons).toEqual([
      { Code: 'None' },
      { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed', Item: old },
      // ALL_OLD asked, but there is no item: no Item.
      { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed' },
    ]);
    expect(await getItem(table, 'fresh')).toBeUndefined();
    expect(await getItem(table, 'taken')).toEqual(old);
  });

  it('cancels with ValidationError what only the item’s data refuses', async () => {
    const table = await newTable();
    await dynamo.client.send(
      new PutItemCommand({ TableName: table, Item: { pk: { S: 'a' }, n: { S: 'text' } } }),
    );
    const error = await cancelled([
      { Put: { TableName: table, Item: { pk: { S: 'b' } } } },
      {
        Update: {
          TableName: table,
          Key: { pk: { S: 'a' } },
          UpdateExpression: 'ADD n :one',
          ExpressionAttributeValues: { ':one': { N: '1' } },
        },
      },
    ]);
    expect(error.CancellationReasons).toEqual([
      { Code: 'None' },
      {
        Code: 'ValidationError',
        Message: 'An operand in the update expression has an incorrect data type',
      },
    ]);
    expect(await getItem(table, 'b')).toBeUndefined();
  });

  it('deletes an item and its index entry', async () => {
    const table = await newTable();
    await dynamo.client.send(
      new PutItemCommand({ TableName: table, Item: { pk: { S: 'gone' }, state: { S: 'x' } } }),
    );
    await dynamo.client.send(
      new TransactWriteItemsCommand({
        TransactItems: [{ Delete: { TableName: table, Key: { pk: { S: 'gone' } } } }],
      }),
    );
    expect(await getItem(table, 'gone')).toBeUndefined();
    const { Items } = await dynamo.client.send(
      new QueryCommand({
        TableName: table,
        IndexName: 'byState',
        KeyConditionExpression: '#state = :x',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: { ':x': { S: 'x' } },
      }),
    );
    expect(Items).toEqual([]);
  });

  it('refuses two operations on one item, more than 100 items, none, and a missing table', async () => {
    const table = await newTable();
    const put = (pk: string): TransactWriteItem => ({
      Put: { TableName: table, Item: { pk: { S: pk } } },
    });
    const send = (items: TransactWriteItem[]) =>
      dynamo.client.send(new TransactWriteItemsCommand({ TransactItems: items }));
    await expect(
      send([
        put('same'),
        {
          ConditionCheck: {
            TableName: table,
            Key: { pk: { S: 'same' } },
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        },
      ]),
    ).rejects.toMatchObject({
      name: 'ValidationException',
      message: 'Transaction request cannot include multiple operations on one item',
    });
    await expect(
      send(Array.from({ length: 101 }, (_, index) => put(`p${index}`))),
    ).rejects.toMatchObject({
      name: 'ValidationException',
      message: expect.stringContaining('Member must have length less than or equal to 100'),
    });
    await expect(send([])).rejects.toMatchObject({
      name: 'ValidationException',
      message: expect.stringContaining('Member must have length greater than or equal to 1'),
    });
    await expect(
      send([put('ok'), { Put: { TableName: 'no-such-table', Item: { pk: { S: 'x' } } } }]),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    await expect(
      send([{ Put: { TableName: table, Item: { other: { S: 'no key' } } } }]),
    ).rejects.toMatchObject({ name: 'ValidationException' });
    // A hundred is allowed, and nothing of the refused requests was written.
    await send(Array.from({ length: 100 }, (_, index) => put(`p${index}`)));
    expect(await getItem(table, 'p99')).toEqual({ pk: { S: 'p99' } });
    expect(await getItem(table, 'same')).toBeUndefined();
    expect(await getItem(table, 'ok')).toBeUndefined();
  });

  it('counts each record once under concurrent transactions, losing no interleaved update', async () => {
    const table = await newTable();
    const countOnce = (record: number): TransactWriteItem[] => [
      {
        Update: {
          TableName: table,
          Key: { pk: { S: `record-${record}` } },
          UpdateExpression: 'SET counted = :yes',
          ConditionExpression: 'attribute_not_exists(counted)',
          ExpressionAttributeValues: { ':yes': { BOOL: true } },
        },
      },
      {
        Update: {
          TableName: table,
          Key: { pk: { S: 'counter' } },
          UpdateExpression: 'ADD n :one',
          ExpressionAttributeValues: { ':one': { N: '1' } },
        },
      },
    ];
    const transactions = Array.from({ length: 50 }, (_, index) =>
      dynamo.client
        .send(new TransactWriteItemsCommand({ TransactItems: countOnce(index % 10) }))
        .then(
          () => 'counted',
          (error: unknown) => (error as Error).name,
        ),
    );
    // Plain updates of the counter, in among the transactions.
    const updates = Array.from({ length: 20 }, () =>
      dynamo.client.send(
        new UpdateItemCommand({
          TableName: table,
          Key: { pk: { S: 'counter' } },
          UpdateExpression: 'ADD plain :one, n :zero',
          ExpressionAttributeValues: { ':one': { N: '1' }, ':zero': { N: '0' } },
        }),
      ),
    );
    const [outcomes] = await Promise.all([Promise.all(transactions), Promise.all(updates)]);
    expect(outcomes.filter((outcome) => outcome === 'counted')).toHaveLength(10);
    expect(outcomes.filter((outcome) => outcome === 'TransactionCanceledException')).toHaveLength(
      40,
    );
    expect(await getItem(table, 'counter')).toEqual({
      pk: { S: 'counter' },
      n: { N: '10' },
      plain: { N: '20' },
    });
  });
});

describe('TransactWriteItems at the local runtime’s door', () => {
  it('is authorised item by item: a role lacking UpdateItem on one table is refused', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'spark-t2i-transactions-'));
    const role = {
      logicalId: 'WriterRole',
      roleName: 'WriterRole',
      arn: 'arn:aws:iam::000000000000:role/WriterRole',
    };
    const table = () => ({
      Type: 'AWS::DynamoDB::Table',
      Properties: {
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      },
    });
    const arn = (name: string) => `arn:aws:dynamodb:us-east-1:000000000000:table/${name}`;
    const template: CfnTemplate = {
      Resources: {
        Records: table(),
        Counters: table(),
        WriterRole: {
          Type: 'AWS::IAM::Role',
          Properties: {
            AssumeRolePolicyDocument: {
              Version: '2012-10-17',
              Statement: [
                {
                  Effect: 'Allow',
                  Action: 'sts:AssumeRole',
                  Principal: { Service: 'lambda.amazonaws.com' },
                },
              ],
            },
          },
        },
        WriterPolicy: {
          Type: 'AWS::IAM::Policy',
          Properties: {
            PolicyName: 'writer',
            Roles: [{ Ref: 'WriterRole' }],
            PolicyDocument: {
              Version: '2012-10-17',
              Statement: [
                { Effect: 'Allow', Action: 'dynamodb:UpdateItem', Resource: arn('Records') },
                {
                  Effect: 'Allow',
                  Action: 'dynamodb:ConditionCheckItem',
                  Resource: arn('Counters'),
                },
              ],
            },
          },
        },
      },
    };
    const identities = await LocalIdentities.open(dataDir, [role]);
    const storage = await startLocalStorage({
      dataDir,
      template,
      access: { identities, gate: iamGate(template), iam: { template } },
    });
    const client = (credentials: { accessKeyId: string; secretAccessKey: string }) =>
      new DynamoDBClient({ endpoint: storage.dynamodbEndpoint, region: 'us-east-1', credentials });
    const writer = client(identities.forRole('WriterRole'));
    const admin = client(storage.credentials);
    const update = (TableName: string): TransactWriteItem => ({
      Update: {
        TableName,
        Key: { pk: { S: 'one' } },
        UpdateExpression: 'ADD n :one',
        ExpressionAttributeValues: { ':one': { N: '1' } },
      },
    });
    try {
      await expect(
        writer.send(
          new TransactWriteItemsCommand({ TransactItems: [update('Records'), update('Counters')] }),
        ),
      ).rejects.toMatchObject({
        name: 'AccessDeniedException',
        message: expect.stringContaining('dynamodb:UpdateItem'),
      });
      // What the role may do passes the door and runs in the worker's DynamoDB.
      await writer.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            update('Records'),
            {
              ConditionCheck: {
                TableName: 'Counters',
                Key: { pk: { S: 'one' } },
                ConditionExpression: 'attribute_not_exists(n)',
              },
            },
          ],
        }),
      );
      const read = (TableName: string) =>
        admin
          .send(new GetItemCommand({ TableName, Key: { pk: { S: 'one' } } }))
          .then(({ Item }) => Item);
      expect(await read('Records')).toEqual({ pk: { S: 'one' }, n: { N: '1' } });
      expect(await read('Counters')).toBeUndefined();
    } finally {
      writer.destroy();
      admin.destroy();
      await storage.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
