import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { EVENT_FAILED, type FailedDetail } from '#shared/generation/events.ts';
import {
  type GenerationError,
  type GenerationRecord,
  GenerationsTableSchema,
  TERMINAL_STATUSES,
  UNFINISHED,
} from '#shared/generation/model.ts';
import {
  type ExecutionStatus,
  type ReconcilerDeps,
  reconcileEndedExecution,
  sweep,
} from '#shared/generation/reconciler.ts';
import { ProviderSlots } from '#shared/generation/slot-store.ts';
import type { WakeWaiter } from '#shared/generation/slots.ts';
import { GenerationStore } from '#shared/generation/store.ts';
import { useLocalDynamoDb } from '../../../helpers/dynamodb.ts';

const dynamodb = useLocalDynamoDb();

const NOW = new Date('2026-12-01T12:00:00.000Z');

interface Setup {
  readonly deps: ReconcilerDeps;
  readonly slots: ProviderSlots;
  readonly store: GenerationStore;
  readonly published: Array<{ id: string; error: GenerationError }>;
  readonly woken: string[];
  put(id: string, status: GenerationRecord['status'], createdAt?: string): Promise<void>;
}

async function setup(statuses: Record<string, ExecutionStatus>, capacity = 2): Promise<Setup> {
  const n = dynamodb.tableNumber();
  await dynamodb.createTable(`generations-${n}`, { id: 'HASH' }, [
    GenerationsTableSchema.unfinishedIndex,
  ]);
  await dynamodb.createTable(`slots-${n}`, { pk: 'HASH', sk: 'RANGE' });
  const store = new GenerationStore(dynamodb.documents, `generations-${n}`);
  const slots = new ProviderSlots(dynamodb.documents, `slots-${n}`, capacity);
  const published: Setup['published'] = [];
  const woken: string[] = [];
  const wake: WakeWaiter = async (token) => {
    woken.push(token);
  };
  const deps: ReconcilerDeps = {
    store,
    slots,
    wake,
    now: () => NOW,
    maxExecutionSeconds: 3600,
    executionStatus: async (id) => statuses[id] ?? 'MISSING',
    publish: async (event) => {
      if (event.detailType !== EVENT_FAILED) throw new Error(`unexpected ${event.detailType}`);
      const { id, error } = event.detail as FailedDetail;
      published.push({ id, error });
    },
  };
  return {
    deps,
    slots,
    store,
    published,
    woken,
    async put(id, status, createdAt = '2026-12-01T11:59:00.000Z') {
      await dynamodb.documents.send(
        new PutCommand({
          TableName: `generations-${n}`,
          Item: {
            id,
            owner: 'alice',
            status,
            source: 'http',
            request: { prompt: 'p', use_pre_llm: true, seed: -1, width: 1328, height: 1328 },
            polls: 0,
            images: [],
            createdAt,
            ...(!TERMINAL_STATUSES.includes(status) && { unfinished: UNFINISHED }),
            updatedAt: createdAt,
          },
        }),
      );
    },
  };
}

describe('the reconciler, on an execution that ended without an outcome', () => {
  it.each(['FAILED', 'TIMED_OUT', 'ABORTED'])(
    'frees the slot of an execution that ended %s, fails its record with 090003008 and wakes the next',
    async (status) => {
      const { deps, slots, store, published, woken, put } = await setup({}, 1);
      await put('dead', 'running');
      await slots.acquire('dead', 'token-dead');
      await slots.enqueue({ id: 'next', queuedAt: '2026-12-01T11:59:30.000Z', token: 't-next' });

      expect(await reconcileEndedExecution({ name: 'dead', status }, deps)).toEqual({
        released: 1,
        failed: 1,
        woken: 1,
      });
      expect(await slots.holders()).toEqual(['next']);
      expect(woken).toEqual(['t-next']);
      const record = await store.get('dead');
      expect(record?.status).toBe('failed');
      expect(record?.error?.code).toBe('090003008');
      expect(published.map((event) => event.id)).toEqual(['dead']);
    },
  );

  it('leaves a terminal record alone (the workflow recorded it, or it was cancelled)', async () => {
    const { deps, slots, store, published, put } = await setup({});
    await put('cancelled', 'cancelled');
    await slots.acquire('cancelled', 'token-cancelled');
    await reconcileEndedExecution({ name: 'cancelled', status: 'ABORTED' }, deps);
    expect(await slots.holders()).toEqual([]);
    expect((await store.get('cancelled'))?.status).toBe('cancelled');
    expect(published).toEqual([]);
  });

  it('ignores executions that succeeded', async () => {
    const { deps, slots, put } = await setup({});
    await put('fine', 'running');
    await slots.acquire('fine', 'token-fine');
    expect(await reconcileEndedExecution({ name: 'fine', status: 'SUCCEEDED' }, deps)).toEqual({
      released: 0,
      failed: 0,
      woken: 0,
    });
    expect(await slots.holders()).toEqual(['fine']);
  });
});

describe('the reconciler sweep', () => {
  it('frees slots of ended, vanished and dead generations, and keeps those still running', async () => {
    const { deps, slots, store, put } = await setup(
      { running: 'RUNNING', dead: 'FAILED', gone: 'MISSING' },
      4,
    );
    await put('running', 'running');
    await put('dead', 'running');
    await put('done', 'completed');
    for (const id of ['running', 'dead', 'done', 'gone']) await slots.acquire(id, `token-${id}`);

    expect(await sweep(deps)).toMatchObject({ released: 3, failed: 1 });
    expect(await slots.holders()).toEqual(['running']);
    expect((await store.get('dead'))?.error?.code).toBe('090003008');
    expect((await store.get('running'))?.status).toBe('running');
    expect((await store.get('done'))?.status).toBe('completed');
  });

  it('fails records older than any execution can run whose execution is gone, not younger ones', async () => {
    const { deps, store, published, put } = await setup({ oldRunning: 'RUNNING' });
    await put('old', 'queued', '2026-12-01T10:00:00.000Z');
    await put('oldRunning', 'running', '2026-12-01T10:00:00.000Z');
    await put('young', 'queued', '2026-12-01T11:30:00.000Z');

    expect(await sweep(deps)).toMatchObject({ failed: 1 });
    expect((await store.get('old'))?.status).toBe('failed');
    expect((await store.get('oldRunning'))?.status).toBe('running');
    expect((await store.get('young'))?.status).toBe('queued');
    expect(published.map((event) => event.id)).toEqual(['old']);
    // The failed record left the unfinished index; the next sweep reads only the other two.
    const unfinished = [];
    for await (const record of store.unfinishedCreatedBefore(NOW)) unfinished.push(record.id);
    expect(unfinished.sort()).toEqual(['oldRunning', 'young']);
  });

  it('hands free slots to waiters a lost release left behind', async () => {
    const { deps, slots, woken } = await setup({}, 2);
    await slots.enqueue({ id: 'a', queuedAt: '2026-12-01T11:59:01.000Z', token: 't-a' });
    await slots.enqueue({ id: 'b', queuedAt: '2026-12-01T11:59:02.000Z', token: 't-b' });
    await slots.enqueue({ id: 'c', queuedAt: '2026-12-01T11:59:03.000Z', token: 't-c' });
    expect(await sweep(deps)).toMatchObject({ woken: 2 });
    // The two oldest are served together, in no particular order.
    expect([...woken].sort()).toEqual(['t-a', 't-b']);
    expect((await slots.holders()).sort()).toEqual(['a', 'b']);
  });
});
