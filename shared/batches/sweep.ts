/**
 * The reconciler's part for batches, on its schedule: what a lost or failed delivery would leave
 * behind is put right here, so a batch always ends and always announces its end.
 *
 * - A batch event PutEvents did not take is published again (the outbox), after the same grace
 *   as the generations' events.
 * - A batch created through the API whose file never came fails once its upload URL expired.
 * - A batch whose counts have stood still for `STALLED_AFTER_SECONDS` has its ended lines that
 *   were never counted (their event lost, or failed for good into the dead-letter queue) counted
 *   now, and ends if that was all it waited for. Counting is idempotent, so this never counts a
 *   line twice, whatever the batch-progress function does meanwhile.
 * - A batch whose file is not read to its end, and whose reading has stood still for longer than
 *   any attempt at it could last (`READING_ABANDONED_AFTER_SECONDS`), is marked read with
 *   `090006007`: it then ends as the lines it started end, instead of staying unfinished.
 */
import { isTerminal } from '#shared/generation/model.ts';
import { OUTBOX_GRACE_SECONDS } from '#shared/generation/outbox.ts';
import type { GenerationRepository } from '#shared/generation/repository.ts';
import { READING_ABANDONED_AFTER_SECONDS } from '#shared/prompt-files/attempts.ts';
import { endBatchIfDone, type LedgerDeps, publishBatchEvent } from './ledger.ts';

/** Counts that have not moved for this long make a batch worth a look. */
export const STALLED_AFTER_SECONDS = 10 * 60;

export type BatchSweepDeps = Pick<LedgerDeps, 'batches' | 'publish' | 'now'> & {
  readonly generations: GenerationRepository;
};

export interface BatchSweepReport {
  readonly published: number;
  /** Line ends counted by the sweep (their own count never came). */
  readonly recounted: number;
  /** Batches whose reading stopped for good, marked read by the sweep. */
  readonly abandoned: number;
  readonly ended: number;
}

export async function sweepBatches(deps: BatchSweepDeps): Promise<BatchSweepReport> {
  const now = (deps.now ?? (() => new Date()))();
  let published = 0;
  for await (const batch of deps.batches.owingEvents(
    new Date(now.getTime() - OUTBOX_GRACE_SECONDS * 1000),
  )) {
    if (await publishBatchEvent(batch, deps)) published++;
  }
  let recounted = 0;
  let abandoned = 0;
  let ended = 0;
  const stalledBefore = new Date(now.getTime() - STALLED_AFTER_SECONDS * 1000);
  const abandonedBefore = now.getTime() - READING_ABANDONED_AFTER_SECONDS * 1000;
  for await (const head of deps.batches.unfinishedCreatedBefore(now)) {
    if (head.status === 'awaiting_upload') {
      const failed = await deps.batches.failUploadNotReceived(head.id, now);
      if (failed) {
        ended++;
        await publishBatchEvent(failed, deps);
      }
      continue;
    }
    if (!head.read) {
      if (Date.parse(head.updatedAt) > abandonedBefore) continue;
      if (!(await deps.batches.abandonReading(head, now))) continue;
      abandoned++;
      // Its lines' ends may all have been counted already: nothing else would end it now.
      if (await endBatchIfDone(head.id, deps)) ended++;
      continue;
    }
    if (Date.parse(head.createdAt) > stalledBefore.getTime()) continue;
    const batch = await deps.batches.get(head.id);
    if (batch === undefined) continue;
    if (batch.countedAt !== undefined && Date.parse(batch.countedAt) > stalledBefore.getTime()) {
      continue;
    }
    recounted += await countUncountedEnds(batch.id, deps.generations);
    if (await endBatchIfDone(batch.id, deps)) ended++;
  }
  return { published, recounted, abandoned, ended };
}

/** Counts every ended line of the batch whose end was never counted. */
async function countUncountedEnds(
  batchId: string,
  generations: GenerationRepository,
): Promise<number> {
  let counted = 0;
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await generations.pageByBatch({ batchId, limit: 500, startKey });
    for (const record of page.items) {
      if (!isTerminal(record.status) || record.batchCounted !== undefined) continue;
      if (await generations.countBatchLineEnd(record.id)) counted++;
    }
    startKey = page.lastEvaluatedKey;
  } while (startKey);
  return counted;
}
