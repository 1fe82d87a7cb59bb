/**
 * GET /generations: a page of the owner's generations, newest first, optionally of one status
 * (a Query on the owner or owner#status index, never a Scan), with a signed cursor to the next.
 */

import type { CursorCodec } from '#shared/api/cursor.ts';
import {
  type ListQuery,
  nextKeyOf,
  parseLimit,
  parseStatus,
  startKeyOf,
} from '#shared/api/pagination.ts';
import type { Presign } from '#shared/api/presign.ts';
import type { GenerationView } from '#shared/api/schemas.ts';
import { GENERATION_STATUSES, GenerationsTableSchema } from '#shared/generation/model.ts';
import {
  type GenerationRepository,
  ownerIndexOf,
  ownerPartitionOf,
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
  return async (owner, query = {}) => {
    const status = parseStatus(query.status, GENERATION_STATUSES);
    const limit = parseLimit(query.limit);
    const scope = status ?? '*';
    const index = ownerIndexOf(status);
    const partition = ownerPartitionOf(owner, status);
    const startKey = startKeyOf(
      deps.cursors,
      query.cursor,
      { owner, query: scope },
      {
        keyNames: [GenerationsKey, index.partitionKey, index.sortKey],
        partitionKey: index.partitionKey,
        partition,
      },
    );
    // One item more than asked tells whether another page exists, so the last page has no cursor.
    const page = await deps.repository.pageByOwner({
      owner,
      ...(status !== undefined && { status }),
      limit,
      ...(startKey !== undefined && { startKey }),
    });
    const records = page.items.slice(0, limit);
    const nextKey = nextKeyOf(page.items, limit, page.lastEvaluatedKey, (last) => ({
      [GenerationsKey]: last.id,
      [index.partitionKey]: partition,
      [index.sortKey]: last.createdAt,
    }));
    const items = await Promise.all(records.map((record) => toApiView(record, deps.presign)));
    return {
      items,
      ...(nextKey !== undefined && { nextCursor: deps.cursors.encode(owner, scope, nextKey) }),
    };
  };
}

/** The table's key, the first attribute of every start key. */
const GenerationsKey = GenerationsTableSchema.partitionKey;
