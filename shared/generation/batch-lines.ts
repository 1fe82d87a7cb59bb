/**
 * The records of batch lines: written, started and ended each in one transaction with the
 * counter shard of its batch (in the batches table), so a batch's counts move exactly with its
 * records; and read by batch, in line order. The generation repository (repository.ts) answers
 * for them under its own method names, so its callers need not know this module.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { queryPages } from '#shared/aws/queries.ts';
import { transactWrite } from '#shared/aws/transactions.ts';
import { shardKeyOf, shardOf } from '#shared/batches/model.ts';
import { type GenerationStatus, GenerationsTableSchema, isTerminal } from './model.ts';
import type { StoredRecord } from './repository.ts';
import { Transitions, updateOf } from './transitions.ts';

/** A record of a line of a batch. */
export type BatchLineRecord = StoredRecord & {
  readonly batchId: string;
  readonly batchLine: number;
};

/** One page of a batch's records, in line order. */
export interface BatchLinePageQuery {
  readonly batchId: string;
  readonly status?: GenerationStatus;
  readonly limit: number;
  readonly startKey?: Record<string, unknown>;
}

export class BatchLines {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #batchesTable: string | undefined;

  /** Without `batchesTable`, a record of a batch line is written like any other. */
  constructor(client: DynamoDBDocumentClient, tableName: string, batchesTable?: string) {
    this.#client = client;
    this.#tableName = tableName;
    this.#batchesTable = batchesTable;
  }

  /**
   * Writes the queued record of a batch line, and counts the line accepted in its batch, in one
   * transaction: a line read twice (S3 reporting its file twice, a retried reading) finds its
   * record and counts nothing. Answers false when the record existed already.
   */
  async create(record: BatchLineRecord): Promise<boolean> {
    const outcome = await transactWrite(this.#client, [
      {
        Put: {
          TableName: this.#tableName,
          Item: record,
          ConditionExpression: 'attribute_not_exists(id)',
        },
      },
      { Update: this.#shardUpdate(record, 'ADD accepted :one', { ':one': 1 }) },
    ]);
    return outcome.ok;
  }

  /**
   * Whether `recordTaskCreated` of this record goes through here: a batch line, with the batches
   * table known.
   */
  counts(record: StoredRecord): record is BatchLineRecord {
    return isBatchLine(record) && this.#batchesTable !== undefined;
  }

