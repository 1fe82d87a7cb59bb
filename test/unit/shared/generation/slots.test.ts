import { describe, expect, it, vi } from 'vitest';
import { CLAIM_LEASE_MS, ProviderSlots, tokenHash } from '#shared/generation/slot-store.ts';
import {
  acquireSlotStep,
  handOverFreeSlots,
  releaseSlot,
  type SlotGrant,
  TokenExpiredError,
  type WakeWaiter,
} from '#shared/generation/slots.ts';
import { useLocalDynamoDb } from '../../../helpers/dynamodb.ts';

const dynamodb = useLocalDynamoDb();

async function freshSlots(capacity: number): Promise<ProviderSlots> {
  const name = `slots-${dynamodb.tableNumber()}`;
  await dynamodb.createTable(name, { pk: 'HASH', sk: 'RANGE' });
  return new ProviderSlots(dynamodb.documents, name, capacity);
}

/** A stand-in for SendTaskSuccess: records who was woken; expired tokens are refused. */
function wakeRecorder(expired: ReadonlySet<string> = new Set()) {
  const woken: Array<{ token: string; grant: SlotGrant }> = [];
  const wake: WakeWaiter = async (token, grant) => {
    if (expired.has(token)) throw new TokenExpiredError(`token ${token} expired`);
    woken.push({ token, grant });
  };
  return { woken, wake, tokens: () => woken.map((entry) => entry.token) };
}

const waiter = (id: string, queuedAt: string) => ({ id, queuedAt, token: `token-${id}` });

describe('ProviderSlots', () => {
  it('grants up to its capacity, then answers full; a holder asking again answers held', async () => {
    const slots = await freshSlots(2);
    expect(await slots.acquire('a', 'ta')).toBe('granted');
    expect(await slots.acquire('b', 'tb')).toBe('granted');
    expect(await slots.acquire('c', 'tc')).toBe('full');
    expect(await slots.acquire('a', 'ta')).toBe('held');
    expect((await slots.holders()).sort()).toEqual(['a', 'b']);
  });

  it('frees a slot on release, and a release of a slot not held changes nothing', async () => {
    const slots = await freshSlots(1);
    expect(await slots.acquire('a', 'ta')).toBe('granted');
    await slots.release('nobody');
    expect(await slots.acquire('b', 'tb')).toBe('full');
    await slots.release('a');
    await slots.release('a');
    expect(await slots.grantOf('a')).toBeUndefined();
    expect(await slots.acquire('b', 'tb')).toBe('granted');
    expect(await slots.holders()).toEqual(['b']);
  });

  it('records the token a slot was granted for, points it at the token found holding it, and gives it back only for that token', async () => {
    const slots = await freshSlots(2);
    expect(await slots.acquire('a', 'stale')).toBe('granted');
    expect(await slots.grantOf('a')).toBe(tokenHash('stale'));
    expect(await slots.acquire('a', 'live')).toBe('held');
    expect(await slots.grantOf('a')).toBe(tokenHash('live'));
    // The stale token's party, its wake refused, may not give back the slot the live one runs on.
    expect(await slots.giveBack('a', 'stale')).toBe(false);
    expect(await slots.holders()).toEqual(['a']);
    expect(await slots.giveBack('a', 'live')).toBe(true);
    expect(await slots.holders()).toEqual([]);
    expect(await slots.giveBack('a', 'live')).toBe(false);
  });

  it('hashes tokens to a short fingerprint that tells them apart', () => {
    const token = 'AQB8AAAAKgAAAAMAAAAAAAAAA'.repeat(20);
    expect(tokenHash(token)).toHaveLength(22);
    expect(tokenHash(token)).toBe(tokenHash(token));
    expect(tokenHash(token)).not.toBe(tokenHash(`${token}x`));
  });

  it('lists waiters oldest first and takes one off only with its current token', async () => {
    const slots = await freshSlots(1);
    await slots.enqueue(waiter('late', '2026-12-01T10:00:02.000Z'));
    await slots.enqueue(waiter('early', '2026-12-01T10:00:01.000Z'));
    expect((await slots.oldestWaiters(10)).map((w) => w.id)).toEqual(['early', 'late']);
    expect(
      await slots.dequeue({ ...waiter('early', '2026-12-01T10:00:01.000Z'), token: 'old' }),
    ).toBe(false);
    expect(await slots.dequeue(waiter('early', '2026-12-01T10:00:01.000Z'))).toBe(true);
    expect(await slots.dequeue(waiter('early', '2026-12-01T10:00:01.000Z'))).toBe(false);
  });

  it('lets one party at a time claim a waiter, until its claim lapses', async () => {
    const slots = await freshSlots(1);
    const w = waiter('w', '2026-12-01T10:00:01.000Z');
    await slots.enqueue(w);
    const at = (minute: number) => `2026-12-01T10:${String(minute).padStart(2, '0')}:00.000Z`;
    expect(await slots.claim(w, at(1), at(0))).toBe(true);
    expect(await slots.claim(w, at(2), at(0))).toBe(false);
    expect(await slots.claim({ ...w, token: 'old' }, at(9), at(8))).toBe(false);
    // The waiter's own second attempt does not take an item someone is serving.
    expect(await slots.dequeue(w, at(0))).toBe(false);
    expect(await slots.claim(w, at(9), at(4))).toBe(true);
    await slots.unclaim(w, at(9));
    expect(await slots.oldestWaiters(10)).toEqual([w]);
    expect(await slots.dequeue(w, at(0))).toBe(true);
  });

  it.each([0, -1, 1.5])('refuses a capacity of %s', (capacity) => {
    expect(() => new ProviderSlots(dynamodb.documents, 'any', capacity)).toThrow(RangeError);
  });
});

