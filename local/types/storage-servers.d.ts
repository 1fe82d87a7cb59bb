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
  export default class S3rver extends EventEmitter {
    constructor(options?: S3rverOptions);
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
    readonly rootDirectory: string;
    getResourcePath(bucket: string, key: string | undefined, resource: string): string;
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