  /**
   * The task-created transition of a batch line, and the line running in its batch's counts, in
   * one write (exactly once: the transition's condition admits one provider task per record).
   * Throws ConditionalCheckFailedException when the transition's condition did not hold.
   */
  async recordTaskCreated(
    record: BatchLineRecord,
    values: Readonly<Record<string, unknown>>,
  ): Promise<void> {
    const outcome = await transactWrite(this.#client, [
      { Update: updateOf(this.#tableName, record.id, Transitions.taskCreated, values) },
      { Update: this.#shardUpdate(record, 'ADD running :one', { ':one': 1 }) },
    ]);
    if (outcome.ok) return;
    throw new ConditionalCheckFailedException({
      message: 'The conditional request failed',
      $metadata: {},
    });
  }

  /**
   * Counts a batch line's terminal status in its batch, once: the record is marked with the
   * status it was counted as in the same transaction, and a line that was running leaves
   * `running`. Answers the record (counted now or before), or undefined when it is not a batch
   * line or has not ended.
   */
  async countEnd(id: string): Promise<BatchLineRecord | undefined> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const { Item } = await this.#client.send(
        new GetCommand({ TableName: this.#tableName, Key: { id }, ConsistentRead: true }),
      );
      const record = Item as StoredRecord | undefined;
      if (record === undefined || !this.counts(record)) return undefined;
      if (!isTerminal(record.status)) return undefined;
      if (record.batchCounted !== undefined) return record;
      // Whether the line counted as running is fixed by the time it ends: only a record not yet
      // terminal can get a provider task, and that write counts it running.
      const wasRunning = record.sparkTaskId !== undefined;
      const cost = record.status === 'completed' ? Number(record.costUsd) || 0 : 0;
      const adds = [`#ended :one`, ...(wasRunning ? ['running :minus'] : []), 'costUsd :cost'];
      const outcome = await transactWrite(this.#client, [
        {
          Update: {
            TableName: this.#tableName,
            Key: { id },
            UpdateExpression: 'SET batchCounted = #status',
            ConditionExpression: `attribute_not_exists(batchCounted) AND #status = :status AND ${
              wasRunning ? 'attribute_exists' : 'attribute_not_exists'
            }(sparkTaskId)`,
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: { ':status': record.status },
          },
        },
        {
          Update: {
            ...this.#shardUpdate(record, `ADD ${adds.join(', ')}`, {
              ':one': 1,
              ':cost': cost,
              ...(wasRunning && { ':minus': -1 }),
            }),
            ExpressionAttributeNames: { '#ended': record.status },
          },
        },
      ]);
      if (outcome.ok) return { ...record, batchCounted: record.status };
      // The record moved between the read and the write: read it again.
    }
    throw new Error(`The end of batch line ${id} could not be counted: its record kept moving`);
  }

  /**
   * A batch's records in line order, optionally of one status (filtered: the index is by line).
   * Asks one item more than the page, so the caller can tell whether another page exists.
   */
  async page(
    query: BatchLinePageQuery,
  ): Promise<{ items: StoredRecord[]; lastEvaluatedKey?: Record<string, unknown> }> {
    const index = GenerationsTableSchema.byBatchIndex;
    const items: StoredRecord[] = [];
    let startKey = query.startKey;
    // A status filter applies after the index is read: read on until the page is full.
    do {
      const page = await this.#client.send(
        new QueryCommand({
          TableName: this.#tableName,
          IndexName: index.name,
          KeyConditionExpression: '#pk = :pk',
          ...(query.status !== undefined && { FilterExpression: '#status = :status' }),
          ExpressionAttributeNames: {
            '#pk': index.partitionKey,
            ...(query.status !== undefined && { '#status': 'status' }),
          },
          ExpressionAttributeValues: {
            ':pk': query.batchId,
            ...(query.status !== undefined && { ':status': query.status }),
          },
          Limit: query.limit + 1 - items.length,
          ...(startKey && { ExclusiveStartKey: startKey }),
        }),
      );
      items.push(...((page.Items ?? []) as StoredRecord[]));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined && items.length <= query.limit);
    return { items, ...(startKey !== undefined && { lastEvaluatedKey: startKey }) };
  }

  /** Records of a batch not yet terminal (the batch's cancel ends them). */
  async *unfinished(batchId: string): AsyncGenerator<StoredRecord> {
    const index = GenerationsTableSchema.byBatchIndex;
    for await (const items of queryPages(this.#client, {
      TableName: this.#tableName,
      IndexName: index.name,
      KeyConditionExpression: '#pk = :pk',
      FilterExpression: '#status IN (:queued, :running)',
      ExpressionAttributeNames: { '#pk': index.partitionKey, '#status': 'status' },
      ExpressionAttributeValues: { ':pk': batchId, ':queued': 'queued', ':running': 'running' },
    })) {
      yield* items as StoredRecord[];
    }
  }

  /** The update of the counter shard a batch line counts in. */
  #shardUpdate(
    record: Pick<BatchLineRecord, 'batchId' | 'batchLine'>,
    expression: string,
    values: Record<string, unknown>,
  ) {
    return {
      TableName: this.#batchesTable as string,
      Key: { id: shardKeyOf(record.batchId, shardOf(record.batchLine)) },
      // When the counts last moved: the reconciler settles a batch whose counts stand still.
      UpdateExpression: `SET countedAt = :countedAt ${expression}`,
      ExpressionAttributeValues: { ...values, ':countedAt': new Date().toISOString() },
    };
  }
}

/** Whether a record is a line of a batch. */
export function isBatchLine<R extends StoredRecord>(
  record: R,
): record is R & { batchId: string; batchLine: number } {
  return typeof record.batchId === 'string' && typeof record.batchLine === 'number';
}
