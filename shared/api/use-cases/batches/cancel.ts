/**
 * DELETE /batches/{id}: ends the batch `cancelled`, publishes its event, then cancels every
 * generation of it that has not ended, each the way DELETE /generations/{id} cancels one.
 *
 * The batch is cancelled first: from then on the workflow cancels a line of it before creating
 * any provider task, so a line this invocation does not reach in its time (a batch of 50,000
 * queued lines) is still never started. Answers the batch as it is afterwards; 409 once it had
 * ended, 404 for another owner's.
 */
import type { BatchView } from '#shared/api/batch-schemas.ts';
import { ConflictError } from '#shared/api/errors.ts';
import { publishBatchEvent } from '#shared/batches/ledger.ts';
import { BATCH_ID_PATTERN, type BatchStatus } from '#shared/batches/model.ts';
import type { BatchRepository } from '#shared/batches/repository.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';
import { logger } from '#shared/observability/powertools.ts';
import { type CancelRecordDeps, cancelRecord } from '../cancel.ts';
import { noSuchBatch, toBatchView } from './view.ts';

/** Lines cancelled at once: each is a conditional write, a StopExecution and a PutEvents. */
export const CANCEL_CONCURRENCY = 16;
/** Time kept back from the invocation's remaining time, to answer. */
export const CANCEL_MARGIN_MS = 2000;

export interface CancelBatchDeps extends CancelRecordDeps {
  readonly batches: BatchRepository;
  /** @default CANCEL_CONCURRENCY */
  readonly concurrency?: number;
}

/** `remainingMs`: the invocation's remaining time (Lambda's `getRemainingTimeInMillis`). */
export type CancelBatch = (
  owner: string,
  id: string,
  remainingMs: () => number,
) => Promise<BatchView>;

export function cancelBatch(deps: CancelBatchDeps): CancelBatch {
  return async (owner, id, remainingMs) => {
    if (!BATCH_ID_PATTERN.test(id)) throw noSuchBatch();
    const ended = await deps.batches.cancel(id, owner, deps.now());
    if (ended === undefined) throw noSuchBatch();
    const inTime = () => remainingMs() > CANCEL_MARGIN_MS;
    if (ended === 'final') {
      const head = await deps.batches.getHead(id);
      // A cancel whose invocation ran out of time is finished by the next DELETE, which still
      // answers 409: the batch had ended before it.
      if (head?.status === 'cancelled') await cancelLines(deps, owner, id, inTime);
      throw notCancellable(head?.status ?? 'completed');
    }
    await publishBatchEvent(ended, deps);
    await cancelLines(deps, owner, id, inTime);
    return toBatchView((await deps.batches.get(id)) ?? ended);
  };
}

/** Cancels the batch's unfinished lines, `concurrency` at once, while there is time. */
async function cancelLines(
  deps: CancelBatchDeps,
  owner: string,
  batchId: string,
  inTime: () => boolean,
): Promise<void> {
  const lines = deps.repository.unfinishedOfBatch(batchId);
  let cancelled = 0;
  let outOfTime = false;
  const worker = async () => {
    for (;;) {
      if (!inTime()) {
        outOfTime = true;
        return;
      }
      // Calls to next() on one generator queue up: each worker takes the next line.
      const next = await lines.next();
      if (next.done) return;
      try {
        if (await cancelRecord(deps, owner, next.value)) cancelled++;
      } catch (error) {
        // One line's failure does not stop the others; the workflow's guard cancels it.
        logger.error('A line of a cancelled batch could not be cancelled', {
          batchId,
          generationId: next.value.id,
          error: error as Error,
        });
      }
    }
  };
  await Promise.all(Array.from({ length: deps.concurrency ?? CANCEL_CONCURRENCY }, worker));
  if (outOfTime) await lines.return(undefined);
  logger.info('Lines of a cancelled batch cancelled', { batchId, cancelled, outOfTime });
}

function notCancellable(status: BatchStatus): ConflictError {
  return new ConflictError(
    ErrorCodes.BATCH_NOT_CANCELLABLE,
    `The batch is already ${status} and cannot be cancelled`,
  );
}
