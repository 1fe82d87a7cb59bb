/** The parts of dynalite and s3rver the local runtime uses (neither ships type declarations). */
declare module 'dynalite' {
  import type { Server } from 'node:http';

  interface DynaliteOptions {
    path?: string;
    createTableMs?: number;
    deleteTableMs?: number;
    updateTableMs?: number;
    maxItemSizeKb?: number;
  }
  export default function dynalite(options?: DynaliteOptions): Server;
}

declare module 's3rver' {
  import type { EventEmitter } from 'node:events';
  import type { IncomingMessage, ServerResponse } from 'node:http';
  import type { AddressInfo } from 'node:net';

  interface S3rverOptions {
    address?: string;
    port?: number;
    silent?: boolean;
    directory?: string;
    resetOnClose?: boolean;
    configureBuckets?: Array<{ name: string; configs: unknown[] }>;
  }
  /** A Koa middleware, as s3rver's app runs them (its router's carries `router`). */
  type Middleware = ((...args: never[]) => unknown) & { router?: unknown };
  export default class S3rver extends EventEmitter {
    constructor(options?: S3rverOptions);
    /** Koa's middleware, in the order they run (composed when the server starts). */
    readonly middleware: Middleware[];
    /** The store the server was made with; its request handlers read `context.store`. */
    store: unknown;
    readonly context: { store: unknown };
    run(): Promise<AddressInfo>;
    close(): Promise<void>;
    /** Creates the configured buckets in the store, as `run` does before it listens. */
    configureBuckets(): Promise<void>;
    /** The request listener (Koa's), for a server the caller runs. */
    callback(): (request: IncomingMessage, response: ServerResponse) => unknown;
    readonly logger: { readonly exceptions: { unhandle(): void }; close(): void };
  }
}

declare module 's3rver/lib/stores/filesystem.js' {
  import type { Readable } from 'node:stream';

  /** An object on its way into the store (s3rver's S3Object). */
  export interface StoredObject {
    readonly bucket: string;
    readonly key: string;
    readonly content: Readable | Buffer;
    readonly metadata: Record<string, unknown>;
  }
  export default class FilesystemStore {
    constructor(rootDirectory: string);
    /** A key from its path under the bucket (a no-op but on Windows). */
    static decodeKeyPath(keyPath: string): string;
    readonly rootDirectory: string;
    getBucketPath(bucket: string): string;
    getBucket(bucket: string): Promise<{ name: string; creationDate: Date } | null>;
    deleteBucket(bucket: string): Promise<void>;
    reset(): void;
    getResourcePath(bucket: string, key: string | undefined, resource: string): string;
    listObjects(
      bucket: string,
      options: { delimiter?: string; startAfter?: string; prefix?: string; maxKeys?: number },
    ): Promise<{
      objects: import('s3rver/lib/models/object.js').default[];
      commonPrefixes: string[];
      isTruncated: boolean;
    }>;
    deleteObject(bucket: string, key: string): Promise<void>;
    initiateUpload(
      bucket: string,
      key: string,
      uploadId: string,
      metadata: Record<string, unknown>,
    ): Promise<void>;
    putObjectMultipart(
      bucket: string,
      uploadId: string,
      parts: ReadonlyArray<{ readonly number: number; readonly etag: string }>,
    ): Promise<{ size: number; md5: string }>;
    getMetadata(bucket: string, key: string): Promise<Record<string, unknown>>;
    putMetadata(
      bucket: string,
      key: string,
      metadata: Record<string, unknown>,
      md5?: string,
    ): Promise<void>;
    putObject(object: StoredObject): Promise<{ size: number; md5: string }>;
    putPart(
      bucket: string,
      uploadId: string,
      partNumber: number | string,
      content: Readable,
    ): Promise<{ size: number; md5: string }>;
    copyObject(
      srcBucket: string,
      srcKey: string,
      destBucket: string,
      destKey: string,
      replacementMetadata?: Record<string, unknown>,
    ): Promise<Record<string, unknown>>;
  }
}

declare module 's3rver/lib/models/error.js' {
  /** An error s3rver answers with its S3 code and status (400 for BadDigest, IncompleteBody). */
  export default class S3Error extends Error {
    constructor(code: string, message: string, detail?: Record<string, string>);
    readonly code: string;
    readonly status: number;
  }
}

declare module 's3rver/lib/models/object.js' {
  /** An object as s3rver hands it around: its metadata holds `etag`, `last-modified`, … */
  export default class S3Object {
    constructor(bucket: string, key: string, content: unknown, metadata: Record<string, unknown>);
    readonly bucket: string;
    readonly key: string;
    readonly metadata: Record<string, unknown>;
    readonly size: number;
    readonly lastModifiedDate: Date;
  }
}

declare module 's3rver/lib/models/account.js' {
  /** The one account s3rver knows, which owns every object. */
  export const DUMMY_ACCOUNT: { readonly id: string; readonly displayName: string };
}

