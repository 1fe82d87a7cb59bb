/**
 * The batches table: every write of a batch's head, and (through reads.ts) every read of a head
 * and of its counter shards. (The shards are written only together with the generation records
 * that move them, by the generation repository, in one transaction each.)
 *
 * The head's status moves forward only, each write conditional on the statuses it may leave:
 * awaiting_upload -> validating -> in_progress -> completed | failed, and cancelled from any
 * status that is not final.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ErrorCodes } from '#shared/errors/codes.ts';
import {
  allLinesEnded,
  BATCH_OUTBOX,
  type Batch,
  type BatchError,
  type BatchHead,
  type BatchSource,
  type BatchStatus,
  batchOwnerStatusKey,
  EVENT_BATCH_COMPLETED,
} from './model.ts';
import { type BatchPage, type BatchPageQuery, BatchReader, type OwingBatch } from './reads.ts';

/** What reading a file has found so far; `read` once the whole file has been read or refused. */
export interface ReadingProgress {
  readonly lines: number;
  readonly rejected: number;
  readonly read: boolean;
  /** The file-level error, when reading stopped on one (the batch fails if nothing was accepted). */
  readonly error?: BatchError;
}

const ACTIVE: readonly BatchStatus[] = ['awaiting_upload', 'validating', 'in_progress'];

export class BatchRepository {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #reader: BatchReader;

  constructor(client: DynamoDBDocumentClient, tableName: string) {
    this.#client = client;
    this.#tableName = tableName;
    this.#reader = new BatchReader(client, tableName);
  }

  // The reads, answered by reads.ts (see there).

  getHead(id: string): Promise<BatchHead | undefined> {
    return this.#reader.getHead(id);
  }

  get(id: string): Promise<Batch | undefined> {
    return this.#reader.get(id);
  }

  pageByOwner(query: BatchPageQuery): Promise<BatchPage> {
    return this.#reader.pageByOwner(query);
  }

  owingEvents(before: Date): AsyncGenerator<OwingBatch> {
    return this.#reader.owingEvents(before);
  }

  unfinishedCreatedBefore(before: Date): AsyncGenerator<BatchHead> {
    return this.#reader.unfinishedCreatedBefore(before);
  }

