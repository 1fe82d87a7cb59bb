/**
 * The reads of the batches table: a batch's head, the batch with its counts (the head and its
 * counter shards in one BatchGetItem), an owner's page, and the sweeps' partitions (the outbox,
 * the unfinished). Every read of a head is strongly consistent: a status just written is seen.
 * The writes are in repository.ts.
 */
import { BatchGetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { newestFirst, queryPages } from '#shared/aws/queries.ts';
import {
  BATCH_OUTBOX,
  BATCH_UNFINISHED,
  type Batch,
  BatchesTableSchema,
  type BatchHead,
  type BatchStatus,
  batchOwnerStatusKey,
  COUNT_SHARDS,
  countsOf,
  type ShardItem,
  shardKeyOf,
} from './model.ts';

export interface BatchPageQuery {
  readonly owner: string;
  readonly status?: BatchStatus;
  readonly limit: number;
  readonly startKey?: Record<string, unknown>;
}

export interface BatchPage {
  readonly items: Batch[];
  readonly lastEvaluatedKey?: Record<string, unknown>;
}

/** A head that owes its event. */
export type OwingBatch = Batch & { readonly pendingEvent: NonNullable<BatchHead['pendingEvent']> };

/** BatchGetItem takes at most this many keys. */
const MAX_BATCH_GET_KEYS = 100;

export class BatchReader {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;

  constructor(client: DynamoDBDocumentClient, tableName: string) {
    this.#client = client;
    this.#tableName = tableName;
  }

  async getHead(id: string): Promise<BatchHead | undefined> {
    const [head] = await this.#heads([id]);
    return head;
  }

  /** The batch with its counts: the head and every shard, one BatchGetItem. */
  async get(id: string): Promise<Batch | undefined> {
    const [batch] = await this.#withCounts([id]);
    return batch;
  }

  /**
   * A page of an owner's batches, newest first, optionally of one status: a Query on the owner
   * (or owner#status) index, then the counts of the page's batches. Asks one item more than the
   * page, so the caller can tell whether another page exists.
   */
  async pageByOwner(query: BatchPageQuery): Promise<BatchPage> {
    const { items, lastEvaluatedKey } = await newestFirst(this.#client, {
      tableName: this.#tableName,
      index: batchOwnerIndexOf(query.status),
      partition: batchOwnerPartitionOf(query.owner, query.status),
      limit: query.limit,
      ...(query.startKey && { startKey: query.startKey }),
    });
    const ids = items.map((item) => String(item.id));
    return {
      items: await this.#withCounts(ids),
      ...(lastEvaluatedKey !== undefined && { lastEvaluatedKey }),
    };
  }

  /** Heads that owe their event and were updated before `before` (the outbox). */
  async *owingEvents(before: Date): AsyncGenerator<OwingBatch> {
    for await (const ids of this.#partitionBefore(
      BatchesTableSchema.outboxIndex,
      BATCH_OUTBOX,
      before,
    )) {
      for (const batch of await this.#withCounts(ids)) {
        if (batch.pendingEvent) yield batch as OwingBatch;
      }
    }
  }

  /** Heads of batches not ended that were created before `before`, oldest first. */
  async *unfinishedCreatedBefore(before: Date): AsyncGenerator<BatchHead> {
    const index = BatchesTableSchema.unfinishedIndex;
    for await (const ids of this.#partitionBefore(index, BATCH_UNFINISHED, before)) {
      yield* await this.#heads(ids);
    }
  }

  /** The ids in one partition of a sparse index, sorted before `before`, a page at a time. */
  async *#partitionBefore(
    index: { readonly name: string; readonly partitionKey: string; readonly sortKey: string },
    partition: string,
    before: Date,
  ): AsyncGenerator<string[]> {
    for await (const items of queryPages(this.#client, {
      TableName: this.#tableName,
      IndexName: index.name,
      KeyConditionExpression: '#pk = :pk AND #sk < :before',
      ExpressionAttributeNames: { '#pk': index.partitionKey, '#sk': index.sortKey },
      ExpressionAttributeValues: { ':pk': partition, ':before': before.toISOString() },
    })) {
      yield items.map((item) => String(item.id));
    }
  }

  /** Heads of these batches (strongly consistent), in the order asked; missing ones left out. */
  async #heads(ids: readonly string[]): Promise<BatchHead[]> {
    const items = await this.#getAll(ids);
    return ids.flatMap((id) => {
      const item = items.get(id);
      return item ? [item as unknown as BatchHead] : [];
    });
  }

  /** Heads with their counts: every head and shard of these batches, in the order asked. */
  async #withCounts(ids: readonly string[]): Promise<Batch[]> {
    const keys = ids.flatMap((id) => [
      id,
      ...Array.from({ length: COUNT_SHARDS }, (_, shard) => shardKeyOf(id, shard)),
    ]);
    const items = await this.#getAll(keys);
    return ids.flatMap((id) => {
      const head = items.get(id) as unknown as BatchHead | undefined;
      if (head === undefined) return [];
      const shards = Array.from(
        { length: COUNT_SHARDS },
        (_, shard) => (items.get(shardKeyOf(id, shard)) ?? { id }) as ShardItem,
      );
      return [{ ...head, ...countsOf(head, shards) }];
    });
  }

  /** Every item of these keys (strongly consistent), by key; BatchGetItem's leftovers asked again. */
  async #getAll(ids: readonly string[]): Promise<Map<string, Record<string, unknown>>> {
    const found = new Map<string, Record<string, unknown>>();
    const chunks: string[][] = [];
    for (let i = 0; i < ids.length; i += MAX_BATCH_GET_KEYS) {
      chunks.push(ids.slice(i, i + MAX_BATCH_GET_KEYS) as string[]);
    }
    await Promise.all(
      chunks.map(async (chunk) => {
        let keys: Array<Record<string, unknown>> = chunk.map((id) => ({ id }));
        for (let attempt = 0; keys.length > 0; attempt++) {
          if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 20 * 2 ** attempt));
          const { Responses, UnprocessedKeys } = await this.#client.send(
            new BatchGetCommand({
              RequestItems: { [this.#tableName]: { Keys: keys, ConsistentRead: true } },
            }),
          );
          for (const item of Responses?.[this.#tableName] ?? []) found.set(String(item.id), item);
          keys = (UnprocessedKeys?.[this.#tableName]?.Keys ?? []) as Array<Record<string, unknown>>;
          if (attempt > 8 && keys.length > 0) {
            throw new Error(`BatchGetItem left ${keys.length} key(s) unprocessed after retries`);
          }
        }
      }),
    );
    return found;
  }
}

/** The index an owner's page of batches is read from: by owner, or by owner and status. */
export function batchOwnerIndexOf(status: BatchStatus | undefined) {
  return status === undefined
    ? BatchesTableSchema.byOwnerIndex
    : BatchesTableSchema.byOwnerStatusIndex;
}

/** The partition of that index holding the owner's batches (of that status). */
export function batchOwnerPartitionOf(owner: string, status: BatchStatus | undefined): string {
  return status === undefined ? owner : batchOwnerStatusKey(owner, status);
}
