/**
 * DynamoDB's TransactWriteItems for dynalite, which has none: up to 100 Put, Update, Delete and
 * ConditionCheck items, on one or more tables, all applied or none.
 *
 * Each item is parsed and validated by dynalite's own validators for the single-item operation
 * (so expressions, keys and item sizes are refused as PutItem, UpdateItem and DeleteItem refuse
 * them), and an Update's new image is computed by dynalite's own UpdateItem run against the item
 * read here (`stagedUpdate`). The items are locked with dynalite's per-item locks, which its own
 * PutItem, UpdateItem, DeleteItem and BatchWriteItem take too: no write interleaves with a
 * transaction, while reads, and writes to other items, go on. The locks are taken one after
 * another in one global order (table, then key), so two transactions never wait on each other.
 * Every condition is evaluated before anything is written; the writes (items and their index
 * entries) then go to LevelDB in one batch, which is atomic: a transaction is never seen, nor
 * left by an error or a crash, half applied, so there is nothing to roll back.
 *
 * Not modelled: `ClientRequestToken` is accepted and ignored (AWS answers a retry within ten
 * minutes with the first outcome; here a retried transaction runs again, its conditions decide);
 * no consumed capacity or item collection metrics are returned; the 4 MB aggregate size limit is
 * not checked (each item's 400 KB is); and there are no transaction conflicts with concurrent
 * transactions (they wait for each other instead).
 */

import updateItem from 'dynalite/actions/updateItem.js';
import db, {
  type DynaliteError,
  type Item,
  type Store,
  type TableDescription,
} from 'dynalite/db/index.js';
import deleteItemValidation from 'dynalite/validations/deleteItem.js';
import validations, { type OperationValidation } from 'dynalite/validations/index.js';
import putItemValidation from 'dynalite/validations/putItem.js';
import updateItemValidation from 'dynalite/validations/updateItem.js';

/** An answer to send: HTTP status and JSON body (errors carry `__type`). */
export interface TransactionAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

const MAX_ITEMS = 100;
const SERVICE = 'com.amazonaws.dynamodb.v20120810';

type Kind = 'Put' | 'Update' | 'Delete' | 'ConditionCheck';

/** The fields of each kind of item and the single-item operation whose validator checks them. */
const KINDS: Record<Kind, { fields: readonly string[]; validation: OperationValidation }> = {
  Put: { fields: ['Item'], validation: putItemValidation },
  Update: { fields: ['Key', 'UpdateExpression'], validation: updateItemValidation },
  Delete: { fields: ['Key'], validation: deleteItemValidation },
  ConditionCheck: { fields: ['Key'], validation: deleteItemValidation },
};
const COMMON_FIELDS = [
  'TableName',
  'ConditionExpression',
  'ExpressionAttributeNames',
  'ExpressionAttributeValues',
];

interface Operation {
  readonly kind: Kind;
  /** The validated request, with dynalite's parsed `_condition` and `_updates`. */
  readonly data: Record<string, unknown> & { TableName: string };
  readonly table: TableDescription;
  readonly key: string;
  readonly returnOldOnFailure: boolean;
}

interface CancellationReason {
  readonly Code: string;
  readonly Message?: string;
  readonly Item?: Item;
}

