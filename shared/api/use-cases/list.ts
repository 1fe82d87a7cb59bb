/**
 * GET /generations: a page of the owner's generations, newest first, optionally of one status
 * (a Query on the owner or owner#status index, never a Scan), with a signed cursor to the next.
 */

import type { CursorCodec, PageKey } from '#shared/api/cursor.ts';
import { BadRequestError } from '#shared/api/errors.ts';
import type { Presign } from '#shared/api/presign.ts';
import { type GenerationView, LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX } from '#shared/api/schemas.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';
import {
  GENERATION_STATUSES,
  type GenerationStatus,
  GenerationsTableSchema,
} from '#shared/generation/model.ts';
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

/** The list query as it arrives (text); the use case checks it. */
export interface ListQuery {
  readonly status?: string;
  readonly limit?: string;
  readonly cursor?: string;
}

export interface ListGenerationsDeps {
  readonly repository: GenerationRepository;
  readonly presign: Presign;
  readonly cursors: CursorCodec;
}

export type ListGenerations = (owner: string, query?: ListQuery) => Promise<GenerationPage>;

export function listGenerations(deps: ListGenerationsDeps): ListGenerations {
  return async (owner, query = {}) => {
    const status = parseStatus(query.status);
    const limit = parseLimit(query.limit);
    const scope = status ?? '*';
    const index = ownerIndexOf(status);
    const partition = ownerPartitionOf(owner, status);
    let startKey: PageKey | undefined;
    if (query.cursor !== undefined) {
      startKey = deps.cursors.decode(owner, scope, query.cursor);
      // A cursor that verifies may still not be a position of this index (one signed with a
      // leaked secret, or by an older version): DynamoDB answers a start key of another shape
      // with a ValidationException, which would be a 500.
      const keyNames = [GenerationsKey, index.partitionKey, index.sortKey];
      if (
        startKey === undefined ||
        startKey[index.partitionKey] !== partition ||
        !isStartKeyOf(startKey, keyNames)
      ) {
        throw new BadRequestError(
          ErrorCodes.API_INVALID_QUERY,
          'cursor is not valid for this query; use the nextCursor of the previous page unchanged',
          {
            details: [
              { code: ErrorCodes.API_INVALID_QUERY, message: 'invalid cursor', field: 'cursor' },
            ],
          },
        );
      }
    }
    // One item more than asked tells whether another page exists, so the last page has no cursor.
    const page = await deps.repository.pageByOwner({
      owner,
      ...(status !== undefined && { status }),
      limit,
      ...(startKey !== undefined && { startKey }),
    });
    const records = page.items.slice(0, limit);
    let nextKey: PageKey | undefined;
    const last = records.at(-1);
    if (page.items.length > limit && last !== undefined) {
      nextKey = {
        [GenerationsKey]: last.id,
        [index.partitionKey]: partition,
        [index.sortKey]: last.createdAt,
      };
    } else if (page.lastEvaluatedKey !== undefined) {
      // DynamoDB stopped early (1 MB read): continue from where it stopped.
      nextKey = page.lastEvaluatedKey;
    }
    const items = await Promise.all(records.map((record) => toApiView(record, deps.presign)));
    return {
      items,
      ...(nextKey !== undefined && { nextCursor: deps.cursors.encode(owner, scope, nextKey) }),
    };
  };
}

/** The table's key, the first attribute of every start key. */
const GenerationsKey = GenerationsTableSchema.partitionKey;

function parseStatus(status: string | undefined): GenerationStatus | undefined {
  if (status === undefined) return undefined;
  if ((GENERATION_STATUSES as readonly string[]).includes(status))
    return status as GenerationStatus;
  const message = `status must be one of ${GENERATION_STATUSES.join(', ')}`;
  throw new BadRequestError(ErrorCodes.API_INVALID_QUERY, message, {
    details: [{ code: ErrorCodes.API_INVALID_QUERY, message, field: 'status' }],
  });
}

function parseLimit(limit: string | undefined): number {
  if (limit === undefined) return LIST_LIMIT_DEFAULT;
  const value = /^\d{1,3}$/.test(limit) ? Number(limit) : Number.NaN;
  if (value >= 1 && value <= LIST_LIMIT_MAX) return value;
  const message = `limit must be an integer from 1 to ${LIST_LIMIT_MAX}`;
  throw new BadRequestError(ErrorCodes.API_INVALID_QUERY, message, {
    details: [{ code: ErrorCodes.API_INVALID_QUERY, message, field: 'limit' }],
  });
}

/** Exactly the key attributes of the index (table key, index keys), each a non-empty string. */
function isStartKeyOf(key: PageKey, names: readonly string[]): boolean {
  const given = Object.keys(key);
  return (
    given.length === new Set(names).size &&
    names.every((name) => typeof key[name] === 'string' && key[name] !== '')
  );
}
