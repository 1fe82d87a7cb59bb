/**
 * Recent provider durations, kept in one small item of the generations table so every
 * generation's first poll can be timed from them (docs/polling.md). Its key is not a valid
 * generation id, and it has none of the indexed attributes, so no generation query ever sees it.
 *
 * Appending is one write per completed generation (no read first): `list_append` is atomic, so
 * concurrent generations never lose each other's samples. The list is trimmed to the newest
 * `keep` once it holds twice that, by a conditional write that only one of several racing
 * writers wins.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';

/** The item's key: `#` never appears in a generation id (an execution name). */
export const POLLING_STATS_KEY = '#polling-stats';

export interface DurationStats {
  /** Recent provider durations in seconds, oldest first (at most `keep`). */
  recent(): Promise<number[]>;
  /** Adds one duration. */
  record(seconds: number, now: Date): Promise<void>;
}

export class PollingStatsStore implements DurationStats {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #keep: number;

  constructor(client: DynamoDBDocumentClient, tableName: string, keep: number) {
    this.#client = client;
    this.#tableName = tableName;
    this.#keep = keep;
  }

  async recent(): Promise<number[]> {
    // An eventually consistent read is half the price, and a sample more or less changes nothing.
    const { Item } = await this.#client.send(
      new GetCommand({
        TableName: this.#tableName,
        Key: { id: POLLING_STATS_KEY },
        ProjectionExpression: 'samples',
      }),
    );
    const samples = (Item?.samples ?? []) as unknown[];
    return samples
      .filter((value): value is number => typeof value === 'number' && Number.isFinite(value))
      .slice(-this.#keep);
  }

  async record(seconds: number, now: Date): Promise<void> {
    const { Attributes } = await this.#client.send(
      new UpdateCommand({
        TableName: this.#tableName,
        Key: { id: POLLING_STATS_KEY },
        UpdateExpression:
          'SET samples = list_append(if_not_exists(samples, :empty), :sample), updatedAt = :now',
        ExpressionAttributeValues: {
          ':empty': [],
          ':sample': [seconds],
          ':now': now.toISOString(),
        },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    const length = Array.isArray(Attributes?.samples) ? Attributes.samples.length : 0;
    if (length >= 2 * this.#keep) await this.#trim(length);
  }

  /** Drops the oldest samples, leaving the newest `keep` of the `length` seen. */
  async #trim(length: number): Promise<void> {
    const drop = Array.from({ length: length - this.#keep }, (_, index) => `samples[${index}]`);
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: { id: POLLING_STATS_KEY },
          UpdateExpression: `REMOVE ${drop.join(', ')}`,
          // Another writer trimmed first: the list is shorter than what we saw, leave it.
          ConditionExpression: 'size(samples) >= :length',
          ExpressionAttributeValues: { ':length': length },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }
}
