/**
 * The local storage servers: a DynamoDB-compatible server (dynalite, LevelDB on disk) and an
 * S3-compatible server (s3rver, files on disk, written through `AtomicFilesystemStore`), both on
 * 127.0.0.1, with the tables and buckets of the synthesized template. Both are kept behind this
 * one adapter so either can be swapped, and both sit behind the same door as AWS's endpoints:
 * every request is SigV4-verified and, when the runtime enforces IAM, authorised
 * (`local/aws/access.ts`) before the server sees it.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
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
import { type CfnTemplate, placeholderName } from '#infra/asl.ts';
import {
  type AccessGate,
  type AuditedAccess,
  checkAccess,
  type DeniedAccess,
} from '#local/aws/access.ts';
import { sendRefusal } from '#local/aws/errors.ts';
import { type AwsCredentials, LocalIdentities } from '#local/aws/identities.ts';
import { s3Accesses } from '#local/aws/s3-requests.ts';
import { splitTarget } from '#local/aws/sigv4.ts';
import { closeServer, listen } from '#local/http/server.ts';
import { asS3SendsIt } from '#local/runtime/s3-events.ts';
import { serveKeysAsNames } from '#local/runtime/s3-requests.ts';
import { sweepPartialWrites } from '#local/runtime/s3-store/durable-files.ts';
import { migrateLegacyLayout } from '#local/runtime/s3-store/legacy-layout.ts';
import { AtomicFilesystemStore } from '#local/runtime/s3-store.ts';

export const LOCAL_REGION = 'us-east-1';

/** S3 notification records, in the shape S3 sends to Lambda (the key URL-encoded). */
export interface S3NotificationEvent {
  readonly Records: ReadonlyArray<Record<string, unknown>>;
}

export interface LocalStorage {
  /** The administrator's credentials: what people, tests and the runtime itself sign with. */
  readonly credentials: AwsCredentials;
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
  /**
   * Who may sign requests (the runtime's identities: the administrator and each role) and the
   * IAM gate. @default the data dir's administrator alone, IAM not enforced
   */
  readonly access?: StorageAccess;
}): Promise<LocalStorage> {
  const host = options.host ?? '127.0.0.1';
  const access = options.access ?? {
    identities: await LocalIdentities.open(options.dataDir, []),
  };
  const dynamo = await startDynamoDbWorker(join(options.dataDir, 'dynamodb'), host, access);
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
  await s3.configureBuckets();
  const s3Server = createServer(s3Front(access, s3.callback()));
  const s3Endpoint = `http://${host}:${await listen(s3Server, 0, host)}`;

  const tables = await createTables(dynamodbEndpoint, options.template, access.identities.admin);
  return {
    credentials: access.identities.admin,
    dynamodbEndpoint,
    s3Endpoint,
    tables,
    buckets,
    dynamodbRequests: () => dynamo.requests(),
    onS3Event(listener) {
      s3.on('event', (event: S3NotificationEvent) => listener(asS3SendsIt(event)));
    },
    async close() {
      // What s3rver's own listen would undo on close: its logger's process-wide handlers.
      s3.logger.exceptions.unhandle();
      s3.logger.close();
      await Promise.allSettled([closeServer(s3Server), dynamo.close()]);
    },
  };
}

/** The DynamoDB-compatible server, on a thread of its own (see dynamodb-worker.ts). */
async function startDynamoDbWorker(
  path: string,
  host: string,
  access: StorageAccess,
): Promise<{ port: number; requests(): Promise<Record<string, number>>; close(): Promise<void> }> {
  const worker = new Worker(new URL('./dynamodb-worker.ts', import.meta.url), {
    workerData: {
      path,
      host,
      identities: access.identities.table(),
      iam: access.iam,
      audit: access.onDecision !== undefined,
    } satisfies DynamoDbWorkerData,
  });
  // The worker reports its IAM refusals; they are logged here, with the S3 endpoint's.
  worker.on('message', (message: { denied?: DeniedAccess; audited?: AuditedAccess }) => {
    if (message.denied) access.onDenied?.(message.denied);
    if (message.audited) access.onDecision?.(message.audited);
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
async function createTables(
  endpoint: string,
  template: CfnTemplate,
  credentials: AwsCredentials,
): Promise<string[]> {
  const client = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials });
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

export interface StorageAccess {
  readonly identities: LocalIdentities;
  /**
   * How the DynamoDB server's thread builds its IAM gate (it cannot be handed a function): the
   * template whose policies it evaluates. Undefined: IAM not enforced.
   */
  readonly iam?: { readonly template: CfnTemplate } | undefined;
  /** The S3 endpoint's gate, built by the runtime from the same template. */
  readonly gate?: AccessGate | undefined;
  readonly onDenied?: (denied: DeniedAccess) => void;
  /** Every decision, for the IAM audit (the DynamoDB thread reports its own to it). */
  readonly onDecision?: ((decided: AuditedAccess) => void) | undefined;
}

/** What the DynamoDB server's thread is started with. */
export interface DynamoDbWorkerData {
  readonly path: string;
  readonly host: string;
  readonly identities: ReturnType<LocalIdentities['table']>;
  readonly iam?: { readonly template: CfnTemplate } | undefined;
  /** Whether to report every decision (`{ audited }` messages). */
  readonly audit: boolean;
}

/**
 * The S3 endpoint: each request verified and authorised, then handed to s3rver with its
 * signature taken off (s3rver checks signatures of its own, with fixed keys, and not all forms).
 */
function s3Front(
  access: StorageAccess,
  s3rver: (request: IncomingMessage, response: ServerResponse) => unknown,
) {
  return async (request: IncomingMessage, response: ServerResponse) => {
    const url = request.url ?? '/';
    const { path, query } = splitTarget(url);
    const result = await checkAccess(
      access,
      { method: request.method ?? 'GET', url, headers: request.headers },
      's3',
      () => s3Accesses(request.method ?? 'GET', path, query, request.headers),
    );
    if (!result.ok) {
      // The body is not read: the answer goes out and the connection closes.
      response.setHeader('connection', 'close');
      sendRefusal(response, 's3', result.refusal);
      return;
    }
    delete request.headers.authorization;
    request.url = withoutSignatureParameters(url);
    s3rver(request, response);
  };
}

const SIGNATURE_PARAMETERS =
  /^x-amz-(algorithm|credential|date|expires|signedheaders|signature|security-token)$/i;

function withoutSignatureParameters(url: string): string {
  const mark = url.indexOf('?');
  if (mark === -1) return url;
  const kept = url
    .slice(mark + 1)
    .split('&')
    .filter(
      (pair) => !SIGNATURE_PARAMETERS.test(Object.keys(splitTarget(`?${pair}`).query)[0] ?? ''),
    );
  return kept.length === 0 ? url.slice(0, mark) : `${url.slice(0, mark)}?${kept.join('&')}`;
}
