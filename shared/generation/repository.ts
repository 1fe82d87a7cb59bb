/**
 * The generations table: every read and write of a generation record. Status transitions are
 * sent only from here, each as its definition in transitions.ts says (the workflow's DynamoDB
 * tasks are built from the same definitions), so records only move forward and a terminal record
 * is never overwritten.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { transactWrite } from '#shared/aws/transactions.ts';
import { shardKeyOf, shardOf } from '#shared/batches/model.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';
import { GenerationAlreadyFinishedError } from './errors.ts';
import { EVENT_CANCELLED, EVENT_FAILED } from './events.ts';
import {
  type GenerationError,
  type GenerationRecord,
  type GenerationStatus,
  GenerationsTableSchema,
  isTerminal,
  OUTBOX,
  ownerStatusKey,
  UNFINISHED,
} from './model.ts';
import { DEFAULT_RECORD_RETENTION_DAYS, expiresAtOf } from './retention.ts';
import { type PendingEvent, type TransitionDefinition, Transitions } from './transitions.ts';

/**
 * A record as DynamoDB gives it back: `usage` and `costUsd` may be NULL, and `metadata` is the
 * JSON text of the caller's object (a map in records written before it was stored as text).
 */
export type StoredRecord = Omit<GenerationRecord, 'usage' | 'costUsd' | 'error' | 'metadata'> & {
  readonly ownerStatus?: string;
  readonly usage?: GenerationRecord['usage'] | null;
  readonly costUsd?: number | null;
  readonly error?: GenerationError | null;
  readonly metadata?: string | Record<string, unknown>;
};

/** A record that owes an event (the outbox). */
export type OwingRecord = StoredRecord & { readonly pendingEvent: PendingEvent };

/** The error of a record whose workflow the API could not start. */
export const NOT_STARTED_ERROR: GenerationError = {
  code: ErrorCodes.API_INTERNAL_ERROR,
  message: 'The generation could not be started; please submit it again',
};

/** One page of an owner's records, newest first. */
export interface OwnerPageQuery {
  readonly owner: string;
  readonly status?: GenerationStatus;
  readonly limit: number;
  readonly startKey?: Record<string, string>;
}

export interface OwnerPage {
  readonly items: StoredRecord[];
  readonly lastEvaluatedKey?: Record<string, string>;
}

export interface RepositoryOptions {
  /** Days a record is kept (its `expiresAt`). @default 90 */
  readonly retentionDays?: number;
  /**
   * The batches table, whose counter shards move with the records of batch lines (in the same
   * transaction). Without it, a record of a batch line is written like any other.
   */
  readonly batchesTable?: string;
}

/** A record of a line of a batch. */
export type BatchLineRecord = StoredRecord & {
  readonly batchId: string;
  readonly batchLine: number;
};

// Kept in a module without SDK imports, so steps that never touch the table do not load it.
export { GenerationAlreadyFinishedError, GenerationNotFoundError } from './errors.ts';

export class GenerationRepository {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #retentionDays: number;
  readonly #batchesTable: string | undefined;

  constructor(client: DynamoDBDocumentClient, tableName: string, options: RepositoryOptions = {}) {
    this.#client = client;
    this.#tableName = tableName;
    this.#retentionDays = options.retentionDays ?? DEFAULT_RECORD_RETENTION_DAYS;
    this.#batchesTable = options.batchesTable;
  }

