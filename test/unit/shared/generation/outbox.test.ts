import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { type BusEvent, EVENT_CANCELLED, EVENT_FAILED } from '#shared/generation/events.ts';
import {
  type GenerationRecord,
  GenerationsTableSchema,
  OUTBOX,
  UNFINISHED,
} from '#shared/generation/model.ts';
import { OUTBOX_GRACE_SECONDS, publishOverdue, publishOwed } from '#shared/generation/outbox.ts';
import {
  type ExecutionStatus,
  reconcileEndedExecution,
  sweep,
} from '#shared/generation/reconciler.ts';
import { GenerationRepository } from '#shared/generation/repository.ts';
import { expiresAtOf } from '#shared/generation/retention.ts';
import { ProviderSlots } from '#shared/generation/slot-store.ts';
import { Transitions } from '#shared/generation/transitions.ts';
import { useLocalDynamoDb } from '../../../helpers/dynamodb.ts';

const dynamodb = useLocalDynamoDb();

const CREATED_AT = '2026-12-01T11:00:00.000Z';
const NOW = new Date('2026-12-01T12:00:00.000Z');
const DAY = 86_400;

async function table(retentionDays?: number) {
  const name = `outbox-${dynamodb.tableNumber()}`;
  await dynamodb.createTable(name, { id: 'HASH' }, [GenerationsTableSchema.unfinishedIndex]);
  const repository = new GenerationRepository(
    dynamodb.documents,
    name,
    retentionDays === undefined ? {} : { retentionDays },
  );
  const put = async (item: Partial<GenerationRecord> & { id: string }) => {
    await dynamodb.documents.send(
      new PutCommand({
        TableName: name,
        Item: {
          owner: 'alice',
          status: 'running',
          source: 's3',
          sourceRef: 's3://in/prompts/a.txt#1',
          request: { prompt: 'p', use_pre_llm: true, seed: -1, width: 1328, height: 1328 },
          polls: 0,
          images: [],
          createdAt: CREATED_AT,
          updatedAt: CREATED_AT,
          unfinished: UNFINISHED,
          ...item,
        },
      }),
    );
  };
  const published: BusEvent[] = [];
  const publish = async (event: BusEvent) => {
    published.push(event);
  };
  return { name, repository, put, published, publish };
}

