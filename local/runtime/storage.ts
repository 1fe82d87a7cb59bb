/**
 * The local storage servers: a DynamoDB-compatible server (dynalite, LevelDB on disk) and an
 * S3-compatible server (s3rver, files on disk, written through `AtomicFilesystemStore`), both on
 * 127.0.0.1, with the tables and buckets of the synthesized template. Both are kept behind this
 * one adapter so either can be swapped.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import {
  type AttributeDefinition,
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  type GlobalSecondaryIndex,
  type KeySchemaElement,
  ResourceInUseException,
} from '@aws-sdk/client-dynamodb';
import S3rver from 's3rver';
import { type CfnTemplate, placeholderName } from '../../infra/asl.ts';
import { asS3SendsIt } from './s3-events.ts';
import { serveKeysAsNames } from './s3-requests.ts';
import { AtomicFilesystemStore, migrateLegacyLayout, sweepPartialWrites } from './s3-store.ts';

/**
 * s3rver's fixed credentials; the local runtime's clients sign with them. A new object on every
 * call: the SDK writes its own bookkeeping (`$source`) into the credentials object it is given, so
 * a shared one would carry it into whatever else reads it (endpoints.json).
 */
export function localCredentials(): { accessKeyId: string; secretAccessKey: string } {
  return { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
}
export const LOCAL_REGION = 'us-east-1';

/** S3 notification records, in the shape S3 sends to Lambda (the key URL-encoded). */
export interface S3NotificationEvent {
  readonly Records: ReadonlyArray<Record<string, unknown>>;
}

export interface LocalStorage {
  readonly dynamodbEndpoint: string;
  readonly s3Endpoint: string;
  readonly tables: readonly string[];
  readonly buckets: readonly string[];
  /** Requests the local DynamoDB has served since it started, by operation (`PutItem` …). */
  dynamodbRequests(): Promise<Record<string, number>>;
  /** Called for every object created or removed, with the event as S3 sends it. */
  onS3Event(listener: (event: S3NotificationEvent) => void): void;
  close(): Promise<void>;
}

export async function startLocalStorage(options: {
  readonly dataDir: string;
  readonly template: CfnTemplate;
  readonly host?: string;
}): Promise<LocalStorage> {
  const host = options.host ?? '127.0.0.1';
  const dynamo = await startDynamoDbWorker(join(options.dataDir, 'dynamodb'), host);
  const dynamodbEndpoint = `http://${host}:${dynamo.port}`;

  const buckets = resourcesOfType(options.template, 'AWS::S3::Bucket').map(([id]) =>
    placeholderName(id, 'AWS::S3::Bucket'),
  );
  const s3Directory = join(options.dataDir, 's3');
  // What a killed server was writing when it died was never answered: dropped.
  await sweepPartialWrites(s3Directory);
  // Objects stored under their keys as paths, by an earlier version, move under their keys' hashes.
  await migrateLegacyLayout(s3Directory);
  const s3 = new S3rver({
    address: host,
    port: 0,
    silent: true,
    directory: s3Directory,
    configureBuckets: buckets.map((name) => ({ name, configs: [] })),
  });
  // An answered PUT is whole on disk, a cut-short one leaves nothing, and a key is a name, never
  // a path (see s3-store.ts and s3-requests.ts).
  const store = new AtomicFilesystemStore(s3Directory);
  s3.store = s3.context.store = store;
  serveKeysAsNames(s3, store);
  const address = (await s3.run()) as AddressInfo;
  const s3Endpoint = `http://${host}:${address.port}`;

  const tables = await createTables(dynamodbEndpoint, options.template);
  return {
    dynamodbEndpoint,
    s3Endpoint,
    tables,
    buckets,
    dynamodbRequests: () => dynamo.requests(),
    onS3Event(listener) {
      s3.on('event', (event: S3NotificationEvent) => listener(asS3SendsIt(event)));
    },
    async close() {
      await Promise.allSettled([s3.close(), dynamo.close()]);
    },
  };
}

/** The DynamoDB-compatible server, on a thread of its own (see dynamodb-worker.ts). */
async function startDynamoDbWorker(
  path: string,
  host: string,
): Promise<{ port: number; requests(): Promise<Record<string, number>>; close(): Promise<void> }> {
  const worker = new Worker(new URL('./dynamodb-worker.ts', import.meta.url), {
    workerData: { path, host },
  });
  const [ready] = (await Promise.race([
    once(worker, 'message'),
    once(worker, 'error').then(([error]) => {
      throw new Error('The local DynamoDB server did not start', { cause: error });
    }),
  ])) as [{ port: number }];
  return {
    port: ready.port,
    async requests() {
      const answered = new Promise<Record<string, number>>((resolve) => {
        const onMessage = (message: { requests?: Record<string, number> }) => {
          if (message.requests === undefined) return;
          worker.off('message', onMessage);
          resolve(message.requests);
        };
        worker.on('message', onMessage);
      });
      worker.postMessage('requests');
      return answered;
    },
    async close() {
      const exited = once(worker, 'exit');
      worker.postMessage('close');
      await exited;
    },
  };
}

function resourcesOfType(template: CfnTemplate, type: string) {
  return Object.entries(template.Resources).filter(([, resource]) => resource.Type === type);
}

/** Creates every table of the template (keys and GSIs), keeping those that already exist. */
async function createTables(endpoint: string, template: CfnTemplate): Promise<string[]> {
  const client = new DynamoDBClient({
    endpoint,
    region: LOCAL_REGION,
    credentials: localCredentials(),
  });
  const names: string[] = [];
  const tables = [
    ...resourcesOfType(template, 'AWS::DynamoDB::GlobalTable'),
    ...resourcesOfType(template, 'AWS::DynamoDB::Table'),
  ];
  try {
    for (const [logicalId, resource] of tables) {
      const properties = resource.Properties as {
        KeySchema: KeySchemaElement[];
        AttributeDefinitions: AttributeDefinition[];
        GlobalSecondaryIndexes?: Array<
          Omit<GlobalSecondaryIndex, 'Projection'> & {
            Projection?: GlobalSecondaryIndex['Projection'];
          }
        >;
      };
      const tableName = placeholderName(logicalId);
      names.push(tableName);
      try {
        await client.send(
          new CreateTableCommand({
            TableName: tableName,
            KeySchema: properties.KeySchema,
            AttributeDefinitions: properties.AttributeDefinitions,
            BillingMode: 'PAY_PER_REQUEST',
            ...(properties.GlobalSecondaryIndexes && {
              GlobalSecondaryIndexes: properties.GlobalSecondaryIndexes.map((index) => ({
                IndexName: index.IndexName,
                KeySchema: index.KeySchema,
                Projection: index.Projection ?? { ProjectionType: 'ALL' },
              })),
            }),
          }),
        );
      } catch (error) {
        if (!(error instanceof ResourceInUseException)) throw error;
      }
    }
    // The server answers CreateTable with the table CREATING and refuses item requests on it
    // until a timer of its own marks it ACTIVE; the runtime's first request must not race it.
    for (const tableName of names) {
      for (;;) {
        const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
        if (Table?.TableStatus === 'ACTIVE') break;
        await setTimeout(5);
      }
    }
  } finally {
    client.destroy();
  }
  return names;
}
