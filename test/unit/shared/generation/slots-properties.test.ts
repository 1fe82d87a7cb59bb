/**
 * Properties of the provider slots under any interleaving, against a real DynamoDB-compatible
 * server: never more generations running than the capacity, none running without its slot, every
 * execution woken exactly once, nothing left held or queued at the end — with hand-overs that die
 * at each of their steps, and with generations restarted under a new token (an old execution's
 * queue item or grant left behind, as after the local runtime's SIGKILL and resume).
 */
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { CLAIM_LEASE_MS, ProviderSlots } from '#shared/generation/slot-store.ts';
import {
  acquireSlotStep,
  handOverFreeSlots,
  releaseSlot,
  type SlotDeps,
  TokenExpiredError,
  type WakeWaiter,
} from '#shared/generation/slots.ts';
import { useLocalDynamoDb } from '../../../helpers/dynamodb.ts';

const dynamodb = useLocalDynamoDb();

async function freshTable(): Promise<string> {
  const name = `slots-${dynamodb.tableNumber()}`;
  await dynamodb.createTable(name, { pk: 'HASH', sk: 'RANGE' });
  return name;
}

const at = (minute: number, second: number) =>
  new Date(Date.UTC(2026, 11, 1, 10, minute, second)).toISOString();

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The executions' side: each generation's live token, woken at most once (Step Functions refuses
 * a token answered already, and every token of `expired`); who runs, at most how many at once,
 * and who ran without holding a slot.
 */
function executions(slots: ProviderSlots, expired: ReadonlySet<string> = new Set()) {
  const wakers = new Map<string, () => void>();
  const wakes = new Map<string, number>();
  const withoutSlot: string[] = [];
  let running = 0;
  let mostRunning = 0;
  const wake: WakeWaiter = async (token) => {
    // A refusal takes a moment, as a call to Step Functions does: the window of the races.
    if (expired.has(token)) {
      await pause(Math.random() * 3);
      throw new TokenExpiredError(`token ${token} belongs to an execution that is gone`);
    }
    if (wakes.has(token)) throw new TokenExpiredError(`token ${token} answered already`);
    wakes.set(token, 1);
    wakers.get(token)?.();
  };
  return {
    wake,
    wakes,
    withoutSlot,
    mostRunning: () => mostRunning,
    /** Generation `id` asks for a slot under `token`, runs `holdMs` once woken, and gives it back. */
    async run(
      id: string,
      token: string,
      queuedAt: string,
      holdMs: number,
      release: (id: string) => Promise<unknown>,
      deps: SlotDeps = { slots, wake },
    ): Promise<void> {
      const woken = new Promise<void>((resolve) => wakers.set(token, resolve));
      await acquireSlotStep({ id, token, queuedAt }, deps);
      await woken;
      running++;
      mostRunning = Math.max(mostRunning, running);
      await pause(holdMs);
      if (!(await slots.holders()).includes(id)) withoutSlot.push(id);
      running--;
      await release(id);
    },
  };
}

/** Runs hand-overs (the reconciler's sweep) over and over until `done` says stop. */
async function sweepUntil(deps: SlotDeps, done: () => boolean): Promise<void> {
  while (!done()) {
    await handOverFreeSlots(deps);
    await pause(5);
  }
  await handOverFreeSlots(deps);
}

