/**
 * The provider-wide concurrency cap: at most `capacity` Spark tasks in flight across every
 * trigger. A DynamoDB semaphore holds the ids of the generations that own a slot (one item, a
 * string set, so acquiring is one conditional write); generations waiting for a slot park a Step
 * Functions task token in a FIFO queue (items ordered by when their execution started) and are
 * woken by whoever frees a slot. Nothing polls while it waits.
 *
 * Every operation is idempotent, so retries, restarts and duplicated events are harmless:
 * acquiring a slot already held succeeds, releasing one not held does nothing, and a waiter is
 * granted by exactly one party — the one whose conditional delete of its queue item succeeds.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { SFNClient } from '@aws-sdk/client-sfn';
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

/** A generation waiting for a slot, and the task token that wakes its execution. */
export interface SlotWaiter {
  readonly id: string;
  /** When its execution started: the queue's order. */
  readonly queuedAt: string;
  readonly token: string;
}

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
   * Takes a slot for `id` if one is free: `granted` when this call took it, `held` when `id`
   * holds one already (a retried or restarted step), `full` when every slot is taken.
   */
  async acquire(id: string): Promise<'granted' | 'held' | 'full'> {
    if (await this.tryAcquire(id)) return 'granted';
    return (await this.holders()).includes(id) ? 'held' : 'full';
  }

  /** Takes a free slot for `id` if it holds none; says whether this call took one. */
  async tryAcquire(id: string): Promise<boolean> {
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: SEMAPHORE_KEY,
          UpdateExpression: 'ADD holders :ids',
          ConditionExpression:
            'attribute_not_exists(holders) OR (size(holders) < :capacity AND NOT contains(holders, :id))',
          ExpressionAttributeValues: {
            ':ids': new Set([id]),
            ':id': id,
            ':capacity': this.capacity,
          },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /** Gives back the slot of `id` (nothing happens when it holds none). */
  async release(id: string): Promise<void> {
    await this.#client.send(
      new UpdateCommand({
        TableName: this.#tableName,
        Key: SEMAPHORE_KEY,
        UpdateExpression: 'DELETE holders :ids',
        ExpressionAttributeValues: { ':ids': new Set([id]) },
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

  /** Queues a waiter; a waiter queued again (a retried step) replaces its own token. */
  async enqueue(waiter: SlotWaiter): Promise<void> {
    await this.#client.send(
      new PutCommand({
        TableName: this.#tableName,
        Item: { pk: WAITERS, sk: waiterSortKey(waiter), ...waiter },
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

  /** Puts back a waiter this call took off the queue, unless it has been queued again since. */
  async requeue(waiter: SlotWaiter): Promise<void> {
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#tableName,
          Item: { pk: WAITERS, sk: waiterSortKey(waiter), ...waiter },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  /**
   * Takes a waiter off the queue if it is still there with the same token; says whether this call
   * took it (and so must wake it).
   */
  async dequeue(waiter: SlotWaiter): Promise<boolean> {
    try {
      await this.#client.send(
        new DeleteCommand({
          TableName: this.#tableName,
          Key: { pk: WAITERS, sk: waiterSortKey(waiter) },
          ConditionExpression: '#token = :token',
          ExpressionAttributeNames: { '#token': 'token' },
          ExpressionAttributeValues: { ':token': waiter.token },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
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
    }));
  }
}

function waiterSortKey(waiter: Pick<SlotWaiter, 'id' | 'queuedAt'>): string {
  return `${waiter.queuedAt}#${waiter.id}`;
}

/** What a granted execution receives as the result of its AcquireSlot state (`$.slot`). */
export interface SlotGrant {
  /** When the slot was granted: the provider-time bounds count from here, not from queueing. */
  readonly acquiredAt: string;
}

/**
 * Wakes a waiting execution (Step Functions `SendTaskSuccess`). Throws `TokenExpiredError` when
 * the execution no longer waits for that token (it stopped, timed out or was restarted).
 */
export type WakeWaiter = (token: string, grant: SlotGrant) => Promise<void>;

/** The execution behind a task token no longer waits for it. */
export class TokenExpiredError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TokenExpiredError';
  }
}

export interface SlotDeps {
  readonly slots: ProviderSlots;
  readonly wake: WakeWaiter;
  readonly now?: () => Date;
}

const grantNow = (deps: SlotDeps): SlotGrant => ({
  acquiredAt: (deps.now ?? (() => new Date()))().toISOString(),
});

/**
 * The AcquireSlot step (a `waitForTaskToken` task): grants the slot at once when one is free,
 * otherwise queues the execution's token; a later `releaseSlot` wakes it. Queueing is followed
 * by a second attempt, so a slot freed between the first attempt and the queueing is not missed.
 */
export async function acquireSlotStep(
  input: SlotWaiter,
  deps: SlotDeps,
): Promise<{ granted: boolean }> {
  // One read decides the common cases: held already (a retried or restarted step), or full.
  const holders = await deps.slots.holders();
  if (
    holders.includes(input.id) ||
    (holders.length < deps.slots.capacity && (await deps.slots.acquire(input.id)) !== 'full')
  ) {
    await deps.wake(input.token, grantNow(deps));
    return { granted: true };
  }
  await deps.slots.enqueue(input);
  // Read before trying: for most queued generations the cap is still full, and a read costs less
  // than a refused conditional update.
  if (
    (await deps.slots.holders()).length < deps.slots.capacity &&
    (await deps.slots.tryAcquire(input.id)) &&
    (await deps.slots.dequeue(input))
  ) {
    await deps.wake(input.token, grantNow(deps));
    return { granted: true };
  }
  // Queued. If a releaser took the queue item meanwhile, it wakes this execution (or puts it
  // back and looks again); if the second attempt won a slot but the releaser had the item, the
  // releaser finds the slot held and wakes it.
  return { granted: false };
}

/**
 * Gives back the slot of `id` and hands free slots to the oldest waiters. Given when the
 * generation queued (`queuedAt`), it also leaves the queue, in case it failed while waiting, so
 * nobody later spends a hand-over on it.
 */
export async function releaseSlot(
  id: string,
  deps: SlotDeps,
  queuedAt?: string,
): Promise<{ woken: number }> {
  await deps.slots.release(id);
  if (queuedAt !== undefined) await deps.slots.forget({ id, queuedAt });
  return handOverFreeSlots(deps, 1);
}

/**
 * Hands free slots to waiters, oldest first, until `limit` waiters were given one, or the slots
 * or the queue run out. A release hands over the one slot it freed (`limit` 1): each release
 * serves its own, so concurrent releasers do not all chase every free slot; the reconciler, which
 * frees none itself, hands over as many as are free.
 *
 * Each round reads how many slots are free and takes that many of the oldest waiters. A waiter is
 * first taken off the queue (a conditional delete only one party can win), and only then given a
 * slot, so a list read a moment ago can never grant a waiter that someone else has already
 * served. Several generations often end at once and all hand over together; each tries the
 * waiters of its round in its own random order, so they seldom race for the same one (the round's
 * waiters are all served now, so their order among themselves does not matter). When the slots
 * are full after all, the waiter goes back in the queue and the next round looks at the slots
 * again: a slot freed meanwhile by a release that found the queue without it is not missed. A
 * waiter whose execution no longer waits (stopped, timed out, restarted under a new token) gives
 * back the slot it was just given.
 *
 * Also run by the reconciler, so a release that died half way loses nothing.
 */
export async function handOverFreeSlots(
  deps: SlotDeps,
  limit: number = deps.slots.capacity,
): Promise<{ woken: number }> {
  let woken = 0;
  let given = 0;
  // Each round serves or puts back what it takes; the bound only guards against a queue that is
  // refilled as fast as it is served.
  rounds: for (let round = 0; round < 1000; round++) {
    const free = deps.slots.capacity - (await deps.slots.holders()).length;
    if (free <= 0) return { woken };
    const waiters = shuffled(await deps.slots.oldestWaiters(free));
    if (waiters.length === 0) return { woken };
    for (const waiter of waiters) {
      if (given >= limit) return { woken };
      // Someone else (another releaser, or the waiter's own second attempt) took it.
      if (!(await deps.slots.dequeue(waiter))) continue;
      const slot = await deps.slots.acquire(waiter.id);
      if (slot === 'full') {
        await deps.slots.requeue(waiter);
        continue rounds;
      }
      try {
        await deps.wake(waiter.token, grantNow(deps));
        woken++;
        // A waiter that held a slot already took none of the free ones.
        if (slot === 'granted') given++;
      } catch (error) {
        if (!(error instanceof TokenExpiredError)) throw error;
        // Nobody waits on that token any more. Give back the slot only if this call took it: one
        // the generation held already belongs to a newer execution of it (the sweep frees it if
        // that one is dead too).
        if (slot === 'granted') await deps.slots.release(waiter.id);
      }
    }
  }
  return { woken };
}

/** A copy of `items` in random order (Fisher–Yates). */
function shuffled<Item>(items: readonly Item[]): Item[] {
  const copy = [...items];
  for (let index = copy.length - 1; index > 0; index--) {
    const other = Math.floor(Math.random() * (index + 1));
    [copy[index], copy[other]] = [copy[other] as Item, copy[index] as Item];
  }
  return copy;
}

/** Step Functions errors that mean nobody waits for the token any more. */
const EXPIRED_TOKEN_ERRORS = new Set(['TaskTimedOut', 'InvalidToken', 'TaskDoesNotExist']);

/**
 * Wakes waiters through Step Functions `SendTaskSuccess`. The client is asked for when a waiter
 * is first woken: most polls end with nobody waiting, and need no Step Functions SDK loaded.
 */
export function stepFunctionsWaker(client: () => Promise<SFNClient>): WakeWaiter {
  return async (token, grant) => {
    const [sfn, { SendTaskSuccessCommand }] = await Promise.all([
      client(),
      import('@aws-sdk/client-sfn'),
    ]);
    try {
      await sfn.send(
        new SendTaskSuccessCommand({ taskToken: token, output: JSON.stringify(grant) }),
      );
    } catch (error) {
      if (EXPIRED_TOKEN_ERRORS.has((error as Error).name)) {
        throw new TokenExpiredError('The waiting execution no longer waits for its token', {
          cause: error,
        });
      }
      throw error;
    }
  };
}