  /** The `expiresAt` of a record created at `createdAt`. */
  expiresAtOf(createdAt: string): number {
    return expiresAtOf(createdAt, this.#retentionDays);
  }

  async get(id: string): Promise<GenerationRecord | undefined> {
    const { Item } = await this.#client.send(
      new GetCommand({ TableName: this.#tableName, Key: { id }, ConsistentRead: true }),
    );
    return Item as GenerationRecord | undefined;
  }

  /** The same read, typed as stored (the API's view reads NULLs and older shapes). */
  async read(id: string): Promise<StoredRecord | undefined> {
    return (await this.get(id)) as StoredRecord | undefined;
  }

  /**
   * Writes a new queued record. With `replaceNotStarted`, a record of the same id whose workflow
   * never started (marked so) is written afresh. Answers false when the id is taken.
   */
  async create(record: StoredRecord, options: { replaceNotStarted: boolean }): Promise<boolean> {
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#tableName,
          Item: record,
          ConditionExpression: options.replaceNotStarted
            ? 'attribute_not_exists(id) OR (#status = :failed AND #error.#message = :notStarted)'
            : 'attribute_not_exists(id)',
          ...(options.replaceNotStarted && {
            ExpressionAttributeNames: {
              '#status': 'status',
              '#error': 'error',
              '#message': 'message',
            },
            ExpressionAttributeValues: {
              ':failed': 'failed',
              ':notStarted': NOT_STARTED_ERROR.message,
            },
          }),
        }),
      );
      return true;
    } catch (error) {
      if (options.replaceNotStarted && error instanceof ConditionalCheckFailedException) {
        return false;
      }
      throw error;
    }
  }

  /**
   * Writes the queued record of a batch line, and counts the line accepted in its batch, in one
   * transaction: a line read twice (S3 reporting its file twice, a retried reading) finds its
   * record and counts nothing. Answers false when the record existed already.
   */
  async createBatchLine(record: BatchLineRecord): Promise<boolean> {
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
   * Counts a batch line's terminal status in its batch, once: the record is marked with the
   * status it was counted as in the same transaction, and a line that was running leaves
   * `running`. Answers the record (counted now or before), or undefined when it is not a batch
   * line or has not ended.
   */
  async countBatchLineEnd(id: string): Promise<BatchLineRecord | undefined> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const record = (await this.get(id)) as StoredRecord | undefined;
      if (record === undefined || !isBatchLine(record) || this.#batchesTable === undefined) {
        return undefined;
      }
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
  async pageByBatch(query: {
    readonly batchId: string;
    readonly status?: GenerationStatus;
    readonly limit: number;
    readonly startKey?: Record<string, unknown>;
  }): Promise<{ items: StoredRecord[]; lastEvaluatedKey?: Record<string, unknown> }> {
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
  async *unfinishedOfBatch(batchId: string): AsyncGenerator<StoredRecord> {
    const index = GenerationsTableSchema.byBatchIndex;
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.#client.send(
        new QueryCommand({
          TableName: this.#tableName,
          IndexName: index.name,
          KeyConditionExpression: '#pk = :pk',
          FilterExpression: '#status IN (:queued, :running)',
          ExpressionAttributeNames: { '#pk': index.partitionKey, '#status': 'status' },
          ExpressionAttributeValues: { ':pk': batchId, ':queued': 'queued', ':running': 'running' },
          ...(startKey && { ExclusiveStartKey: startKey }),
        }),
      );
      yield* (page.Items ?? []) as StoredRecord[];
      startKey = page.LastEvaluatedKey;
    } while (startKey);
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

  /** A transition as the Update of a transaction. */
  #updateOf(
    id: string,
    definition: TransitionDefinition,
    values: Readonly<Record<string, unknown>>,
  ) {
    return {
      TableName: this.#tableName,
      Key: { id },
      UpdateExpression: definition.updateExpression,
      ConditionExpression: definition.conditionExpression,
      ExpressionAttributeNames: { ...definition.attributeNames },
      ExpressionAttributeValues: { ...definition.fixedValues, ...values },
    };
  }

  /**
   * A page of an owner's records, newest first, optionally of one status: a Query on the owner
   * (or owner#status) index, never a Scan. Asks one item more than the page, so the caller can
   * tell whether another page exists.
   */
  async pageByOwner(query: OwnerPageQuery): Promise<OwnerPage> {
    const index = ownerIndexOf(query.status);
    const { Items = [], LastEvaluatedKey } = await this.#client.send(
      new QueryCommand({
        TableName: this.#tableName,
        IndexName: index.name,
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': index.partitionKey },
        ExpressionAttributeValues: { ':pk': ownerPartitionOf(query.owner, query.status) },
        ScanIndexForward: false,
        Limit: query.limit + 1,
        ...(query.startKey && { ExclusiveStartKey: query.startKey }),
      }),
    );
    return {
      items: Items as StoredRecord[],
      ...(LastEvaluatedKey !== undefined && {
        lastEvaluatedKey: LastEvaluatedKey as Record<string, string>,
      }),
    };
  }

  /**
   * Records the provider task the moment it exists, and marks the generation running. Done before
   * anything else can fail, so a retried CreateTask finds the task instead of paying for another.
   */
  async recordTaskCreated(record: GenerationRecord, sparkTaskId: string, now: Date): Promise<void> {
    const values = {
      ':task': sparkTaskId,
      ':ownerStatus': ownerStatusKey(record.owner, 'running'),
      ':now': now.toISOString(),
    };
    try {
      if (isBatchLine(record) && this.#batchesTable !== undefined) {
        // The line starts running in its batch's counts in the same write (exactly once: the
        // transition's condition admits one provider task per record).
        const outcome = await transactWrite(this.#client, [
          { Update: this.#updateOf(record.id, Transitions.taskCreated, values) },
          { Update: this.#shardUpdate(record, 'ADD running :one', { ':one': 1 }) },
        ]);
        if (outcome.ok) return;
        throw new ConditionalCheckFailedException({
          message: 'The conditional request failed',
          $metadata: {},
        });
      }
      await this.#send(record.id, Transitions.taskCreated, values);
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        throw new GenerationAlreadyFinishedError(
          `Generation ${record.id} ended or got a task while its task ${sparkTaskId} was being created`,
          { cause: error },
        );
      }
      throw error;
    }
  }

  /**
   * Records how many polls a running generation has had, so its record shows progress while the
   * task runs and how many it took when it fails. Never moves the count back (a retried poll) and
   * never touches a record that has ended (cancelled meanwhile): those writes are skipped.
   */
  async recordPolls(id: string, polls: number, now: Date): Promise<void> {
    await this.#transition(id, Transitions.pollsCounted, {
      ':polls': polls,
      ':now': now.toISOString(),
    });
  }

  /**
   * Ends a generation as failed unless it has ended already, owing the "Generation Failed" event
   * (the outbox); answers the failed record, or undefined when it had ended already. Used by the
   * reconciler for executions that died outside the workflow's own failure path.
   */
  async recordFailure(
    record: GenerationRecord,
    error: GenerationError,
    now: Date,
  ): Promise<OwingRecord | undefined> {
    return this.#endOwing(record, Transitions.failedWithEvent, EVENT_FAILED, now, {
      ':ownerStatus': ownerStatusKey(record.owner, 'failed'),
      ':error': error,
    });
  }

  /**
   * Cancels an owner's generation that has not ended, owing the "Generation Cancelled" event;
   * answers the cancelled record, or undefined when it is not the owner's or has ended.
   */
  async cancel(
    owner: string,
    record: Pick<StoredRecord, 'id' | 'createdAt'>,
    error: GenerationError,
    now: Date,
  ): Promise<OwingRecord | undefined> {
    return this.#endOwing(record, Transitions.cancelled, EVENT_CANCELLED, now, {
      ':owner': owner,
      ':ownerStatus': ownerStatusKey(owner, 'cancelled'),
      ':error': error,
    });
  }

  /**
   * A final-status write that owes its event (the outbox): the event and the record's expiry
   * (kept when the record has one already, the API's from its creation) go with the status.
   * Answers the ended record, or undefined when the transition's condition refused it.
   */
  async #endOwing(
    record: Pick<StoredRecord, 'id' | 'createdAt'>,
    transition: TransitionDefinition,
    detailType: PendingEvent['detailType'],
    now: Date,
    values: Readonly<Record<string, unknown>>,
  ): Promise<OwingRecord | undefined> {
    const at = now.toISOString();
    const pendingEvent: PendingEvent = { detailType, at };
    const ended = await this.#transition(
      record.id,
      transition,
      {
        ...values,
        ':now': at,
        ':expiresAt': this.expiresAtOf(record.createdAt),
        ':event': pendingEvent,
      },
      true,
    );
    // The event as written, whatever the answer echoes: the publisher clears exactly this one.
    return ended && { ...ended, pendingEvent };
  }

  /** Marks a queued record failed because its workflow could not be started. */
  async markNotStarted(record: StoredRecord, now: Date): Promise<void> {
    await this.#transition(record.id, Transitions.notStarted, {
      ':ownerStatus': ownerStatusKey(record.owner, 'failed'),
      ':error': NOT_STARTED_ERROR,
      ':now': now.toISOString(),
    });
  }

  /** Takes a published event off its record (a no-op when it was taken off already). */
  async eventPublished(record: OwingRecord): Promise<void> {
    await this.#transition(record.id, Transitions.eventPublished, {
      ':detailType': record.pendingEvent.detailType,
      ':at': record.pendingEvent.at,
      ':expiresAt': this.expiresAtOf(record.createdAt),
    });
  }

  /** Gives a terminal record without one its `expiresAt`; answers whether it did. */
  async stampExpiry(record: StoredRecord): Promise<boolean> {
    const moved = await this.#transition(record.id, Transitions.expiryStamped, {
      ':expiresAt': this.expiresAtOf(record.createdAt),
    });
    return moved !== undefined;
  }

  /**
   * Generations not yet terminal that were created before `createdBefore`, oldest first: a paged
   * Query of the sparse unfinished index, which holds only those records.
   */
  unfinishedCreatedBefore(createdBefore: Date): AsyncGenerator<GenerationRecord> {
    return this.#indexPartition(UNFINISHED, createdBefore) as AsyncGenerator<GenerationRecord>;
  }

  /** Terminal records that still owe an event (the outbox partition of the same index). */
  owingEvents(): AsyncGenerator<OwingRecord> {
    return this.#indexPartition(OUTBOX) as AsyncGenerator<OwingRecord>;
  }

  async *#indexPartition(partition: string, createdBefore?: Date): AsyncGenerator<StoredRecord> {
    const index = GenerationsTableSchema.unfinishedIndex;
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.#client.send(
        new QueryCommand({
          TableName: this.#tableName,
          IndexName: index.name,
          KeyConditionExpression:
            createdBefore === undefined
              ? '#unfinished = :unfinished'
              : '#unfinished = :unfinished AND createdAt < :before',
          ExpressionAttributeNames: { '#unfinished': index.partitionKey },
          ExpressionAttributeValues: {
            ':unfinished': partition,
            ...(createdBefore !== undefined && { ':before': createdBefore.toISOString() }),
          },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) yield item as StoredRecord;
      startKey = page.LastEvaluatedKey;
    } while (startKey);
  }

  /**
   * Sends one transition; answers the record after it (when asked for) or `{}`, and undefined
   * when its condition did not hold.
   */
  async #transition(
    id: string,
    definition: TransitionDefinition,
    values: Readonly<Record<string, unknown>>,
    returnRecord = false,
  ): Promise<StoredRecord | undefined> {
    try {
      return await this.#send(id, definition, values, returnRecord);
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }

  async #send(
    id: string,
    definition: TransitionDefinition,
    values: Readonly<Record<string, unknown>>,
    returnRecord = false,
  ): Promise<StoredRecord> {
    const { Attributes } = await this.#client.send(
      new UpdateCommand({
        TableName: this.#tableName,
        Key: { id },
        UpdateExpression: definition.updateExpression,
        ConditionExpression: definition.conditionExpression,
        ExpressionAttributeNames: { ...definition.attributeNames },
        ExpressionAttributeValues: { ...definition.fixedValues, ...values },
        ...(returnRecord && { ReturnValues: 'ALL_NEW' as const }),
      }),
    );
    return (Attributes ?? {}) as StoredRecord;
  }
}

/** Whether a record is a line of a batch. */
export function isBatchLine<R extends StoredRecord>(
  record: R,
): record is R & { batchId: string; batchLine: number } {
  return typeof record.batchId === 'string' && typeof record.batchLine === 'number';
}

/** The index an owner's page is read from: by owner, or by owner and status. */
export function ownerIndexOf(status: GenerationStatus | undefined) {
  return status === undefined
    ? GenerationsTableSchema.byOwnerIndex
    : GenerationsTableSchema.byOwnerStatusIndex;
}

/** The partition of that index holding the owner's records (of that status). */
export function ownerPartitionOf(owner: string, status: GenerationStatus | undefined): string {
  return status === undefined ? owner : ownerStatusKey(owner, status);
}