/** Answers a TransactWriteItems request (its parsed JSON body) against dynalite's store. */
export async function transactWriteItems(store: Store, input: unknown): Promise<TransactionAnswer> {
  let operations: Operation[];
  try {
    operations = await parseOperations(store, input);
  } catch (error) {
    const answer = asAnswer(error);
    if (answer) return answer;
    throw error;
  }
  const release = await lockItems(store, operations);
  try {
    const olds = await Promise.all(operations.map((operation) => readItem(store, operation)));
    const evaluated = await Promise.all(
      operations.map((operation, index) => evaluate(store, operation, olds[index])),
    );
    const reasons = evaluated.map((outcome) => outcome.reason);
    if (reasons.some((reason) => reason.Code !== 'None')) {
      const codes = reasons.map((reason) => reason.Code).join(', ');
      return {
        status: 400,
        body: {
          __type: `${SERVICE}#TransactionCanceledException`,
          Message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${codes}]`,
          CancellationReasons: reasons,
        },
      };
    }
    await writeAll(
      store,
      operations.map((operation, index) => ({
        operation,
        old: olds[index],
        next: (evaluated[index] as Evaluated).next,
      })),
    );
    return { status: 200, body: {} };
  } finally {
    release();
  }
}

/** Validates the request as AWS does before it reads anything: shape, items, keys, duplicates. */
async function parseOperations(store: Store, input: unknown): Promise<Operation[]> {
  const items = (input as { TransactItems?: unknown } | null)?.TransactItems;
  if (!Array.isArray(items)) {
    throw validationError(
      "1 validation error detected: Value null at 'transactItems' failed to satisfy constraint: Member must not be null",
    );
  }
  if (items.length < 1 || items.length > MAX_ITEMS) {
    const bound =
      items.length < 1 ? 'greater than or equal to 1' : `less than or equal to ${MAX_ITEMS}`;
    throw validationError(
      `1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length ${bound}`,
    );
  }
  const operations: Operation[] = [];
  const seen = new Set<string>();
  for (const [index, item] of items.entries()) {
    const operation = await parseOperation(store, item, index);
    const identity = `${operation.data.TableName}\u0000${operation.key}`;
    if (seen.has(identity)) {
      throw validationError('Transaction request cannot include multiple operations on one item');
    }
    seen.add(identity);
    operations.push(operation);
  }
  return operations;
}

async function parseOperation(store: Store, item: unknown, index: number): Promise<Operation> {
  const present = Object.entries((item ?? {}) as Record<string, unknown>).filter(
    ([name, value]) => name in KINDS && value != null,
  );
  const [entry] = present;
  if (present.length !== 1 || entry === undefined || typeof entry[1] !== 'object') {
    throw validationError('TransactItems can only contain one of Check, Put, Update or Delete');
  }
  const kind = entry[0] as Kind;
  const request = entry[1] as Record<string, unknown>;
  const { fields, validation } = KINDS[kind];
  const required = kind === 'ConditionCheck' ? [...fields, 'ConditionExpression'] : fields;
  for (const field of ['TableName', ...required]) {
    if (request[field] == null) {
      const path = `transactItems.${index + 1}.member.${lowerFirst(kind)}.${lowerFirst(field)}`;
      throw validationError(
        `1 validation error detected: Value null at '${path}' failed to satisfy constraint: Member must not be null`,
      );
    }
  }
  const onFailure = request.ReturnValuesOnConditionCheckFailure;
  if (onFailure != null && onFailure !== 'ALL_OLD' && onFailure !== 'NONE') {
    const path = `transactItems.${index + 1}.member.${lowerFirst(kind)}.returnValuesOnConditionCheckFailure`;
    throw validationError(
      `1 validation error detected: Value '${String(onFailure)}' at '${path}' failed to satisfy constraint: Member must satisfy enum value set: [ALL_OLD, NONE]`,
    );
  }
  // Only the fields a transaction item has: dynalite's validators also know UpdateItem's
  // `ReturnValues`, `Expected`…, which a transaction item does not.
  const picked: Record<string, unknown> = {};
  for (const field of [...COMMON_FIELDS, ...fields]) {
    if (request[field] != null) picked[field] = request[field];
  }
  const data = validations.checkTypes(picked, validation.types) as Operation['data'];
  validations.checkValidations(data, validation.types, validation.custom, store);
  const table = await new Promise<TableDescription>((resolve, reject) =>
    store.getTable(data.TableName, false, (error, found) =>
      error || !found ? reject(error) : resolve(found),
    ),
  );
  const keyItem = (kind === 'Put' ? data.Item : data.Key) as Item;
  const invalid =
    kind === 'Put'
      ? db.validateItem(keyItem, table)
      : (db.validateKey(keyItem, table) ??
        (kind === 'Update' ? db.validateUpdates(undefined, data._updates, table) : undefined));
  if (invalid) throw invalid;
  return {
    kind,
    data,
    table,
    key: db.createKey(keyItem, table),
    returnOldOnFailure: onFailure === 'ALL_OLD',
  };
}

/**
 * Takes dynalite's lock of every item, one after another in one order for all transactions
 * (table name, then key), so that two transactions never each hold what the other waits for.
 * Resolves to the function that releases them all.
 */
async function lockItems(store: Store, operations: readonly Operation[]): Promise<() => void> {
  const ordered = [...operations].sort((a, b) =>
    a.data.TableName === b.data.TableName
      ? compare(a.key, b.key)
      : compare(a.data.TableName, b.data.TableName),
  );
  const releases: Array<() => void> = [];
  for (const operation of ordered) {
    releases.push(
      await new Promise<() => void>((resolve) =>
        store
          .getItemDb(operation.data.TableName)
          .lock(operation.key, (release) => resolve(release(() => {}))),
      ),
    );
  }
  return () => {
    for (const release of releases.reverse()) release();
  };
}

function readItem(store: Store, operation: Operation): Promise<Item | undefined> {
  return new Promise((resolve, reject) =>
    store.getItemDb(operation.data.TableName).get(operation.key, (error, item) => {
      if (error && error.name !== 'NotFoundError') reject(error);
      else resolve(error ? undefined : item);
    }),
  );
}

interface Evaluated {
  readonly reason: CancellationReason;
  /** The item after this operation (undefined: deleted, or left as it is by a check). */
  readonly next?: Item | undefined;
}

/** Whether the operation's condition holds on the item as it is, and the item it would leave. */
async function evaluate(
  store: Store,
  operation: Operation,
  old: Item | undefined,
): Promise<Evaluated> {
  const failure = (error: DynaliteError): Evaluated => {
    if (error.body?.__type.endsWith('#ConditionalCheckFailedException')) {
      return {
        reason: {
          Code: 'ConditionalCheckFailed',
          Message: 'The conditional request failed',
          ...(operation.returnOldOnFailure && old !== undefined && { Item: old }),
        },
      };
    }
    // What only the item's data can refuse (an operand of the wrong type, an item grown past
    // 400 KB): AWS cancels the transaction with this reason rather than failing the request.
    if (error.body?.__type.endsWith('#ValidationException')) {
      return { reason: { Code: 'ValidationError', Message: error.body.message } };
    }
    throw error;
  };
  if (operation.kind === 'Update') {
    const staged = await stagedUpdate(store, operation, old);
    return 'error' in staged
      ? failure(staged.error)
      : { reason: { Code: 'None' }, next: staged.item };
  }
  const refused = db.checkConditional(operation.data, old);
  if (refused) return failure(refused);
  return {
    reason: { Code: 'None' },
    next: operation.kind === 'Put' ? (operation.data.Item as Item) : undefined,
  };
}

/**
 * The item an Update would leave, computed by dynalite's own UpdateItem (its condition check,
 * update expression and size limit) against `old`, in a store of that one item that writes
 * nothing.
 */
function stagedUpdate(
  store: Store,
  operation: Operation,
  old: Item | undefined,
): Promise<{ item: Item } | { error: DynaliteError }> {
  return new Promise((resolve) => {
    let written: Item | undefined;
    const notFound = Object.assign(new Error('NotFound'), { name: 'NotFoundError' });
    const itemDb = {
      lock: (_key: string, exec: (release: (done: unknown) => unknown) => void) =>
        exec((done) => done),
      get: (_key: string, callback: (error: Error | null, item?: Item) => void) =>
        old === undefined ? callback(notFound) : callback(null, structuredClone(old)),
      put: (_key: string, item: Item, callback: (error: null) => void) => {
        written = item;
        callback(null);
      },
    };
    const staging = {
      options: store.options,
      getTable: (_name: string, callback: (error: null, table: TableDescription) => void) =>
        callback(null, operation.table),
      getItemDb: () => itemDb,
      // Index entries are written with the items, in `writeAll`.
      getIndexDb: () => ({
        put: (_key: string, _item: unknown, callback: () => void) => callback(),
        del: (_key: string, callback: () => void) => callback(),
      }),
    } as unknown as Store;
    updateItem(staging, operation.data, (error) => {
      if (error) resolve({ error });
      else if (written === undefined) resolve({ error: new Error('UpdateItem wrote nothing') });
      else resolve({ item: written });
    });
  });
}

/**
 * Writes every item and its index entries in one LevelDB batch: all or nothing, even if the
 * process dies. The keys are those of dynalite's sub-databases (`item-<table>~<key>`,
 * `index-<local|global>~<table>~<index>~<key>`, see its `db/index.js`); index entries are
 * removed before they are written, as its `updateIndexes` does.
 */
function writeAll(
  store: Store,
  writes: ReadonlyArray<{ operation: Operation; old: Item | undefined; next: Item | undefined }>,
): Promise<void> {
  type BatchOperation = Parameters<Store['db']['batch']>[0][number];
  const deletes: BatchOperation[] = [];
  const puts: BatchOperation[] = [];
  for (const { operation, old, next } of writes) {
    if (operation.kind === 'ConditionCheck') continue;
    const { table } = operation;
    const itemKey = `item-${table.TableName}~${operation.key}`;
    if (next === undefined) deletes.push({ type: 'del', key: itemKey });
    else puts.push({ type: 'put', key: itemKey, value: next });
    for (const type of ['Local', 'Global'] as const) {
      const indexes = table[`${type}SecondaryIndexes`] ?? [];
      const actions = db.getIndexActions(indexes, old, next, table);
      const prefix = (index: string) => `index-${type.toLowerCase()}~${table.TableName}~${index}~`;
      for (const action of actions.deletes) {
        deletes.push({ type: 'del', key: `${prefix(action.index)}${action.key}` });
      }
      for (const action of actions.puts) {
        puts.push({ type: 'put', key: `${prefix(action.index)}${action.key}`, value: action.item });
      }
    }
  }
  return new Promise((resolve, reject) =>
    store.db.batch([...deletes, ...puts], (error) => (error ? reject(error) : resolve())),
  );
}

function validationError(message: string): DynaliteError {
  return Object.assign(new Error(message), {
    statusCode: 400,
    body: { __type: 'com.amazon.coral.validate#ValidationException', message },
  });
}

/** dynalite's refusals (validation, a missing table) as answers; anything else is a failure. */
function asAnswer(error: unknown): TransactionAnswer | undefined {
  const refused = error as DynaliteError;
  return refused?.statusCode && refused.body
    ? { status: refused.statusCode, body: refused.body }
    : undefined;
}

function lowerFirst(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
