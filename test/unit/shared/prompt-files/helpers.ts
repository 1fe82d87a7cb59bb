/** Test doubles for the prompt-file trigger: S3 bodies, S3 events, mocked S3 and Step Functions. */
import { Readable } from 'node:stream';
import {
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { S3Event } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import type { AcceptedLine, BatchLedger } from '#shared/batches/ledger.ts';
import { type BatchStatus, batchIdOfFile } from '#shared/batches/model.ts';
import type { ReadingProgress } from '#shared/batches/repository.ts';
import type { WorkflowInput } from '#shared/generation/workflow-input.ts';
import type { CodedError } from '#shared/prompt-files/parser.ts';
import type { PromptFileDeps } from '#shared/prompt-files/processor.ts';
import type { PromptFileReport } from '#shared/prompt-files/report.ts';

export const BUCKET = 'input-bucket';
export const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:generation';
/** The owners the fake key store knows a key for. */
export const OWNERS_WITH_KEYS: ReadonlySet<string> = new Set(['alice']);

export function bytesOf(content: string | Uint8Array): Buffer {
  return typeof content === 'string' ? Buffer.from(content, 'utf8') : Buffer.from(content);
}

/** A byte stream served in chunks of `chunkSize`, as the SDK's GetObject body is. */
export function chunked(content: string | Uint8Array, chunkSize = 16 * 1024): Readable {
  const bytes = bytesOf(content);
  const chunks: Buffer[] = [];
  for (let start = 0; start < bytes.length; start += chunkSize) {
    chunks.push(bytes.subarray(start, start + chunkSize));
  }
  return Readable.from(chunks, { objectMode: false });
}

/** A GetObject body: a real Readable with the SDK's stream mixin methods. */
export function sdkBody(
  content: string | Uint8Array,
  chunkSize?: number,
): NonNullable<GetObjectCommandOutput['Body']> {
  const stream = chunked(content, chunkSize);
  const bytes = bytesOf(content);
  const body = Object.assign(stream, {
    transformToByteArray: async () => new Uint8Array(bytes),
    transformToString: async (encoding?: BufferEncoding) => bytes.toString(encoding ?? 'utf8'),
    transformToWebStream: () => Readable.toWeb(chunked(content, chunkSize)),
  });
  // In Node the SDK's body is an IncomingMessage; the code under test only reads it as a stream.
  return body as unknown as NonNullable<GetObjectCommandOutput['Body']>;
}

/** An error shaped as the SDK raises service errors. */
export function awsError(name: string, httpStatusCode: number, message = name): Error {
  return Object.assign(new Error(message), {
    name,
    $fault: httpStatusCode >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode },
  });
}

export interface EventRecordSpec {
  readonly key: string;
  readonly bucket?: string;
  readonly versionId?: string;
  readonly eventName?: string;
  readonly sequencer?: string;
}

/** An S3 notification; keys are URL-encoded as S3 sends them. */
export function s3Event(...records: EventRecordSpec[]): S3Event {
  return {
    Records: records.map((record) => ({
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      awsRegion: 'us-east-1',
      eventTime: '2025-01-01T00:00:00.000Z',
      eventName: record.eventName ?? 'ObjectCreated:Put',
      userIdentity: { principalId: 'EXAMPLE' },
      requestParameters: { sourceIPAddress: '127.0.0.1' },
      responseElements: { 'x-amz-request-id': 'r', 'x-amz-id-2': 'i' },
      s3: {
        s3SchemaVersion: '1.0',
        configurationId: 'prompt-files',
        bucket: {
          name: record.bucket ?? BUCKET,
          ownerIdentity: { principalId: 'EXAMPLE' },
          arn: `arn:aws:s3:::${record.bucket ?? BUCKET}`,
        },
        object: {
          key: encodeURIComponent(record.key).replace(/%2F/g, '/').replace(/%20/g, '+'),
          size: 1,
          eTag: 'event-etag-is-not-trusted',
          sequencer: record.sequencer ?? '0055AED6DCD90281E5',
          ...(record.versionId !== undefined && { versionId: record.versionId }),
        },
      },
    })),
  };
}

export interface StoredFile {
  readonly content: string | Uint8Array;
  readonly etag?: string;
  readonly versionId?: string;
  /** Overrides the size HeadObject answers. */
  readonly contentLength?: number;
  readonly chunkSize?: number;
}

/**
 * Mocked S3 and Step Functions clients, with a small in-memory bucket: `put` makes HeadObject and
 * GetObject answer for a key (a fresh stream each call), PutObject calls are kept as reports.
 */
