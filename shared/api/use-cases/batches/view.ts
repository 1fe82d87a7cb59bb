/**
 * A batch as the API shows it: the head's public fields, the counts summed over its shards and
 * links to its routes. Internal attributes (index partitions, the outbox, the pin, the expiry)
 * never reach a caller.
 */
import type { BatchView } from '#shared/api/batch-schemas.ts';
import { NotFoundError } from '#shared/api/errors.ts';
import { BATCH_ID_PATTERN, type Batch } from '#shared/batches/model.ts';
import type { BatchRepository } from '#shared/batches/repository.ts';
import { storedMetadata } from '../view.ts';

export function toBatchView(batch: Batch): BatchView {
  const self = `/batches/${batch.id}`;
  const metadata = storedMetadata(batch.metadata, { batchId: batch.id });
  return {
    id: batch.id,
    status: batch.status,
    source: { bucket: batch.source.bucket, key: batch.source.key },
    format: batch.format,
    counts: batch.counts,
    costUsd: batch.costUsd,
    createdAt: batch.createdAt,
    updatedAt: batch.updatedAt,
    ...(batch.completedAt !== undefined && { completedAt: batch.completedAt }),
    ...(batch.error !== undefined && {
      error: { code: batch.error.code, message: batch.error.message },
    }),
    ...(metadata !== undefined && { metadata }),
    links: { self, generations: `${self}/generations`, report: `${self}/report` },
  };
}

/**
 * The owner's batch with its counts. A foreign id is answered exactly like a missing one (404):
 * an owner never learns anything about another owner's batches.
 */
export async function readOwnedBatch(
  batches: Pick<BatchRepository, 'get'>,
  owner: string,
  id: string,
): Promise<Batch> {
  if (!BATCH_ID_PATTERN.test(id)) throw noSuchBatch();
  const batch = await batches.get(id);
  if (batch === undefined || batch.owner !== owner) throw noSuchBatch();
  return batch;
}

export function noSuchBatch(): NotFoundError {
  return new NotFoundError('No such batch');
}
