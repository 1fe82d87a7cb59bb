/**
 * The provider-wide concurrency cap: at most `capacity` Spark tasks in flight across every
 * trigger. Generations take a slot of a DynamoDB semaphore (`slot-store.ts`); those that find
 * none free park their Step Functions task token in a FIFO queue and are woken by whoever frees a
 * slot. Nothing polls while it waits.
 *
 * Every operation is idempotent, so retries, restarts and duplicated events are harmless:
 * acquiring a slot already held succeeds, releasing one not held does nothing, and a waiter is
 * served by one party at a time — the one whose conditional claim of its queue item succeeds. The
 * item leaves the queue only after its execution was woken, so a party that dies half way (a
 * function timed out or crashed between taking a waiter and waking it) loses nobody: its claim
 * lapses and the next hand-over, or the reconciler's sweep, serves the waiter again.
 */
import type { SFNClient } from '@aws-sdk/client-sfn';
import {
  CLAIM_LEASE_MS,
  type ProviderSlots,
  type SlotAnswer,
  type SlotWaiter,
} from './slot-store.ts';

/** Waiters read past the free slots' number, so claimed ones at the head do not hide the rest. */
const CLAIM_LOOKAHEAD = 25;

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

const clock = (deps: SlotDeps): (() => Date) => deps.now ?? (() => new Date());

const grantNow = (deps: SlotDeps): SlotGrant => ({ acquiredAt: clock(deps)().toISOString() });

/** Claims made before this are lapsed: their party died before it finished. */
const staleClaimsBefore = (now: Date): string =>
  new Date(now.getTime() - CLAIM_LEASE_MS).toISOString();

/** Whether `acquire` may succeed for `id`, judged from a read of the holders (cheaper than a refused write). */
const mayAcquire = (holders: readonly string[], id: string, capacity: number): boolean =>
  holders.includes(id) || holders.length < capacity;

/**
 * The AcquireSlot step (a `waitForTaskToken` task): grants the slot at once when one is free,
 * otherwise queues the execution's token; a later `releaseSlot` wakes it. Queueing is followed
 * by a second attempt, so a slot freed between the first attempt and the queueing is not missed.
 */
export async function acquireSlotStep(
  input: SlotWaiter,
  deps: SlotDeps,
): Promise<{ granted: boolean }> {
  const { slots } = deps;
  // One read decides the common case of a full cap. A generation that holds a slot already (a
  // retried or restarted step) points its grant at this token before it is woken on it.
  if (mayAcquire(await slots.holders(), input.id, slots.capacity)) {
    const slot = await slots.acquire(input.id, input.token);
    if (slot !== 'full') return wakeSelf(input, deps, slot);
  }
  await slots.enqueue(input);
  // Read before trying: for most queued generations the cap is still full. The queue item is
  // taken back only if no hand-over is serving it; one that is finds the slot held and wakes this
  // execution itself.
  if (mayAcquire(await slots.holders(), input.id, slots.capacity)) {
    const slot = await slots.acquire(input.id, input.token);
    if (slot !== 'full' && (await slots.dequeue(input, staleClaimsBefore(clock(deps)())))) {
      return wakeSelf(input, deps, slot);
    }
  }
  return { granted: false };
}

/**
 * Wakes the step's own execution. A token nobody waits for any more means the execution stopped
 * (or a hand-over woke it first): a slot this call took is given back, one held before is not.
 */
async function wakeSelf(
  input: SlotWaiter,
  deps: SlotDeps,
  slot: Exclude<SlotAnswer, 'full'>,
): Promise<{ granted: boolean }> {
  try {
    await deps.wake(input.token, grantNow(deps));
    return { granted: true };
  } catch (error) {
    if (!(error instanceof TokenExpiredError)) throw error;
    if (slot === 'granted') await deps.slots.giveBack(input.id, input.token);
    return { granted: false };
  }
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
 * Each round reads how many slots are free and takes that many of the oldest waiters nobody is
 * serving, and any of them that holds a slot already. A waiter is first claimed (a conditional
 * write only one party can win while the claim lasts), then given a slot, woken, and only then
 * taken off the queue: a party that dies at any point leaves the waiter queued, and once its
 * claim lapses the next hand-over serves it (a slot it was already given is found held; a token
 * already answered is refused and changes nothing). A waiter that holds a slot (its claimer died
 * after granting it) is woken even while every slot is taken, since it takes none of them.
 * Several generations often end at once and all hand over together; each tries the waiters of
 * its round in its own random order, so they seldom race for the same one (the round's waiters
 * are all served now, so their order among themselves does not matter). When the slots are full
 * after all, the claim is given up and the next round looks at the slots again: a slot freed
 * meanwhile by a release that found the waiter claimed is not missed.
 *
 * A waiter whose execution no longer waits (stopped, timed out, restarted under a new token)
 * gives back the slot it was just given — unless the generation's live token was woken on that
 * slot meanwhile, which points the grant at itself (`ProviderSlots.giveBack`).
 *
 * Also run by the reconciler, so a release that died half way loses nothing.
 */
export async function handOverFreeSlots(
  deps: SlotDeps,
  limit: number = deps.slots.capacity,
): Promise<{ woken: number }> {
  let woken = 0;
  let given = 0;
  // Each round serves or gives up what it claims; the bound only guards against a queue that is
  // refilled as fast as it is served.
  rounds: for (let round = 0; round < 1000; round++) {
    const holders = new Set(await deps.slots.holders());
    const free = Math.max(deps.slots.capacity - holders.size, 0);
    const now = clock(deps)();
    const staleBefore = staleClaimsBefore(now);
    const open = (await deps.slots.oldestWaiters(free + CLAIM_LOOKAHEAD)).filter(
      (waiter) => waiter.claimedAt === undefined || waiter.claimedAt < staleBefore,
    );
    const served = [
      ...open.filter((waiter) => holders.has(waiter.id)),
      ...open.filter((waiter) => !holders.has(waiter.id)).slice(0, free),
    ];
    if (served.length === 0) return { woken };
    for (const waiter of shuffled(served)) {
      if (given >= limit) return { woken };
      const claimedAt = now.toISOString();
      // Someone else (another releaser, or the waiter's own second attempt) took it.
      if (!(await deps.slots.claim(waiter, claimedAt, staleBefore))) continue;
      const slot = await deps.slots.acquire(waiter.id, waiter.token);
      if (slot === 'full') {
        await deps.slots.unclaim(waiter, claimedAt);
        continue rounds;
      }
      try {
        await deps.wake(waiter.token, grantNow(deps));
        woken++;
        // A waiter that held a slot already took none of the free ones.
        if (slot === 'granted') given++;
      } catch (error) {
        if (!(error instanceof TokenExpiredError)) throw error;
        // Nobody waits on that token any more. A slot held before this call belongs to the
        // generation's live execution (the sweep frees it if that one is dead too); one this call
        // took goes back unless the live token was woken on it meanwhile.
        if (slot === 'granted') await deps.slots.giveBack(waiter.id, waiter.token);
      }
      await deps.slots.dequeue(waiter);
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