describe('acquiring and releasing slots', () => {
  it('wakes the execution at once when a slot is free', async () => {
    const slots = await freshSlots(1);
    const { woken, wake } = wakeRecorder();
    const now = () => new Date('2026-12-01T10:00:00.000Z');
    const answer = await acquireSlotStep(waiter('a', '2026-12-01T09:59:59.000Z'), {
      slots,
      wake,
      now,
    });
    expect(answer).toEqual({ granted: true });
    expect(woken).toEqual([
      { token: 'token-a', grant: { acquiredAt: '2026-12-01T10:00:00.000Z' } },
    ]);
    expect(await slots.grantOf('a')).toBe(tokenHash('token-a'));
    expect(await slots.oldestWaiters(10)).toEqual([]);
  });

  it('queues the execution when every slot is taken, and the next release wakes the oldest', async () => {
    const slots = await freshSlots(1);
    const { wake, tokens } = wakeRecorder();
    await acquireSlotStep(waiter('holder', '2026-12-01T10:00:00.000Z'), { slots, wake });
    expect(
      await acquireSlotStep(waiter('second', '2026-12-01T10:00:02.000Z'), { slots, wake }),
    ).toEqual({ granted: false });
    await acquireSlotStep(waiter('first', '2026-12-01T10:00:01.000Z'), { slots, wake });
    expect(tokens()).toEqual(['token-holder']);

    expect(await releaseSlot('holder', { slots, wake })).toEqual({ woken: 1 });
    expect(tokens()).toEqual(['token-holder', 'token-first']);
    expect(await slots.holders()).toEqual(['first']);
    expect((await slots.oldestWaiters(10)).map((w) => w.id)).toEqual(['second']);
  });

  it('claims only as many waiters as there are free slots', async () => {
    const slots = await freshSlots(2);
    const { wake, tokens } = wakeRecorder();
    await slots.acquire('holder-1', 't1');
    await slots.acquire('holder-2', 't2');
    for (let n = 1; n <= 5; n++) {
      await slots.enqueue(waiter(`waiting-${n}`, `2026-12-01T10:00:0${n}.000Z`));
    }
    const claim = vi.spyOn(slots, 'claim');
    const unclaim = vi.spyOn(slots, 'unclaim');

    await releaseSlot('holder-1', { slots, wake });

    expect(tokens()).toEqual(['token-waiting-1']);
    expect(claim).toHaveBeenCalledTimes(1);
    expect(unclaim).not.toHaveBeenCalled();
    expect((await slots.oldestWaiters(10)).map((w) => w.id)).toEqual([
      'waiting-2',
      'waiting-3',
      'waiting-4',
      'waiting-5',
    ]);
  });

  it('lets concurrent releasers each hand over the slot it freed, without chasing the others', async () => {
    const slots = await freshSlots(5);
    const { wake, tokens } = wakeRecorder();
    const holders = ['h1', 'h2', 'h3', 'h4', 'h5'];
    for (const id of holders) await slots.acquire(id, `token-${id}`);
    for (let n = 10; n < 50; n++) {
      await slots.enqueue(waiter(`w${n}`, `2026-12-01T10:00:${n}.000Z`));
    }
    const claim = vi.spyOn(slots, 'claim');

    const results = await Promise.all(holders.map((id) => releaseSlot(id, { slots, wake })));

    expect(results.map((result) => result.woken)).toEqual([1, 1, 1, 1, 1]);
    const woken = tokens().map((token) => token.replace('token-', ''));
    expect((await slots.holders()).sort()).toEqual([...woken].sort());
    // Nothing is lost: whoever was not woken still waits. The order is the queue's, give or take
    // a waiter that was claimed for a moment (found the slots full, given up): the woken are among
    // the oldest ten.
    const waiting = (await slots.oldestWaiters(100)).map((entry) => entry.id);
    expect([...woken, ...waiting].sort()).toEqual(
      Array.from({ length: 40 }, (_, index) => `w${index + 10}`).sort(),
    );
    expect(woken.filter((id) => Number(id.slice(1)) >= 20)).toEqual([]);
    // Each releaser loses at most one race per releaser ahead of it.
    expect(claim.mock.calls.length).toBeLessThanOrEqual(5 + (5 * 4) / 2);
  });

  it('gives back the slot of a waiter nobody waits for any more, and wakes the next one', async () => {
    const slots = await freshSlots(1);
    const { wake, tokens } = wakeRecorder(new Set(['token-gone']));
    await acquireSlotStep(waiter('holder', '2026-12-01T10:00:00.000Z'), { slots, wake });
    await acquireSlotStep(waiter('gone', '2026-12-01T10:00:01.000Z'), { slots, wake });
    await acquireSlotStep(waiter('next', '2026-12-01T10:00:02.000Z'), { slots, wake });

    await releaseSlot('holder', { slots, wake });
    expect(tokens()).toEqual(['token-holder', 'token-next']);
    expect(await slots.holders()).toEqual(['next']);
  });

  it('clears a stale item of a generation holding a slot, even while every slot is taken, and keeps its slot', async () => {
    const slots = await freshSlots(1);
    // A restarted execution holds its slot again; its previous execution's queue item is stale.
    await slots.acquire('restarted', 'live');
    await slots.enqueue({ id: 'restarted', queuedAt: '2026-12-01T09:00:00.000Z', token: 'old' });
    const { wake, tokens } = wakeRecorder(new Set(['old']));
    expect(await handOverFreeSlots({ slots, wake })).toEqual({ woken: 0 });
    expect(tokens()).toEqual([]);
    expect(await slots.holders()).toEqual(['restarted']);
    expect(await slots.oldestWaiters(10)).toEqual([]);
  });

  it('wakes nobody while every slot is taken', async () => {
    const slots = await freshSlots(1);
    const { wake, tokens } = wakeRecorder();
    await slots.acquire('holder', 'token-holder');
    await slots.enqueue(waiter('waiting', '2026-12-01T10:00:00.000Z'));
    expect(await handOverFreeSlots({ slots, wake })).toEqual({ woken: 0 });
    expect(tokens()).toEqual([]);
  });

  it('wakes its own execution at once, and gives back the slot it took if nobody waits any more', async () => {
    const slots = await freshSlots(1);
    const { wake } = wakeRecorder(new Set(['token-stopped']));
    expect(
      await acquireSlotStep(waiter('stopped', '2026-12-01T10:00:00.000Z'), { slots, wake }),
    ).toEqual({ granted: false });
    expect(await slots.holders()).toEqual([]);
  });
});

