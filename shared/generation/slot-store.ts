/**
 * The stored side of the provider-wide concurrency cap (`slots.ts` has the steps that use it): a
 * DynamoDB semaphore of the generations that hold a slot (one item, a string set, so taking a
 * slot is one conditional write) and the FIFO queue of executions waiting for one (an item each,
 * ordered by when its execution started, with the task token that wakes it).
 *
 * Next to each holder the semaphore records which task token its slot was granted for (a hash of
 * it). A generation can have more than one token at once: an old execution's queue item outlives
 * a restart (a new execution, a new token), and a retried AcquireSlot queues a new token. A party
 * that granted a slot for a token nobody waits on any more gives it back only while the grant is
 * still that token's: if the generation's live token was woken on the same slot meanwhile (found
 * `held`, which points the grant at it), the slot is in use and stays.
 *
 * A waiter being served is claimed (`claimedAt`), not taken off the queue: it leaves the queue
 * only once woken, so a party that dies half way loses nobody, and its claim lapses after
 * `CLAIM_LEASE_MS`.
 */
import { createHash } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';

/** Key attributes of the slots table (partition `pk`, sort `sk`). */
export const SlotsTableSchema = { partitionKey: 'pk', sortKey: 'sk' } as const;

const SEMAPHORE_KEY = { pk: 'semaphore', sk: 'provider' };
const WAITERS = 'waiter';

/**
 * How long a claim on a waiter keeps others off it: longer than any function that hands over
 * slots can run (the reconciler's 5-minute timeout is the longest), so a live claimer is never
 * overtaken; a dead one's waiter is served again after this.
 */
export const CLAIM_LEASE_MS = 6 * 60_000;

/** A generation waiting for a slot, and the task token that wakes its execution. */
export interface SlotWaiter {
  readonly id: string;
  /** When its execution started: the queue's order. */
  readonly queuedAt: string;
  readonly token: string;
  /** When a party claimed it to hand it a slot (absent while nobody does). */
  readonly claimedAt?: string;
}

/** How `acquire` found the slots: it took one, the generation held one already, or none was free. */
export type SlotAnswer = 'granted' | 'held' | 'full';

export class ProviderSlots {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly capacity: number;

