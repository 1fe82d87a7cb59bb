/**
 * The generations table, as the functions use it. Every status write is conditional, so records
 * only move forward and a terminal record is never overwritten.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { GenerationAlreadyFinishedError } from './errors.ts';
import {
  type GenerationError,
  type GenerationRecord,
  GenerationsTableSchema,
  ownerStatusKey,
  UNFINISHED,
} from './model.ts';

// Kept in a module without SDK imports, so steps that never touch the table do not load it.
export { GenerationAlreadyFinishedError, GenerationNotFoundError } from './errors.ts';

export class GenerationStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;

  constructor(client: DynamoDBDocumentClient, tableName: string) {
    this.#client = client;
    this.#tableName = tableName;
  }

  async get(id: string): Promise<GenerationRecord | undefined> {
    const { Item } = await this.#client.send(
      new GetCommand({ TableName: this.#tableName, Key: { id }, ConsistentRead: true }),
    );
    return Item as GenerationRecord | undefined;
  }

  /**
   * Records the provider task the moment it exists, and marks the generation running. Done before
   * anything else can fail, so a retried CreateTask finds the task instead of paying for another.
   */
  async recordTaskCreated(record: GenerationRecord, sparkTaskId: string, now: Date): Promise<void> {
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: { id: record.id },
          UpdateExpression:
            'SET sparkTaskId = :task, #status = :running, ownerStatus = :ownerStatus, updatedAt = :now',
          ConditionExpression:
            'attribute_exists(id) AND attribute_not_exists(sparkTaskId) AND #status IN (:queued, :running)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':task': sparkTaskId,
            ':running': 'running',
            ':queued': 'queued',
            ':ownerStatus': ownerStatusKey(record.owner, 'running'),
            ':now': now.toISOString(),
          },
        }),
      );
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
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: { id },
          UpdateExpression: 'SET polls = :polls, updatedAt = :now',
          ConditionExpression:
            '#status = :running AND (attribute_not_exists(polls) OR polls < :polls)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':polls': polls,
            ':running': 'running',
            ':now': now.toISOString(),
          },
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return;
      throw error;
    }
  }

  /**
   * Ends a generation as failed unless it has ended already; answers whether this call ended it.
   * Used by the reconciler for executions that died outside the workflow's own failure path.
   */
  async recordFailure(
    record: GenerationRecord,
    error: GenerationError,
    now: Date,
  ): Promise<boolean> {
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: { id: record.id },
          UpdateExpression:
            'SET #status = :failed, ownerStatus = :ownerStatus, #error = :error, updatedAt = :now, completedAt = :now REMOVE unfinished',
          ConditionExpression: '#status IN (:queued, :running)',
          ExpressionAttributeNames: { '#status': 'status', '#error': 'error' },
          ExpressionAttributeValues: {
            ':failed': 'failed',
            ':queued': 'queued',
            ':running': 'running',
            ':ownerStatus': ownerStatusKey(record.owner, 'failed'),
            ':error': error,
            ':now': now.toISOString(),
          },
        }),
      );
      return true;
    } catch (caught) {
      if (caught instanceof ConditionalCheckFailedException) return false;
      throw caught;
    }
  }

  /**
   * Generations not yet terminal that were created before `createdBefore`, oldest first: a paged
   * Query of the sparse unfinished index, which holds only those records.
   */
  async *unfinishedCreatedBefore(createdBefore: Date): AsyncGenerator<GenerationRecord> {
    const index = GenerationsTableSchema.unfinishedIndex;
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.#client.send(
        new QueryCommand({
          TableName: this.#tableName,
          IndexName: index.name,
          KeyConditionExpression: '#unfinished = :unfinished AND createdAt < :before',
          ExpressionAttributeNames: { '#unfinished': index.partitionKey },
          ExpressionAttributeValues: {
            ':unfinished': UNFINISHED,
            ':before': createdBefore.toISOString(),
          },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) yield item as GenerationRecord;
      startKey = page.LastEvaluatedKey;
    } while (startKey);
  }
}
