/**
 * The event a batch publishes when it ends (completed, cancelled or failed): one detail type to
 * subscribe to, its status inside, as Step Functions' "Execution Status Change" does. No SDK import.
 */
import { type BusEvent, EVENT_SOURCE } from '#shared/generation/events.ts';
import {
  type Batch,
  type BatchCounts,
  type BatchError,
  type BatchStatus,
  EVENT_BATCH_COMPLETED,
} from './model.ts';

export { EVENT_BATCH_COMPLETED };

export interface BatchCompletedDetail {
  readonly id: string;
  readonly owner: string;
  readonly status: BatchStatus;
  readonly source: { readonly bucket: string; readonly key: string };
  readonly counts: BatchCounts;
  readonly costUsd: number;
  readonly createdAt: string;
  readonly completedAt?: string;
  readonly error?: BatchError;
  /** `["batch.completed"]` when the batch has a webhook, else empty (docs/decisions.md D40). */
  readonly webhookEvents: readonly string[];
}

export function batchCompletedEvent(batch: Batch): BusEvent & { detail: BatchCompletedDetail } {
  return {
    source: EVENT_SOURCE,
    detailType: EVENT_BATCH_COMPLETED,
    detail: {
      id: batch.id,
      owner: batch.owner,
      status: batch.status,
      source: { bucket: batch.source.bucket, key: batch.source.key },
      counts: batch.counts,
      costUsd: batch.costUsd,
      createdAt: batch.createdAt,
      ...(batch.completedAt !== undefined && { completedAt: batch.completedAt }),
      ...(batch.error !== undefined && { error: batch.error }),
      webhookEvents: [...(batch.webhook?.events ?? [])],
    },
  };
}