describe('a generation restarted under a new token', () => {
  const stale = { id: 'restarted', queuedAt: '2026-12-01T09:00:00.000Z', token: 'stale' };
  const live = { id: 'restarted', queuedAt: '2026-12-01T10:00:00.000Z', token: 'live' };

  /**
   * Wakes tokens as Step Functions does after a restart (the stale token is refused); the stale
   * token's refusal comes only once `meanwhile` has run, so the live token is served in between.
   */
  function restartWaker(meanwhile: () => Promise<unknown>) {
    const woken: string[] = [];
    const wake: WakeWaiter = async (token) => {
      if (token === stale.token) {
        await meanwhile();
        throw new TokenExpiredError('the old execution is gone');
      }
      woken.push(token);
    };
    return { wake, woken };
  }

  it('keeps the slot its live execution was woken on while the stale token was being refused', async () => {
    const slots = await freshSlots(1);
    await slots.enqueue(stale);
    const { wake, woken } = restartWaker(() => acquireSlotStep(live, { slots, wake }));

    // The hand-over grants the stale item; while its wake is refused, the live execution finds
    // its generation holding the slot and is woken on it.
    await handOverFreeSlots({ slots, wake });

    expect(woken).toEqual(['live']);
    expect(await slots.holders()).toEqual(['restarted']);
    expect(await slots.grantOf('restarted')).toBe(tokenHash('live'));
    expect(await slots.oldestWaiters(10)).toEqual([]);
  });

  it('keeps the slot when another hand-over woke the live queue item on it meanwhile', async () => {
    const slots = await freshSlots(2);
    await slots.acquire('other', 'token-other');
    await slots.enqueue(stale);
    await slots.enqueue(live);
    const { wake, woken } = restartWaker(() => releaseSlot('other', { slots, wake }));

    // The first hand-over serves the oldest (stale) item; while its wake is refused, the other's
    // release serves the live item, found holding the slot the stale grant took.
    await handOverFreeSlots({ slots, wake }, 1);

    expect(woken).toEqual(['live']);
    expect(await slots.holders()).toEqual(['restarted']);
    expect(await slots.oldestWaiters(10)).toEqual([]);
  });
});

