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
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { newestFirst, queryPages } from '#shared/aws/queries.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';
import { type BatchLinePageQuery, type BatchLineRecord, BatchLines } from './batch-lines.ts';
import { GenerationAlreadyFinishedError } from './errors.ts';
import { EVENT_CANCELLED, EVENT_FAILED } from './events.ts';
import {
  type GenerationError,
  type GenerationRecord,
  type GenerationStatus,
  GenerationsTableSchema,
  OUTBOX,
  ownerStatusKey,
  UNFINISHED,
} from './model.ts';
import { DEFAULT_RECORD_RETENTION_DAYS, expiresAtOf } from './retention.ts';
import {
  type PendingEvent,
  type TransitionDefinition,
  Transitions,
  updateOf,
} from './transitions.ts';

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

// Kept in a module without SDK imports, so steps that never touch the table do not load it.
export { GenerationAlreadyFinishedError, GenerationNotFoundError } from './errors.ts';

export class GenerationRepository {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #retentionDays: number;
  readonly #lines: BatchLines;

  constructor(client: DynamoDBDocumentClient, tableName: string, options: RepositoryOptions = {}) {
    this.#client = client;
    this.#tableName = tableName;
    this.#retentionDays = options.retentionDays ?? DEFAULT_RECORD_RETENTION_DAYS;
    this.#lines = new BatchLines(client, tableName, options.batchesTable);
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

  /** The queued record of a batch line, counted accepted in its batch (batch-lines.ts). */
  createBatchLine(record: BatchLineRecord): Promise<boolean> {
    return this.#lines.create(record);
  }

  /** A batch line's terminal status counted in its batch, once (batch-lines.ts). */
  countBatchLineEnd(id: string): Promise<BatchLineRecord | undefined> {
    return this.#lines.countEnd(id);
  }

  /** A page of a batch's records in line order, one item over the limit (batch-lines.ts). */
  pageByBatch(
    query: BatchLinePageQuery,
  ): Promise<{ items: StoredRecord[]; lastEvaluatedKey?: Record<string, unknown> }> {
    return this.#lines.page(query);
  }

  /** Records of a batch not yet terminal (the batch's cancel ends them). */
  unfinishedOfBatch(batchId: string): AsyncGenerator<StoredRecord> {
    return this.#lines.unfinished(batchId);
  }

  /**
   * A page of an owner's records, newest first, optionally of one status: a Query on the owner
   * (or owner#status) index, never a Scan. Asks one item more than the page, so the caller can
   * tell whether another page exists.
   */
  async pageByOwner(query: OwnerPageQuery): Promise<OwnerPage> {
    const { items, lastEvaluatedKey } = await newestFirst(this.#client, {
      tableName: this.#tableName,
      index: ownerIndexOf(query.status),
      partition: ownerPartitionOf(query.owner, query.status),
      limit: query.limit,
      ...(query.startKey && { startKey: query.startKey }),
    });
    return {
      items: items as StoredRecord[],
      ...(lastEvaluatedKey !== undefined && {
        lastEvaluatedKey: lastEvaluatedKey as Record<string, string>,
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
      if (this.#lines.counts(record)) {
        await this.#lines.recordTaskCreated(record, values);
        return;
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
    for await (const items of queryPages(this.#client, {
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
    })) {
      yield* items as StoredRecord[];
    }
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
        ...updateOf(this.#tableName, id, definition, values),
        ...(returnRecord && { ReturnValues: 'ALL_NEW' as const }),
      }),
    );
    return (Attributes ?? {}) as StoredRecord;
  }
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
