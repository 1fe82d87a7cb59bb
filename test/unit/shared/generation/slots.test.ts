import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import {
  acquireSlotStep,
  handOverFreeSlots,
  ProviderSlots,
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
    expect(await slots.acquire('a')).toBe('granted');
    expect(await slots.acquire('b')).toBe('granted');
    expect(await slots.acquire('c')).toBe('full');
    expect(await slots.acquire('a')).toBe('held');
    expect((await slots.holders()).sort()).toEqual(['a', 'b']);
  });

  it('frees a slot on release, and a release of a slot not held changes nothing', async () => {
    const slots = await freshSlots(1);
    expect(await slots.acquire('a')).toBe('granted');
    await slots.release('nobody');
    expect(await slots.acquire('b')).toBe('full');
    await slots.release('a');
    await slots.release('a');
    expect(await slots.acquire('b')).toBe('granted');
    expect(await slots.holders()).toEqual(['b']);
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

  it('takes off the queue only as many waiters as there are free slots', async () => {
    const slots = await freshSlots(2);
    const { wake, tokens } = wakeRecorder();
    await slots.acquire('holder-1');
    await slots.acquire('holder-2');
    for (let n = 1; n <= 5; n++) {
      await slots.enqueue(waiter(`waiting-${n}`, `2026-12-01T10:00:0${n}.000Z`));
    }
    const dequeue = vi.spyOn(slots, 'dequeue');
    const requeue = vi.spyOn(slots, 'requeue');

    await releaseSlot('holder-1', { slots, wake });

    expect(tokens()).toEqual(['token-waiting-1']);
    expect(dequeue).toHaveBeenCalledTimes(1);
    expect(requeue).not.toHaveBeenCalled();
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
    for (const id of holders) await slots.acquire(id);
    for (let n = 10; n < 50; n++) {
      await slots.enqueue(waiter(`w${n}`, `2026-12-01T10:00:${n}.000Z`));
    }
    const dequeue = vi.spyOn(slots, 'dequeue');

    const results = await Promise.all(holders.map((id) => releaseSlot(id, { slots, wake })));

    expect(results.map((result) => result.woken)).toEqual([1, 1, 1, 1, 1]);
    const woken = tokens().map((token) => token.replace('token-', ''));
    expect((await slots.holders()).sort()).toEqual([...woken].sort());
    // Nothing is lost: whoever was not woken still waits. The order is the queue's, give or take
    // a waiter that was off the queue for a moment (taken, found the slots full, put back at the
    // head): the woken are among the oldest ten.
    const waiting = (await slots.oldestWaiters(100)).map((entry) => entry.id);
    expect([...woken, ...waiting].sort()).toEqual(
      Array.from({ length: 40 }, (_, index) => `w${index + 10}`).sort(),
    );
    expect(woken.filter((id) => Number(id.slice(1)) >= 20)).toEqual([]);
    // Each releaser loses at most one race per releaser ahead of it.
    expect(dequeue.mock.calls.length).toBeLessThanOrEqual(5 + (5 * 4) / 2);
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

  it('keeps a slot its generation already holds when an old token of it has expired', async () => {
    const slots = await freshSlots(2);
    // A restarted execution holds its slot again; its previous execution's queue item is stale,
    // and is cleared by the next hand-over that finds a slot free.
    await slots.acquire('restarted');
    await slots.enqueue({ id: 'restarted', queuedAt: '2026-12-01T09:00:00.000Z', token: 'old' });
    const { wake } = wakeRecorder(new Set(['old']));
    await handOverFreeSlots({ slots, wake });
    expect(await slots.holders()).toEqual(['restarted']);
    expect(await slots.oldestWaiters(10)).toEqual([]);
  });

  it('leaves the queue alone while every slot is taken', async () => {
    const slots = await freshSlots(1);
    await slots.acquire('restarted');
    const stale = { id: 'restarted', queuedAt: '2026-12-01T09:00:00.000Z', token: 'old' };
    await slots.enqueue(stale);
    const { wake, tokens } = wakeRecorder(new Set(['old']));
    // A stale item is cleared by the first hand-over that has a slot to give, not before.
    expect(await handOverFreeSlots({ slots, wake })).toEqual({ woken: 0 });
    expect(tokens()).toEqual([]);
    expect(await slots.oldestWaiters(10)).toEqual([stale]);
  });

  it('wakes nobody while every slot is taken', async () => {
    const slots = await freshSlots(1);
    const { wake, tokens } = wakeRecorder();
    await slots.acquire('holder');
    await slots.enqueue(waiter('waiting', '2026-12-01T10:00:00.000Z'));
    expect(await handOverFreeSlots({ slots, wake })).toEqual({ woken: 0 });
    expect(tokens()).toEqual([]);
  });

  it('never lets more than the capacity run, and wakes every waiter exactly once, whatever the interleaving', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.integer({ min: 0, max: 15 }), { minLength: 1, maxLength: 24 }),
        async (capacity, holdTimes) => {
          const slots = await freshSlots(capacity);
          const wakers = new Map<string, () => void>();
          let running = 0;
          let mostRunning = 0;
          const wakeCounts = new Map<string, number>();
          const wake: WakeWaiter = async (token) => {
            wakeCounts.set(token, (wakeCounts.get(token) ?? 0) + 1);
            wakers.get(token)?.();
          };
          const deps = { slots, wake };
          await Promise.all(
            holdTimes.map(async (holdMs, index) => {
              const id = `g${index}`;
              const token = `token-${id}`;
              const granted = new Promise<void>((resolve) => wakers.set(token, resolve));
              await acquireSlotStep(
                {
                  id,
                  token,
                  queuedAt: new Date(Date.UTC(2026, 11, 1, 10, 0, index)).toISOString(),
                },
                deps,
              );
              await granted;
              running++;
              mostRunning = Math.max(mostRunning, running);
              await new Promise((resolve) => setTimeout(resolve, holdMs));
              running--;
              await releaseSlot(id, deps);
            }),
          );
          expect(mostRunning).toBeLessThanOrEqual(capacity);
          expect([...wakeCounts.values()].every((count) => count === 1)).toBe(true);
          expect(wakeCounts.size).toBe(holdTimes.length);
          expect(await slots.holders()).toEqual([]);
          expect(await slots.oldestWaiters(100)).toEqual([]);
        },
      ),
      { numRuns: 15 },
    );
  });
});