describe('hand-overs that die', () => {
  /** A hand-over that dies (its function timed out or crashed) right after one of its steps. */
  const dyingAt = (slots: ProviderSlots, step: 'claim' | 'acquire' | 'wake') => {
    const died = new Error(`died after ${step}`);
    const { wake, tokens } = wakeRecorder();
    if (step === 'claim') vi.spyOn(slots, 'acquire').mockRejectedValueOnce(died);
    if (step === 'wake') vi.spyOn(slots, 'dequeue').mockRejectedValueOnce(died);
    const dyingWake: WakeWaiter = async (token, grant) => {
      if (step === 'acquire') throw died;
      await wake(token, grant);
    };
    return { deps: { slots, wake: dyingWake }, died, tokens };
  };

  it.each(['claim', 'acquire', 'wake'] as const)(
    'lose no waiter when one dies after its %s: the sweep serves it once the claim lapses, even with every slot taken',
    async (step) => {
      const slots = await freshSlots(1);
      const start = new Date('2026-12-01T10:00:00.000Z');
      await slots.acquire('holder', 'token-holder');
      await acquireSlotStep(waiter('waiting', '2026-12-01T10:00:01.000Z'), {
        slots,
        wake: wakeRecorder().wake,
      });
      const dying = dyingAt(slots, step);
      await expect(releaseSlot('holder', { ...dying.deps, now: () => start })).rejects.toBe(
        dying.died,
      );
      expect((await slots.oldestWaiters(10)).map((w) => w.id)).toEqual(['waiting']);

      // Within the claim's lease the waiter is left to its claimer; after it, the sweep serves
      // it (one it was given already is found held, and takes none of the free slots).
      const { wake, tokens } = wakeRecorder(new Set(dying.tokens()));
      const soon = new Date(start.getTime() + CLAIM_LEASE_MS - 1000);
      expect(await handOverFreeSlots({ slots, wake, now: () => soon })).toEqual({ woken: 0 });
      const later = new Date(start.getTime() + CLAIM_LEASE_MS + 1000);
      await handOverFreeSlots({ slots, wake, now: () => later });
      expect([...dying.tokens(), ...tokens()]).toEqual(['token-waiting']);
      expect(await slots.holders()).toEqual(['waiting']);
      expect(await slots.grantOf('waiting')).toBe(tokenHash('token-waiting'));
      expect(await slots.oldestWaiters(10)).toEqual([]);
    },
  );
});