describe('the provider slots', () => {
  it('never let more than the capacity run, and wake every waiter exactly once, whatever the interleaving', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.integer({ min: 0, max: 15 }), { minLength: 1, maxLength: 24 }),
        async (capacity, holdTimes) => {
          const slots = new ProviderSlots(dynamodb.documents, await freshTable(), capacity);
          const cap = executions(slots);
          await Promise.all(
            holdTimes.map((holdMs, index) =>
              cap.run(`g${index}`, `token-g${index}`, at(0, index), holdMs, (id) =>
                releaseSlot(id, { slots, wake: cap.wake }),
              ),
            ),
          );
          expect(cap.mostRunning()).toBeLessThanOrEqual(capacity);
          expect(cap.withoutSlot).toEqual([]);
          expect(cap.wakes.size).toBe(holdTimes.length);
          expect(await slots.holders()).toEqual([]);
          expect(await slots.oldestWaiters(100)).toEqual([]);
        },
      ),
      { numRuns: 15 },
    );
  }, 120_000);

  type Death = 'none' | 'claim' | 'acquire' | 'wake';

  it('lose no slot and no waiter when hand-overs die after their claim, their grant or their wake', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.array(fc.constantFrom<Death>('none', 'claim', 'acquire', 'wake'), {
          minLength: 1,
          maxLength: 12,
        }),
        async (capacity, deaths) => {
          const table = await freshTable();
          const slots = new ProviderSlots(dynamodb.documents, table, capacity);
          const cap = executions(slots);
          /** The deps of a release that dies right after `death` when it serves a waiter. */
          const dying = (death: Death): SlotDeps => {
            const own = new ProviderSlots(dynamodb.documents, table, capacity);
            const died = new Error(`died after ${death}`);
            if (death === 'claim') vi.spyOn(own, 'acquire').mockRejectedValueOnce(died);
            if (death === 'wake') vi.spyOn(own, 'dequeue').mockRejectedValueOnce(died);
            let dead = false;
            const wake: WakeWaiter = async (token, grant) => {
              if (death === 'acquire' && !dead) {
                dead = true;
                throw died;
              }
              await cap.wake(token, grant);
            };
            // A dying release's claims are dated a lease ago: the sweep may take over at once.
            const now = () =>
              death === 'none' ? new Date() : new Date(Date.now() - CLAIM_LEASE_MS - 1000);
            return { slots: own, wake, now };
          };
          let finished = 0;
          const sweeping = sweepUntil({ slots, wake: cap.wake }, () => finished === deaths.length);
          await Promise.all(
            deaths.map(async (death, index) => {
              await cap.run(`g${index}`, `token-g${index}`, at(0, index), index % 4, (id) =>
                releaseSlot(id, dying(death)).catch(() => undefined),
              );
              finished++;
            }),
          );
          await sweeping;

          expect(cap.mostRunning()).toBeLessThanOrEqual(capacity);
          expect(cap.withoutSlot).toEqual([]);
          expect(cap.wakes.size).toBe(deaths.length);
          expect(await slots.holders()).toEqual([]);
          expect(await slots.oldestWaiters(100)).toEqual([]);
        },
      ),
      { numRuns: 15 },
    );
  }, 120_000);

  it('never let a generation restarted under a new token run without its slot, nor past the capacity', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        // Per generation: none left behind by its old execution, a queued item, or a held slot.
        fc.array(fc.constantFrom('fresh', 'queued', 'held'), { minLength: 1, maxLength: 10 }),
        fc.array(fc.integer({ min: 0, max: 8 }), { minLength: 10, maxLength: 10 }),
        async (capacity, before, holdTimes) => {
          const slots = new ProviderSlots(dynamodb.documents, await freshTable(), capacity);
          const stale = new Set(before.map((_, index) => `stale-g${index}`));
          const cap = executions(slots, stale);
          // What the killed process left: slots granted for its tokens (up to the capacity), and
          // queue items of its executions, older than any of the new ones.
          for (const [index, left] of before.entries()) {
            const old = { id: `g${index}`, token: `stale-g${index}`, queuedAt: at(0, index) };
            if (left === 'held' && (await slots.acquire(old.id, old.token)) === 'granted') continue;
            if (left !== 'fresh') await slots.enqueue(old);
          }
          let finished = 0;
          const sweeping = sweepUntil({ slots, wake: cap.wake }, () => finished === before.length);
          await Promise.all(
            before.map(async (_, index) => {
              const holdMs = holdTimes[index] ?? 0;
              await cap.run(`g${index}`, `live-g${index}`, at(5, index), holdMs, (id) =>
                releaseSlot(id, { slots, wake: cap.wake }),
              );
              finished++;
            }),
          );
          await sweeping;

          expect(cap.mostRunning()).toBeLessThanOrEqual(capacity);
          expect(cap.withoutSlot).toEqual([]);
          expect(cap.wakes.size).toBe(before.length);
          expect(await slots.holders()).toEqual([]);
          expect(await slots.oldestWaiters(100)).toEqual([]);
        },
      ),
      { numRuns: 25 },
    );
  }, 120_000);
});
