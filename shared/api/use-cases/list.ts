/**
 * GET /generations: a page of the owner's generations, newest first, optionally of one status
 * (a Query on the owner or owner#status index, never a Scan), with a signed cursor to the next.
 */

import type { CursorCodec } from '#shared/api/cursor.ts';
import { type ListQuery, type OwnerIndex, readOwnerIndexPage } from '#shared/api/pagination.ts';
import type { Presign } from '#shared/api/presign.ts';
import type { GenerationView } from '#shared/api/schemas.ts';
import {
  GENERATION_STATUSES,
  type GenerationStatus,
  GenerationsTableSchema,
} from '#shared/generation/model.ts';
import {
  type GenerationRepository,
  ownerIndexOf,
  ownerPartitionOf,
  type StoredRecord,
} from '#shared/generation/repository.ts';
import { toApiView } from './view.ts';

export interface GenerationPage {
  readonly items: GenerationView[];
  readonly nextCursor?: string;
}

export type { ListQuery };

export interface ListGenerationsDeps {
  readonly repository: GenerationRepository;
  readonly presign: Presign;
  readonly cursors: CursorCodec;
}

export type ListGenerations = (owner: string, query?: ListQuery) => Promise<GenerationPage>;

export function listGenerations(deps: ListGenerationsDeps): ListGenerations {
  const ownerIndex: OwnerIndex<GenerationStatus, StoredRecord> = {
    statuses: GENERATION_STATUSES,
    scopeOf: (status) => status ?? '*',
    tableKey: GenerationsTableSchema.partitionKey,
    indexOf: ownerIndexOf,
    partitionOf: ownerPartitionOf,
    read: (query) => deps.repository.pageByOwner(query),
  };
  return async (owner, query = {}) => {
    const page = await readOwnerIndexPage(deps.cursors, ownerIndex, owner, query);
    const items = await Promise.all(page.items.map((record) => toApiView(record, deps.presign)));
    return { ...page, items };
  };
}
