/**
 * The batch routes that read: GET /batches (the owner's, newest first), GET /batches/{id},
 * GET /batches/{id}/generations (its records in line order) and GET /batches/{id}/report (the
 * prompt-file report of its file). Every one answers 404 for another owner's batch.
 */
import type { BatchView } from '#shared/api/batch-schemas.ts';
import type { CursorCodec, PageKey } from '#shared/api/cursor.ts';
import { NotFoundError } from '#shared/api/errors.ts';
import {
  invalidQuery,
  type ListQuery,
  nextKeyOf,
  type OwnerIndex,
  parseLimit,
  parseStatus,
  readOwnerIndexPage,
  startKeyOf,
} from '#shared/api/pagination.ts';
import type { Presign } from '#shared/api/presign.ts';
import type { GenerationView } from '#shared/api/schemas.ts';
import {
  BATCH_STATUSES,
  type Batch,
  BatchesTableSchema,
  type BatchStatus,
} from '#shared/batches/model.ts';
import { batchOwnerIndexOf, batchOwnerPartitionOf } from '#shared/batches/reads.ts';
import type { BatchRepository } from '#shared/batches/repository.ts';
import { GENERATION_STATUSES, GenerationsTableSchema } from '#shared/generation/model.ts';
import type { GenerationRepository } from '#shared/generation/repository.ts';
import { reportKeyOf } from '#shared/prompt-files/keys.ts';
import type { PromptFileReport } from '#shared/prompt-files/report.ts';
import { toApiView } from '../view.ts';
import { readOwnedBatch, toBatchView } from './view.ts';

/** An object's text, or undefined when there is no such object. */
export type ReadObject = (location: {
  readonly bucket: string;
  readonly key: string;
}) => Promise<string | undefined>;

export interface ReadBatchesDeps {
  readonly batches: BatchRepository;
  readonly generations: GenerationRepository;
  readonly presign: Presign;
  readonly cursors: CursorCodec;
  readonly readObject: ReadObject;
}

export interface Page<T> {
  readonly items: T[];
  readonly nextCursor?: string;
}

export interface ReadBatches {
  list(owner: string, query?: ListQuery): Promise<Page<BatchView>>;
  get(owner: string, id: string): Promise<BatchView>;
  generations(owner: string, id: string, query?: ListQuery): Promise<Page<GenerationView>>;
  report(owner: string, id: string): Promise<PromptFileReport>;
}

export function readBatches(deps: ReadBatchesDeps): ReadBatches {
  const batchesByOwner: OwnerIndex<BatchStatus, Batch> = {
    statuses: BATCH_STATUSES,
    scopeOf: (status) => `batches:${status ?? '*'}`,
    tableKey: BatchesTableSchema.partitionKey,
    indexOf: batchOwnerIndexOf,
    partitionOf: batchOwnerPartitionOf,
    read: async (query) => {
      const page = await deps.batches.pageByOwner(query);
      return { ...page, lastEvaluatedKey: page.lastEvaluatedKey as PageKey | undefined };
    },
  };
  return {
    async list(owner, query = {}) {
      const page = await readOwnerIndexPage(deps.cursors, batchesByOwner, owner, query);
      return { ...page, items: page.items.map(toBatchView) };
    },

    async get(owner, id) {
      return toBatchView(await readOwnedBatch(deps.batches, owner, id));
    },

    async generations(owner, id, query = {}) {
      const batch = await readOwnedBatch(deps.batches, owner, id);
      const status = parseStatus(query.status, GENERATION_STATUSES);
      const limit = parseLimit(query.limit);
      const scope = `batch:${batch.id}:${status ?? '*'}`;
      const index = GenerationsTableSchema.byBatchIndex;
      const cursorKey = startKeyOf(
        deps.cursors,
        query.cursor,
        { owner, query: scope },
        {
          keyNames: [GenerationsTableSchema.partitionKey, index.partitionKey, index.sortKey],
          partitionKey: index.partitionKey,
          partition: batch.id,
        },
      );
      const page = await deps.generations.pageByBatch({
        batchId: batch.id,
        ...(status !== undefined && { status }),
        limit,
        ...(cursorKey !== undefined && { startKey: lineKeyFromCursor(cursorKey) }),
      });
      const records = page.items.slice(0, limit);
      const nextKey = nextKeyOf(
        page.items,
        limit,
        page.lastEvaluatedKey && lineKeyToCursor(page.lastEvaluatedKey),
        (last) =>
          lineKeyToCursor({ id: last.id, batchId: batch.id, batchLine: Number(last.batchLine) }),
      );
      return {
        items: await Promise.all(records.map((record) => toApiView(record, deps.presign))),
        ...(nextKey !== undefined && { nextCursor: deps.cursors.encode(owner, scope, nextKey) }),
      };
    },

    async report(owner, id) {
      const batch = await readOwnedBatch(deps.batches, owner, id);
      const text = await deps.readObject({
        bucket: batch.source.bucket,
        key: reportKeyOf(batch.source.key),
      });
      const report = text === undefined ? undefined : (JSON.parse(text) as PromptFileReport);
      // A file put again under the same key is another batch, and its report replaces this
      // one's: only a report of this batch's own file is answered.
      if (report === undefined || !isReportOf(report, batch)) {
        throw new NotFoundError(
          `The report of batch ${batch.id} is not written yet (status ${batch.status}); it is written once its file has been read`,
        );
      }
      return report;
    },
  };
}

/** The report was written for this batch (named in it, or of the same version or ETag). */
function isReportOf(report: PromptFileReport, batch: Batch): boolean {
  if (report.batchId !== undefined) return report.batchId === batch.id;
  const { versionId, etag } = batch.source;
  if (versionId !== undefined) return report.versionId === versionId;
  return etag !== undefined && report.etag === etag;
}

/** The line's number travels as text in the cursor (every cursor value is a string). */
function lineKeyToCursor(key: Record<string, unknown>): PageKey {
  return Object.fromEntries(Object.entries(key).map(([name, value]) => [name, String(value)]));
}

function lineKeyFromCursor(key: PageKey): Record<string, unknown> {
  const sortKey = GenerationsTableSchema.byBatchIndex.sortKey;
  const line = key[sortKey] ?? '';
  // Signed by us, so a line number; anything else is still never sent to DynamoDB.
  if (!/^\d{1,9}$/.test(line)) throw invalidQuery('cursor', 'cursor is not valid for this query');
  return { ...key, [sortKey]: Number(line) };
}
