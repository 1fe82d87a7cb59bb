import { describe, expect, it } from 'vitest';
import { ConflictError, NotFoundError } from '#shared/api/errors.ts';
import { CANCEL_MARGIN_MS, cancelBatch } from '#shared/api/use-cases/batches/cancel.ts';
import type { Batch } from '#shared/batches/model.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';
import type { BusEvent } from '#shared/generation/events.ts';
import type { StoredRecord } from '#shared/generation/repository.ts';
import { ALICE, BOB, batch, batchId, fakeBatches, fakeGenerations, lineRecord } from './fakes.ts';

const NOW = new Date('2026-12-07T12:00:00.000Z');
const PLENTY = () => 20_000;

function setUp(
  options: { batch?: Partial<Batch>; lines?: StoredRecord[]; concurrency?: number } = {},
) {
  const batches = fakeBatches([batch(1, options.batch)]);
  const lines =
    options.lines ??
    Array.from({ length: 40 }, (_, line) =>
      lineRecord(line, { status: line < 5 ? 'completed' : line < 10 ? 'running' : 'queued' }),
    );
  const generations = fakeGenerations(lines);
  const stopped: string[] = [];
  const events: BusEvent[] = [];
  let inFlight = 0;
  let mostInFlight = 0;
  const cancel = cancelBatch({
    batches,
    repository: generations,
    executions: {
      stop: async (id) => {
        inFlight++;
        mostInFlight = Math.max(mostInFlight, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 1));
        inFlight--;
        stopped.push(id);
      },
    },
    publish: async (event) => {
      events.push(event);
    },
    now: () => NOW,
    ...(options.concurrency !== undefined && { concurrency: options.concurrency }),
  });
  return { batches, generations, stopped, events, cancel, mostInFlight: () => mostInFlight };
}

describe('DELETE /batches/{id}', () => {
  it('ends the batch cancelled, publishes its event, and cancels every unfinished line, at most 16 at once', async () => {
    const { cancel, generations, stopped, events, batches, mostInFlight } = setUp();

    const view = await cancel(ALICE, batchId(1), PLENTY);

    expect(view).toMatchObject({
      id: batchId(1),
      status: 'cancelled',
      completedAt: NOW.toISOString(),
    });
    const unfinished = Array.from({ length: 35 }, (_, i) => `line-${i + 5}`);
    expect([...generations.cancelled].sort()).toEqual([...unfinished].sort());
    expect([...stopped].sort()).toEqual([...unfinished].sort());
    expect(mostInFlight()).toBeGreaterThan(1);
    expect(mostInFlight()).toBeLessThanOrEqual(16);
    expect(events.filter((e) => e.detailType === 'Batch Completed')).toHaveLength(1);
    expect(events.filter((e) => e.detailType === 'Generation Cancelled')).toHaveLength(35);
    expect(batches.published).toEqual([batchId(1)]);
    expect(generations.byId.get('line-0')?.status).toBe('completed');
  });

  it('stops cancelling lines once the time left is within the margin, and still answers the batch', async () => {
    let left = CANCEL_MARGIN_MS + 10;
    const { cancel, generations } = setUp({ concurrency: 1 });

    const view = await cancel(ALICE, batchId(1), () => {
      left -= 5;
      return left;
    });

    expect(view.status).toBe('cancelled');
    expect(generations.cancelled.length).toBeGreaterThan(0);
    expect(generations.cancelled.length).toBeLessThan(35);
  });

  it("answers 404 for another owner's batch, and a malformed id, changing nothing", async () => {
    const { cancel, generations, batches } = setUp();
    await expect(cancel(BOB, batchId(1), PLENTY)).rejects.toBeInstanceOf(NotFoundError);
    await expect(cancel(ALICE, 'line-1', PLENTY)).rejects.toBeInstanceOf(NotFoundError);
    expect(generations.cancelled).toEqual([]);
    expect(batches.byId.get(batchId(1))?.status).toBe('in_progress');
  });

  it('answers 409 090006005 for a batch that has ended, without touching its lines', async () => {
    const { cancel, generations } = setUp({ batch: { status: 'completed' } });
    const error = await cancel(ALICE, batchId(1), PLENTY).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConflictError);
    expect((error as ConflictError).code).toBe(ErrorCodes.BATCH_NOT_CANCELLABLE);
    expect(generations.cancelled).toEqual([]);
  });

  it('finishes the lines a cancel ran out of time for when DELETE is sent again, answering 409', async () => {
    const { cancel, generations } = setUp({ batch: { status: 'cancelled' } });
    await expect(cancel(ALICE, batchId(1), PLENTY)).rejects.toBeInstanceOf(ConflictError);
    expect(generations.cancelled).toHaveLength(35);
  });

  it("goes on with the other lines when one line's cancel fails", async () => {
    const lines = [lineRecord(1), lineRecord(2), lineRecord(3)];
    const { cancel, generations } = setUp({ lines });
    const original = generations.cancel.bind(generations);
    generations.cancel = async (owner, record, error, now) => {
      if (record.id === 'line-2') throw new Error('throttled');
      return original(owner, record, error, now);
    };
    await cancel(ALICE, batchId(1), PLENTY);
    expect([...generations.cancelled].sort()).toEqual(['line-1', 'line-3']);
  });
});