declare module 's3rver/lib/controllers/bucket.js' {
  /** The query parameters that name a bucket's subresource (`cors`, `uploads`, `versions` …). */
  export const METHODS: readonly string[];
}

/**
 * dynalite's internals that the local TransactWriteItems reuses (`local/runtime/dynamodb-transactions.ts`):
 * its store, its request validators and expression parsers, and its single-item actions.
 */
declare module 'dynalite/db/index.js' {
  /** An attribute map as DynamoDB's JSON carries it (`{ name: { S: '…' } }`). */
  type Item = Record<string, Record<string, unknown>>;
  /** An error dynalite answers with: its HTTP status and JSON body. */
  interface DynaliteError extends Error {
    statusCode?: number;
    body?: { __type: string; message: string };
  }
  type Callback<T = void> = (error: DynaliteError | null | undefined, value?: T) => void;
  interface SubDb {
    get(key: string, callback: Callback<Item>): void;
    /** Runs `exec` once `key` is free; `release(done)` wraps `done` to free it first. */
    lock(
      key: string,
      exec: (release: <F extends (...args: never[]) => void>(done: F) => F) => void,
    ): void;
  }
  interface IndexDescription {
    readonly IndexName: string;
    readonly KeySchema: ReadonlyArray<{ AttributeName: string; KeyType: string }>;
    readonly Projection: { ProjectionType: string; NonKeyAttributes?: string[] };
  }
  interface TableDescription {
    readonly TableName: string;
    readonly KeySchema: ReadonlyArray<{ AttributeName: string; KeyType: string }>;
    readonly LocalSecondaryIndexes?: readonly IndexDescription[];
    readonly GlobalSecondaryIndexes?: readonly IndexDescription[];
  }
  interface Store {
    readonly options: { maxItemSize: number };
    /** The LevelDB every table, index and item lives in (keys prefixed by their sub-database). */
    readonly db: {
      batch(
        operations: ReadonlyArray<
          { type: 'put'; key: string; value: unknown } | { type: 'del'; key: string }
        >,
        callback: Callback,
      ): void;
    };
    getTable(name: string, checkStatus: boolean, callback: Callback<TableDescription>): void;
    getItemDb(tableName: string): SubDb;
  }
  interface IndexAction {
    readonly index: string;
    readonly key: string;
    readonly item?: Item;
  }
  const db: {
    create(options: unknown): Store;
    validateKey(key: Item, table: TableDescription): DynaliteError | undefined;
    validateItem(item: Item, table: TableDescription): DynaliteError | undefined;
    validateUpdates(
      attributeUpdates: undefined,
      expressionUpdates: unknown,
      table: TableDescription,
    ): DynaliteError | undefined;
    createKey(item: Item, table: TableDescription): string;
    checkConditional(
      data: object,
      existingItem: Item | undefined,
    ): DynaliteError | null | undefined;
    getIndexActions(
      indexes: readonly IndexDescription[],
      existingItem: Item | undefined,
      item: Item | undefined,
      table: TableDescription,
    ): { puts: IndexAction[]; deletes: IndexAction[] };
  };

  export type { Callback, DynaliteError, Item, Store, TableDescription };
  export default db;
}

declare module 'dynalite/validations/index.js' {
  import type { Store } from 'dynalite/db/index.js';

  /** An operation's request shape and its own checks, as `validations/<operation>.js` exports them. */
  interface OperationValidation {
    readonly types: Record<string, unknown>;
    readonly custom?: (data: Record<string, unknown>, store: Store) => string | undefined;
  }
  const validations: {
    /** The request's fields cast to their types (unknown ones dropped); throws SerializationException. */
    checkTypes(
      data: Record<string, unknown>,
      types: OperationValidation['types'],
    ): Record<string, unknown>;
    /** Throws ValidationException; parses expressions into `_condition`, `_updates`. */
    checkValidations(
      data: Record<string, unknown>,
      types: OperationValidation['types'],
      custom: OperationValidation['custom'],
      store: Store,
    ): void;
  };

  export type { OperationValidation };
  export default validations;
}

declare module 'dynalite/validations/putItem.js' {
  const validation: import('dynalite/validations/index.js').OperationValidation;
  export default validation;
}
declare module 'dynalite/validations/updateItem.js' {
  const validation: import('dynalite/validations/index.js').OperationValidation;
  export default validation;
}
declare module 'dynalite/validations/deleteItem.js' {
  const validation: import('dynalite/validations/index.js').OperationValidation;
  export default validation;
}

declare module 'dynalite/actions/updateItem.js' {
  import type { Callback, Store } from 'dynalite/db/index.js';

  /** UpdateItem on `store`: reads the item, checks the condition, applies the expression, writes. */
  export default function updateItem(store: Store, data: object, callback: Callback<object>): void;
}