  constructor(client: DynamoDBDocumentClient, tableName: string, capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`The slot capacity must be a positive integer, not ${capacity}`);
    }
    this.#client = client;
    this.#tableName = tableName;
    this.capacity = capacity;
  }

  /**
   * Gives `id` a slot for `token`, in one conditional write: `granted` when this call took a free
   * slot, `held` when `id` held one already (its grant now points at `token`: whoever wakes a
   * token on a slot first says so), `full` when it holds none and none is free.
   */
  async acquire(id: string, token: string): Promise<SlotAnswer> {
    try {
      const { Attributes } = await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: SEMAPHORE_KEY,
          UpdateExpression: 'ADD holders :ids SET #grant = :grant',
          ConditionExpression:
            'contains(holders, :id) OR attribute_not_exists(holders) OR size(holders) < :capacity',
          ExpressionAttributeNames: { '#grant': grantAttribute(id) },
          ExpressionAttributeValues: {
            ':ids': new Set([id]),
            ':id': id,
            ':capacity': this.capacity,
            ':grant': tokenHash(token),
          },
          // The holders as they were tell a slot taken from one held before.
          ReturnValues: 'UPDATED_OLD',
        }),
      );
      const before = Attributes?.holders as Set<string> | undefined;
      return before?.has(id) ? 'held' : 'granted';
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return 'full';
      throw error;
    }
  }

  /** Gives back the slot of `id` whatever token it was granted for (nothing when it holds none). */
  async release(id: string): Promise<void> {
    await this.#client.send(
      new UpdateCommand({
        TableName: this.#tableName,
        Key: SEMAPHORE_KEY,
        UpdateExpression: 'DELETE holders :ids REMOVE #grant',
        ExpressionAttributeNames: { '#grant': grantAttribute(id) },
        ExpressionAttributeValues: { ':ids': new Set([id]) },
      }),
    );
  }

  /**
   * Gives back a slot granted for `token` that nobody waits on, only while its grant is still
   * that token's: another token of the generation woken on it since keeps it. Says whether it
   * gave it back.
   */
  async giveBack(id: string, token: string): Promise<boolean> {
    return this.#conditionally(
      new UpdateCommand({
        TableName: this.#tableName,
        Key: SEMAPHORE_KEY,
        UpdateExpression: 'DELETE holders :ids REMOVE #grant',
        ConditionExpression: 'contains(holders, :id) AND #grant = :grant',
        ExpressionAttributeNames: { '#grant': grantAttribute(id) },
        ExpressionAttributeValues: {
          ':ids': new Set([id]),
          ':id': id,
          ':grant': tokenHash(token),
        },
      }),
    );
  }

  /** The generations holding a slot now. */
  async holders(): Promise<string[]> {
    const { Item } = await this.#client.send(
      new GetCommand({ TableName: this.#tableName, Key: SEMAPHORE_KEY, ConsistentRead: true }),
    );
    const holders = Item?.holders as Set<string> | undefined;
    return holders ? [...holders] : [];
  }

  /** The hash of the token the slot of `id` was granted for (undefined when it holds none). */
  async grantOf(id: string): Promise<string | undefined> {
    const { Item } = await this.#client.send(
      new GetCommand({ TableName: this.#tableName, Key: SEMAPHORE_KEY, ConsistentRead: true }),
    );
    const grant = Item?.[grantAttribute(id)];
    return typeof grant === 'string' ? grant : undefined;
  }

  /** Queues a waiter; a waiter queued again (a retried step) replaces its own token. */
  async enqueue(waiter: SlotWaiter): Promise<void> {
    const { claimedAt: _unclaimed, ...unclaimed } = waiter;
    await this.#client.send(
      new PutCommand({
        TableName: this.#tableName,
        Item: { pk: WAITERS, sk: waiterSortKey(waiter), ...unclaimed },
      }),
    );
  }

  /** Takes a generation's waiter off the queue whatever its token (it no longer waits). */
  async forget(waiter: Pick<SlotWaiter, 'id' | 'queuedAt'>): Promise<void> {
    await this.#client.send(
      new DeleteCommand({
        TableName: this.#tableName,
        Key: { pk: WAITERS, sk: waiterSortKey(waiter) },
      }),
    );
  }

  /**
   * Claims a waiter to hand it a slot: only while it is still queued with the same token and
   * nobody else's claim is younger than `staleBefore`. Says whether this call claimed it.
   */
  async claim(waiter: SlotWaiter, claimedAt: string, staleBefore: string): Promise<boolean> {
    return this.#conditionally(
      new UpdateCommand({
        TableName: this.#tableName,
        Key: { pk: WAITERS, sk: waiterSortKey(waiter) },
        UpdateExpression: 'SET claimedAt = :claimedAt',
        ConditionExpression:
          '#token = :token AND (attribute_not_exists(claimedAt) OR claimedAt < :staleBefore)',
        ExpressionAttributeNames: { '#token': 'token' },
        ExpressionAttributeValues: {
          ':token': waiter.token,
          ':claimedAt': claimedAt,
          ':staleBefore': staleBefore,
        },
      }),
    );
  }

  /** Gives up this call's claim (the slots were full after all): the waiter waits on. */
  async unclaim(waiter: SlotWaiter, claimedAt: string): Promise<void> {
    await this.#conditionally(
      new UpdateCommand({
        TableName: this.#tableName,
        Key: { pk: WAITERS, sk: waiterSortKey(waiter) },
        UpdateExpression: 'REMOVE claimedAt',
        ConditionExpression: '#token = :token AND claimedAt = :claimedAt',
        ExpressionAttributeNames: { '#token': 'token' },
        ExpressionAttributeValues: { ':token': waiter.token, ':claimedAt': claimedAt },
      }),
    );
  }

  /**
   * Takes a waiter off the queue if it is still there with the same token; says whether this call
   * took it. The party that woke it calls this; the waiter's own second attempt passes
   * `unclaimedBefore`, so it never takes an item someone is serving (that party wakes it).
   */
  async dequeue(waiter: SlotWaiter, unclaimedBefore?: string): Promise<boolean> {
    return this.#conditionally(
      new DeleteCommand({
        TableName: this.#tableName,
        Key: { pk: WAITERS, sk: waiterSortKey(waiter) },
        ConditionExpression:
          unclaimedBefore === undefined
            ? '#token = :token'
            : '#token = :token AND (attribute_not_exists(claimedAt) OR claimedAt < :staleBefore)',
        ExpressionAttributeNames: { '#token': 'token' },
        ExpressionAttributeValues: {
          ':token': waiter.token,
          ...(unclaimedBefore !== undefined && { ':staleBefore': unclaimedBefore }),
        },
      }),
    );
  }

  /** The longest-waiting waiters, oldest first. */
  async oldestWaiters(limit: number): Promise<SlotWaiter[]> {
    const { Items } = await this.#client.send(
      new QueryCommand({
        TableName: this.#tableName,
        KeyConditionExpression: 'pk = :waiters',
        ExpressionAttributeValues: { ':waiters': WAITERS },
        ScanIndexForward: true,
        ConsistentRead: true,
        Limit: limit,
      }),
    );
    return (Items ?? []).map((item) => ({
      id: String(item.id),
      queuedAt: String(item.queuedAt),
      token: String(item.token),
      ...(typeof item.claimedAt === 'string' && { claimedAt: item.claimedAt }),
    }));
  }

  /** Sends a conditional write; says whether its condition held. */
  async #conditionally(command: UpdateCommand | DeleteCommand): Promise<boolean> {
    try {
      await this.#client.send(command);
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}

function waiterSortKey(waiter: Pick<SlotWaiter, 'id' | 'queuedAt'>): string {
  return `${waiter.queuedAt}#${waiter.id}`;
}

/** The semaphore's attribute naming the token a holder's slot was granted for. */
function grantAttribute(id: string): string {
  return `grant#${id}`;
}

/**
 * A task token's fingerprint: tokens run to hundreds of bytes (up to 1,024 on AWS) and the
 * semaphore item carries one per holder; 128 bits of SHA-256 tell tokens apart as well.
 */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('base64url').slice(0, 22);
}