export function mockAws() {
  const s3 = new S3Client({ region: 'us-east-1' });
  const sfn = new SFNClient({ region: 'us-east-1' });
  const s3Mock = mockClient(s3);
  const sfnMock = mockClient(sfn);
  sfnMock
    .on(StartExecutionCommand)
    .resolves({ executionArn: 'arn:execution', startDate: new Date() });
  s3Mock.on(PutObjectCommand).resolves({});
  s3Mock.on(HeadObjectCommand).rejects(awsError('NotFound', 404));
  s3Mock.on(GetObjectCommand).rejects(awsError('NoSuchKey', 404));

  const put = (key: string, file: StoredFile) => {
    const bytes = bytesOf(file.content);
    const etag = `"${file.etag ?? 'etag-1'}"`;
    s3Mock.on(HeadObjectCommand, { Bucket: BUCKET, Key: key }).resolves({
      ETag: etag,
      ContentLength: file.contentLength ?? bytes.length,
      ...(file.versionId !== undefined && { VersionId: file.versionId }),
    });
    s3Mock
      .on(GetObjectCommand, { Bucket: BUCKET, Key: key })
      .callsFake(async () => ({ Body: sdkBody(bytes, file.chunkSize), ETag: etag }));
  };

  const deps = (overrides: Partial<PromptFileDeps> = {}): PromptFileDeps => ({
    s3,
    sfn,
    ledger: memoryLedger(),
    stateMachineArn: STATE_MACHINE_ARN,
    defaultOwner: 'default',
    ownerHasApiKey: async (owner) => OWNERS_WITH_KEYS.has(owner),
    maxBytes: 50 * 1024 * 1024,
    maxLines: 50_000,
    now: () => new Date('2025-01-02T03:04:05.000Z'),
    sleep: async () => {},
    ...overrides,
  });

  /** Every report written, by key, the last write winning. */
  const reports = (): Map<string, PromptFileReport> =>
    new Map(
      s3Mock
        .commandCalls(PutObjectCommand)
        .map((call) => [
          String(call.args[0].input.Key),
          JSON.parse(String(call.args[0].input.Body)) as PromptFileReport,
        ]),
    );

  const reportOf = (key: string): PromptFileReport => {
    const report = reports().get(`reports/${key}.json`);
    if (!report) throw new Error(`no report written for ${key}`);
    return report;
  };

  /** Every StartExecution call: its name and its parsed input. */
  const starts = () =>
    sfnMock.commandCalls(StartExecutionCommand).map((call) => ({
      name: String(call.args[0].input.name),
      stateMachineArn: call.args[0].input.stateMachineArn,
      input: JSON.parse(String(call.args[0].input.input)) as WorkflowInput & { id: string },
    }));

  return { s3, sfn, s3Mock, sfnMock, put, deps, reports, reportOf, starts };
}

/** A clock whose sleeps pass at once and move it on: paced code runs at full speed, timed. */
export function virtualClock() {
  let nowMs = 0;
  const sleeps: number[] = [];
  return {
    now: () => nowMs,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      nowMs += ms;
    },
    sleeps,
  };
}

/**
 * A batch ledger in memory: what the trigger told each batch. `status` is what the batch answers
 * (set it to `cancelled` to cancel); `refuse` makes `open` refuse the file.
 */
export function memoryLedger(options: { refuse?: CodedError } = {}) {
  const batches = new Map<
    string,
    {
      status: BatchStatus;
      lines: AcceptedLine[];
      progress: ReadingProgress[];
      finished?: Omit<ReadingProgress, 'read'>;
    }
  >();
  const ledger: BatchLedger & { batches: typeof batches; cancelAfterLines?: number } = {
    batches,
    async open({ file }) {
      if (options.refuse) return { refused: options.refuse };
      const id = batchIdOfFile(file);
      const batch = batches.get(id) ?? {
        status: 'validating' as BatchStatus,
        lines: [],
        progress: [],
      };
      batches.set(id, batch);
      return { batchId: id, status: batch.status };
    },
    async lineAccepted(line) {
      const batch = batches.get(line.batchId);
      if (!batch) throw new Error(`no batch ${line.batchId}`);
      if (batch.lines.some((known) => known.id === line.id)) return false;
      batch.lines.push(line);
      if (ledger.cancelAfterLines !== undefined && batch.lines.length >= ledger.cancelAfterLines) {
        batch.status = 'cancelled';
      }
      return true;
    },
    async progress(batchId, progress) {
      const batch = batches.get(batchId);
      if (!batch) throw new Error(`no batch ${batchId}`);
      batch.progress.push(progress);
      return batch.status;
    },
    async finish(batchId, progress) {
      const batch = batches.get(batchId);
      if (!batch) throw new Error(`no batch ${batchId}`);
      batch.finished = progress;
    },
  };
  return ledger;
}
