/**
 * What the batch-progress function does with one generation event: count the line's end in its
 * batch and end the batch if that was the last line. Safe to repeat: the count is taken once per
 * line (shared/generation/batch-lines.ts `countEnd`), and a batch ends once.
 */
import type { GenerationRepository } from '#shared/generation/repository.ts';
import { logger } from '#shared/observability/powertools.ts';
import { endBatchIfDone, type LedgerDeps } from './ledger.ts';

export type BatchProgressOutcome =
  | { readonly counted: false; readonly reason: 'not-a-batch-line' }
  | { readonly counted: true; readonly batchId: string; readonly batchEnded: boolean };

export async function countBatchLineEnd(
  detail: { readonly id?: unknown },
  deps: Pick<LedgerDeps, 'batches' | 'publish' | 'now'> & {
    readonly generations: GenerationRepository;
  },
): Promise<BatchProgressOutcome> {
  const id = typeof detail.id === 'string' ? detail.id : undefined;
  const record = id === undefined ? undefined : await deps.generations.countBatchLineEnd(id);
  if (record === undefined) {
    logger.info('Generation event of no batch line, or of a line not ended', { generationId: id });
    return { counted: false, reason: 'not-a-batch-line' };
  }
  const ended = await endBatchIfDone(record.batchId, deps);
  return { counted: true, batchId: record.batchId, batchEnded: ended !== undefined };
}