  /** Writes a new head; answers false when the id is taken (a file reported twice). */
  async create(head: BatchHead): Promise<boolean> {
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#tableName,
          Item: head,
          ConditionExpression: 'attribute_not_exists(id)',
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /**
   * Pins the file a batch is read from: its version (or ETag) is written once, and a second file
   * under the same name (another upload to the same pre-signed URL) is refused. Answers the head
   * as pinned, `other-file` when another version holds it, or undefined when the batch does not
   * exist or belongs to someone else.
   */
  async pin(
    id: string,
    owner: string,
    source: BatchSource,
    pinned: string,
    now: Date,
  ): Promise<BatchHead | 'other-file' | undefined> {
    try {
      const { Attributes } = await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: { id },
          UpdateExpression: 'SET pinned = :pinned, #source = :source, updatedAt = :now',
          ConditionExpression:
            'attribute_exists(id) AND #owner = :owner AND (attribute_not_exists(pinned) OR pinned = :pinned)',
          ExpressionAttributeNames: { '#owner': 'owner', '#source': 'source' },
          ExpressionAttributeValues: {
            ':owner': owner,
            ':pinned': pinned,
            ':source': source,
            ':now': now.toISOString(),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return Attributes as BatchHead;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const head = await this.getHead(id);
      return head?.owner === owner && head.pinned !== undefined ? 'other-file' : undefined;
    }
  }

  /**
   * Records how far the file has been read. The figures only grow (a second reading of the same
   * file, after a retry, counts from the start again and catches up), and `read` is never undone.
   * Moves an `awaiting_upload` or `validating` batch to `in_progress`. Answers the head after the
   * write, or as it is when the batch has ended (so the reader learns of a cancel).
   */
  async recordReading(id: string, progress: ReadingProgress, now: Date): Promise<BatchHead> {
    const values = {
      ':lines': progress.lines,
      ':rejected': progress.rejected,
      ':now': now.toISOString(),
      ...(progress.read && { ':true': true }),
    };
    try {
      const { Attributes } = await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: { id },
          UpdateExpression: [
            'SET #lines = :lines',
            'rejected = :rejected',
            'updatedAt = :now',
            ...(progress.read ? ['#read = :true'] : []),
            ...(progress.error ? ['#error = if_not_exists(#error, :error)'] : []),
          ].join(', '),
          ConditionExpression:
            'attribute_exists(id) AND (attribute_not_exists(#lines) OR #lines <= :lines) AND #status IN (:awaiting, :validating, :running)',
          ExpressionAttributeNames: {
            '#lines': 'lines',
            '#status': 'status',
            ...(progress.read && { '#read': 'read' }),
            ...(progress.error && { '#error': 'error' }),
          },
          ExpressionAttributeValues: {
            ...values,
            ...statusValues(),
            ...(progress.error && { ':error': progress.error }),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      const head = Attributes as BatchHead;
      if (head.status === 'in_progress') return head;
      return (await this.#moveTo(head, 'in_progress', now)) ?? head;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const head = await this.getHead(id);
      if (head === undefined) throw error;
      return head;
    }
  }

  /**
   * Ends the batch when the whole file has been read and every accepted line has reached a
   * terminal state: `completed`, or `failed` when nothing was accepted because of a file error.
   * Answers the batch when this call ended it (it then owes its event), undefined otherwise.
   */
  async endIfDone(id: string, now: Date): Promise<OwingBatch | undefined> {
    const batch = await this.get(id);
    if (batch === undefined || !batch.read || !ACTIVE.includes(batch.status)) return undefined;
    if (!allLinesEnded(batch.counts)) return undefined;
    const status: BatchStatus =
      batch.counts.accepted === 0 && batch.error !== undefined ? 'failed' : 'completed';
    return this.#end(batch, status, now);
  }

  /**
   * Fails a batch created through the API whose file never came: still `awaiting_upload` after
   * its pre-signed upload expired. Answers the batch when this call ended it.
   */
  async failUploadNotReceived(id: string, now: Date): Promise<OwingBatch | undefined> {
    const batch = await this.get(id);
    if (batch?.status !== 'awaiting_upload' || batch.uploadExpiresAt === undefined)
      return undefined;
    if (Date.parse(batch.uploadExpiresAt) > now.getTime()) return undefined;
    const error: BatchError = {
      code: ErrorCodes.BATCH_UPLOAD_NOT_RECEIVED,
      message: `No file was uploaded for batch ${id} before its upload URL expired at ${batch.uploadExpiresAt}`,
    };
    return this.#end(batch, 'failed', now, error, '#status = :awaiting');
  }

  /**
   * Marks as read, with `BATCH_READING_ABANDONED`, a file whose reading stopped for good: the
   * head as the sweep saw it (`updatedAt`), unread and active, so a reading that moved meanwhile
   * is left alone. The batch then ends as its started lines end. Whether this call marked it.
   */
  async abandonReading(head: BatchHead, now: Date): Promise<boolean> {
    const error: BatchError = {
      code: ErrorCodes.BATCH_READING_ABANDONED,
      message: `Reading the batch's file stopped after ${head.lines} lines, at ${head.updatedAt}, and every attempt at it failed; the lines read before are counted`,
    };
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: { id: head.id },
          UpdateExpression:
            'SET #read = :true, updatedAt = :now, #error = if_not_exists(#error, :error)',
          ConditionExpression:
            '#read = :false AND updatedAt = :seen AND #status IN (:validating, :running)',
          ExpressionAttributeNames: { '#read': 'read', '#error': 'error', '#status': 'status' },
          ExpressionAttributeValues: {
            ':true': true,
            ':false': false,
            ':seen': head.updatedAt,
            ':now': now.toISOString(),
            ':error': error,
            ':validating': 'validating',
            ':running': 'in_progress',
          },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /**
   * The owner's cancel: the batch ends `cancelled` (no line not yet started is started after it;
   * the caller cancels the generations still unfinished). Answers the batch when this call ended
   * it, `final` when it had ended already, undefined when it is not the owner's.
   */
  async cancel(id: string, owner: string, now: Date): Promise<OwingBatch | 'final' | undefined> {
    const batch = await this.get(id);
    if (batch === undefined || batch.owner !== owner) return undefined;
    if (!ACTIVE.includes(batch.status)) return 'final';
    return (await this.#end(batch, 'cancelled', now)) ?? 'final';
  }

  /** Takes a published event off its head (a no-op when it was taken off already). */
  async eventPublished(batch: OwingBatch): Promise<void> {
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: { id: batch.id },
          UpdateExpression: 'REMOVE pendingEvent, outbox',
          ConditionExpression: 'pendingEvent.#at = :at',
          ExpressionAttributeNames: { '#at': 'at' },
          ExpressionAttributeValues: { ':at': batch.pendingEvent.at },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  /** Ends an active batch with its event owed; undefined when it had ended meanwhile. */
  async #end(
    batch: Batch,
    status: BatchStatus,
    now: Date,
    error?: BatchError,
    from?: string,
  ): Promise<OwingBatch | undefined> {
    const at = now.toISOString();
    const pendingEvent = { detailType: EVENT_BATCH_COMPLETED, at };
    const ended = await this.#moveTo(
      batch,
      status,
      now,
      {
        expression: `, completedAt = :now, pendingEvent = :event, outbox = :outbox${error ? ', #error = :error' : ''} REMOVE unfinished`,
        values: {
          ':event': pendingEvent,
          ':outbox': BATCH_OUTBOX,
          ...(error && { ':error': error }),
        },
        ...(error && { names: { '#error': 'error' } }),
      },
      from,
    );
    return ended && { ...batch, ...ended, pendingEvent };
  }

  /** One status write, conditional on a status the batch may leave for it. */
  async #moveTo(
    head: Pick<BatchHead, 'id' | 'owner'>,
    status: BatchStatus,
    now: Date,
    extra?: {
      readonly expression: string;
      readonly values: Record<string, unknown>;
      readonly names?: Record<string, string>;
    },
    only?: string,
  ): Promise<BatchHead | undefined> {
    const from =
      only ??
      (status === 'in_progress'
        ? '#status IN (:awaiting, :validating)'
        : '#status IN (:awaiting, :validating, :running)');
    // DynamoDB refuses a value the expressions do not use: only the statuses named are given.
    const fromValues = Object.fromEntries(
      Object.entries(statusValues()).filter(([name]) => from.includes(name)),
    );
    try {
      const { Attributes } = await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: { id: head.id },
          UpdateExpression: `SET #status = :status, ownerStatus = :ownerStatus, updatedAt = :now${extra?.expression ?? ''}`,
          ConditionExpression: from,
          ExpressionAttributeNames: { '#status': 'status', ...extra?.names },
          ExpressionAttributeValues: {
            ...fromValues,
            ':status': status,
            ':ownerStatus': batchOwnerStatusKey(head.owner, status),
            ':now': now.toISOString(),
            ...extra?.values,
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return Attributes as BatchHead;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }
}

function statusValues() {
  return { ':awaiting': 'awaiting_upload', ':validating': 'validating', ':running': 'in_progress' };
}
