/**
 * The query of every list route (`status`, `limit`, `cursor`) checked the one way: a status of
 * the resource's statuses, a limit within bounds, and a cursor that verifies for this owner and
 * query and holds exactly a position of the index read.
 */
import { ErrorCodes } from '#shared/errors/codes.ts';
import type { CursorCodec, PageKey } from './cursor.ts';
import { BadRequestError } from './errors.ts';
import { LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX } from './limits.ts';

/** The list query as it arrives (text); the use case checks it. */
export interface ListQuery {
  readonly status?: string;
  readonly limit?: string;
  readonly cursor?: string;
}

export function parseStatus<S extends string>(
  status: string | undefined,
  statuses: readonly S[],
): S | undefined {
  if (status === undefined) return undefined;
  if ((statuses as readonly string[]).includes(status)) return status as S;
  throw invalidQuery('status', `status must be one of ${statuses.join(', ')}`);
}

export function parseLimit(limit: string | undefined): number {
  if (limit === undefined) return LIST_LIMIT_DEFAULT;
  const value = /^\d{1,3}$/.test(limit) ? Number(limit) : Number.NaN;
  if (value >= 1 && value <= LIST_LIMIT_MAX) return value;
  throw invalidQuery('limit', `limit must be an integer from 1 to ${LIST_LIMIT_MAX}`);
}

/**
 * The start key a cursor holds, checked against the index it must be a position of: its key
 * attributes exactly (`keyNames`), each a non-empty string, and the partition being read. A
 * cursor that verifies may still not be a position of this index (one signed with a leaked
 * secret, or by an older version): DynamoDB answers a start key of another shape with a
 * ValidationException, which would be a 500.
 */
export function startKeyOf(
  cursors: CursorCodec,
  cursor: string | undefined,
  scope: { readonly owner: string; readonly query: string },
  index: {
    readonly keyNames: readonly string[];
    readonly partitionKey: string;
    readonly partition: string;
  },
): PageKey | undefined {
  if (cursor === undefined) return undefined;
  const key = cursors.decode(scope.owner, scope.query, cursor);
  if (
    key === undefined ||
    key[index.partitionKey] !== index.partition ||
    !isStartKeyOf(key, index.keyNames)
  ) {
    throw invalidQuery(
      'cursor',
      'cursor is not valid for this query; use the nextCursor of the previous page unchanged',
      'invalid cursor',
    );
  }
  return key;
}

/** Exactly the key attributes of the index (table key, index keys), each a non-empty string. */
function isStartKeyOf(key: PageKey, names: readonly string[]): boolean {
  const given = Object.keys(key);
  return (
    given.length === new Set(names).size &&
    names.every((name) => typeof key[name] === 'string' && key[name] !== '')
  );
}

export function invalidQuery(field: string, message: string, detail = message): BadRequestError {
  return new BadRequestError(ErrorCodes.API_INVALID_QUERY, message, {
    details: [{ code: ErrorCodes.API_INVALID_QUERY, message: detail, field }],
  });
}

/**
 * Where the next page starts: after the page's last item when the read found one item more than
 * the page (so the last page has no cursor), or where DynamoDB stopped early (its 1 MB read).
 */
export function nextKeyOf<T>(
  items: readonly T[],
  limit: number,
  lastEvaluatedKey: PageKey | undefined,
  keyOf: (last: T) => PageKey,
): PageKey | undefined {
  const last = items.slice(0, limit).at(-1);
  if (items.length > limit && last !== undefined) return keyOf(last);
  return lastEvaluatedKey;
}

/** An index of an owner's items, or of an owner's items of one status, newest first. */
export interface OwnerIndex<S extends string, T extends OwnerIndexItem> {
  /** The statuses a query may ask for. */
  readonly statuses: readonly S[];
  /** What a cursor of the query for this status is good for. */
  readonly scopeOf: (status: S | undefined) => string;
  /** The table's key, the first attribute of every start key. */
  readonly tableKey: string;
  readonly indexOf: (status: S | undefined) => {
    readonly partitionKey: string;
    readonly sortKey: string;
  };
  /** The partition of that index holding the owner's items (of that status). */
  readonly partitionOf: (owner: string, status: S | undefined) => string;
  /** One read of the index: up to `limit` items and one more, which tells a next page exists. */
  readonly read: (query: {
    readonly owner: string;
    readonly status?: S;
    readonly limit: number;
    readonly startKey?: PageKey;
  }) => Promise<{ readonly items: T[]; readonly lastEvaluatedKey?: PageKey }>;
}

/** What an owner index sorts and keys its items by. */
export interface OwnerIndexItem {
  readonly id: string;
  readonly createdAt: string;
}

/**
 * One page of an owner index for a list query (checked here: status, limit, then cursor): at
 * most `limit` items, and the signed cursor of the next page when there is one.
 */
export async function readOwnerIndexPage<S extends string, T extends OwnerIndexItem>(
  cursors: CursorCodec,
  ownerIndex: OwnerIndex<S, T>,
  owner: string,
  query: ListQuery,
): Promise<{ readonly items: T[]; readonly nextCursor?: string }> {
  const status = parseStatus(query.status, ownerIndex.statuses);
  const limit = parseLimit(query.limit);
  const scope = ownerIndex.scopeOf(status);
  const index = ownerIndex.indexOf(status);
  const partition = ownerIndex.partitionOf(owner, status);
  const startKey = startKeyOf(
    cursors,
    query.cursor,
    { owner, query: scope },
    {
      keyNames: [ownerIndex.tableKey, index.partitionKey, index.sortKey],
      partitionKey: index.partitionKey,
      partition,
    },
  );
  const page = await ownerIndex.read({
    owner,
    ...(status !== undefined && { status }),
    limit,
    ...(startKey !== undefined && { startKey }),
  });
  const nextKey = nextKeyOf(page.items, limit, page.lastEvaluatedKey, (last) => ({
    [ownerIndex.tableKey]: last.id,
    [index.partitionKey]: partition,
    [index.sortKey]: last.createdAt,
  }));
  return {
    items: page.items.slice(0, limit),
    ...(nextKey !== undefined && { nextCursor: cursors.encode(owner, scope, nextKey) }),
  };
}