describe('the outbox', () => {
  it('writes the event a cancel makes due in the same conditional update as the status', async () => {
    // Prepare
    const { repository, put } = await table();
    await put({ id: 'gen-1' });
    const error = { code: '090003007', message: 'cancelled' };

    // Act
    const cancelled = await repository.cancel(
      'alice',
      { id: 'gen-1', createdAt: CREATED_AT },
      error,
      NOW,
    );

    // Assess
    expect(Transitions.cancelled.updateExpression).toContain('pendingEvent = :event');
    expect(cancelled).toMatchObject({ status: 'cancelled', unfinished: OUTBOX });
    const stored = await repository.get('gen-1');
    expect(stored).toMatchObject({
      status: 'cancelled',
      pendingEvent: { detailType: EVENT_CANCELLED, at: NOW.toISOString() },
      unfinished: OUTBOX,
      expiresAt: expiresAtOf(CREATED_AT, 90),
    });
  });

  it('writes neither the status nor the event when the record has ended already', async () => {
    // Prepare
    const { repository, put } = await table();
    await put({ id: 'gen-1', status: 'completed', unfinished: undefined });

    // Act
    const failed = await repository.recordFailure(
      (await repository.get('gen-1')) as GenerationRecord,
      { code: '090003008', message: 'died' },
      NOW,
    );

    // Assess
    expect(failed).toBeUndefined();
    expect(await repository.get('gen-1')).not.toHaveProperty('pendingEvent');
  });

  it('takes the event off the record once published, and a second clear changes nothing', async () => {
    // Prepare
    const { repository, put, publish, published } = await table();
    await put({ id: 'gen-1' });
    const record = await repository.recordFailure(
      (await repository.get('gen-1')) as GenerationRecord,
      { code: '090003008', message: 'died' },
      NOW,
    );
    if (record === undefined) throw new Error('not failed');

    // Act
    expect(await publishOwed(record, { repository, publish })).toBe(true);
    await repository.eventPublished(record);

    // Assess
    expect(published).toEqual([
      {
        source: 'spark-t2i',
        detailType: EVENT_FAILED,
        detail: {
          id: 'gen-1',
          owner: 'alice',
          status: 'failed',
          source: 's3',
          sourceRef: 's3://in/prompts/a.txt#1',
          error: { code: '090003008', message: 'died' },
          webhookEvents: [],
        },
      },
    ]);
    const stored = await repository.get('gen-1');
    expect(stored?.status).toBe('failed');
    expect(stored).not.toHaveProperty('pendingEvent');
    expect(stored).not.toHaveProperty('unfinished');
  });

  it('keeps the event owed when PutEvents fails, and the sweep publishes it after the grace', async () => {
    // Prepare: the process died after the transition (or PutEvents failed): the event is owed.
    const { repository, put, publish, published } = await table();
    const at = new Date(NOW.getTime() - (OUTBOX_GRACE_SECONDS + 1) * 1000).toISOString();
    await put({
      id: 'owed',
      status: 'cancelled',
      error: { code: '090003007', message: 'cancelled' },
      unfinished: OUTBOX as never,
      pendingEvent: { detailType: EVENT_CANCELLED, at },
    });
    await put({
      id: 'recent',
      status: 'cancelled',
      error: { code: '090003007', message: 'cancelled' },
      unfinished: OUTBOX as never,
      pendingEvent: { detailType: EVENT_CANCELLED, at: NOW.toISOString() },
    });
    const failing = async () => {
      throw new Error('EventBridge is down');
    };
    expect(await publishOverdue({ repository, publish: failing }, NOW)).toBe(0);
    expect((await repository.get('owed'))?.pendingEvent).toBeDefined();

    // Act
    const count = await publishOverdue({ repository, publish }, NOW);

    // Assess: the overdue one published and cleared; the recent one left to its own publisher.
    expect(count).toBe(1);
    expect(
      published.map((event) => [event.detailType, (event.detail as { id: string }).id]),
    ).toEqual([[EVENT_CANCELLED, 'owed']]);
    expect(await repository.get('owed')).not.toHaveProperty('pendingEvent');
    expect((await repository.get('recent'))?.pendingEvent).toBeDefined();
  });

  it('is swept by the reconciler: a record owing an event is republished', async () => {
    // Prepare
    const { name, repository, put, publish, published } = await table();
    await dynamodb.createTable(`${name}-slots`, { pk: 'HASH', sk: 'RANGE' });
    await put({
      id: 'owed',
      status: 'failed',
      error: { code: '090003009', message: 'boom' },
      unfinished: OUTBOX as never,
      pendingEvent: { detailType: EVENT_FAILED, at: '2026-12-01T11:00:00.000Z' },
    });

    // Act
    await sweep({
      store: repository,
      slots: new ProviderSlots(dynamodb.documents, `${name}-slots`, 2),
      wake: async () => undefined,
      now: () => NOW,
      maxExecutionSeconds: 3600,
      executionStatus: async (): Promise<ExecutionStatus> => 'MISSING',
      publish,
    });

    // Assess
    expect(published).toHaveLength(1);
    expect(published[0]?.detail).toMatchObject({ id: 'owed', status: 'failed' });
    expect(await repository.get('owed')).not.toHaveProperty('pendingEvent');
  });
});

describe('record retention', () => {
  it('counts expiresAt from the record creation, 90 days by default', () => {
    expect(expiresAtOf(CREATED_AT, 90)).toBe(Date.parse(CREATED_AT) / 1000 + 90 * DAY);
  });

  it('gives a record the workflow failed its expiry when its execution ends failed', async () => {
    // Prepare
    const { name, repository, put, publish } = await table(30);
    await dynamodb.createTable(`${name}-slots`, { pk: 'HASH', sk: 'RANGE' });
    await put({ id: 'failed', status: 'failed', unfinished: undefined });
    await put({ id: 'api', status: 'failed', unfinished: undefined, expiresAt: 123 });
    const deps = {
      store: repository,
      slots: new ProviderSlots(dynamodb.documents, `${name}-slots`, 2),
      wake: async () => undefined,
      now: () => NOW,
      maxExecutionSeconds: 3600,
      executionStatus: async (): Promise<ExecutionStatus> => 'FAILED',
      publish,
    };

    // Act
    await reconcileEndedExecution({ name: 'failed', status: 'FAILED' }, deps);
    await reconcileEndedExecution({ name: 'api', status: 'FAILED' }, deps);

    // Assess: a record's own expiry is kept.
    expect((await repository.get('failed'))?.expiresAt).toBe(expiresAtOf(CREATED_AT, 30));
    expect((await repository.get('api'))?.expiresAt).toBe(123);
  });
});
