/**
 * The prompt-file trigger: for each object created under `prompts/`, pin its version, read it as
 * a stream, start one generation per valid line and write the file's report.
 *
 * Problems with the file are data (they go into the report, and the record ends normally), so a
 * file that is not a prompt file never causes retries. What may pass (S3 or Step Functions
 * unavailable or throttling beyond the retries) is thrown, after every record of the event has
 * been tried, so Lambda retries the event: the generation ids are derived from the file's version
 * and line number, so a retry only meets the executions it already started.
 */
import {
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { SFNClient } from '@aws-sdk/client-sfn';
import type { S3Event, S3EventRecord } from 'aws-lambda';
import type { BatchLedger } from '#shared/batches/ledger.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';
import { logger } from '#shared/observability/powertools.ts';
import { OwnerLookupError, PromptFileEventError, PromptFileReadError } from './errors.ts';
import { type FileIdentity, hasVersion, unquoteEtag } from './ids.ts';
import { decodeEventKey, formatOf, type IgnoreReason, ignoreReason, ownerOf } from './keys.ts';
import { isAsyncIterable, isPermanentS3Error, unreadable } from './object-body.ts';
import type { CodedError } from './parser.ts';
import { ReportBuilder, type ReportSummary } from './report.ts';
import { writeReport } from './report-writer.ts';
import { startFileLines } from './start-lines.ts';
import type { StartRetryPolicy } from './starter.ts';

export interface PromptFileSettings {
  readonly stateMachineArn: string;
  /** Owner of files directly under `prompts/`. */
  readonly defaultOwner: string;
  /** File size limit in bytes (`090005001`). */
  readonly maxBytes: number;
  /** Line limit (`090005002`). */
  readonly maxLines: number;
  /** Per-line limit in bytes (`090005008`). @default 65536 */
  readonly maxLineBytes?: number;
  /** `StartExecution` calls in flight at once. @default 10 */
  readonly concurrency?: number;
  /** Starts a second, unless the time left needs more. @default 25 */
  readonly startsPerSecond?: number;
  readonly retry?: StartRetryPolicy;
}

export interface PromptFileDeps extends PromptFileSettings {
  readonly s3: S3Client;
  readonly sfn: SFNClient;
  /** The batch each file is (shared/batches/ledger.ts): its lines' records and counts. */
  readonly ledger: BatchLedger;
  /**
   * Whether an owner has an active API key: a file under `prompts/<owner>/` needs one (the
   * default owner's folder does not). Throws when it cannot tell.
   */
  readonly ownerHasApiKey: (owner: string) => Promise<boolean>;
  readonly now?: () => Date;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
  /** A monotonic clock in ms, for the pace of starts. @default performance.now */
  readonly clock?: () => number;
  /** Time left in this invocation (Lambda's `getRemainingTimeInMillis`); unbounded without. */
  readonly remainingMs?: () => number;
}

/** The object an event record names. */
export interface ObjectRef {
  readonly bucket: string;
  /** Decoded (S3 events URL-encode keys). */
  readonly key: string;
  readonly versionId?: string;
}

export type PromptFileOutcome =
  | {
      readonly status: 'ignored';
      readonly bucket: string;
      readonly key: string;
      readonly reason:
        | IgnoreReason
        | 'not-created'
        | 'duplicate-record'
        | 'batch-file-replaced'
        | 'batch-ended';
    }
  | {
      readonly status: 'reported';
      readonly bucket: string;
      readonly key: string;
      readonly reportKey: string;
      readonly summary: ReportSummary;
      readonly error?: CodedError;
    };

export interface PromptFileEventResult {
  readonly records: readonly PromptFileOutcome[];
}

/** Processes every record of an S3 notification; throws only what a retry may fix. */
export async function processS3Event(
  event: S3Event,
  deps: PromptFileDeps,
): Promise<PromptFileEventResult> {
  const outcomes: PromptFileOutcome[] = [];
  const failures: unknown[] = [];
  const seen = new Set<string>();
  // `s3:TestEvent`, sent when a notification is configured, has no records.
  for (const record of event.Records ?? []) {
    const ref = objectRefOf(record);
    const ignored = (reason: 'not-created' | 'duplicate-record'): PromptFileOutcome => ({
      status: 'ignored',
      bucket: ref.bucket,
      key: ref.key,
      reason,
    });
    if (!record.eventName?.startsWith('ObjectCreated:')) {
      outcomes.push(ignored('not-created'));
      continue;
    }
    const identity = JSON.stringify([
      ref.bucket,
      ref.key,
      ref.versionId,
      record.s3.object.sequencer,
    ]);
    if (seen.has(identity)) {
      outcomes.push(ignored('duplicate-record'));
      continue;
    }
    seen.add(identity);
    try {
      outcomes.push(await processPromptFile(ref, deps));
    } catch (error) {
      logger.error('Prompt file not finished; the event will be retried', {
        bucket: ref.bucket,
        objectKey: ref.key,
        error,
      });
      failures.push(error);
    }
  }
  if (failures.length > 0) {
    throw new PromptFileEventError(`${failures.length} prompt file(s) could not be finished`, {
      cause: failures.length === 1 ? failures[0] : new AggregateError(failures),
    });
  }
  return { records: outcomes };
}

export function objectRefOf(record: S3EventRecord): ObjectRef {
  const { versionId } = record.s3.object;
  return {
    bucket: record.s3.bucket.name,
    key: decodeEventKey(record.s3.object.key),
    ...(versionId !== undefined && versionId !== '' && { versionId }),
  };
}

/** Processes one object: reads it, starts its generations and writes its report. */
export async function processPromptFile(
  ref: ObjectRef,
  deps: PromptFileDeps,
): Promise<PromptFileOutcome> {
  const { bucket, key } = ref;
  const reason = ignoreReason(key);
  if (reason !== undefined) {
    logger.warn('Object ignored by the prompt-file trigger', {
      bucket,
      objectKey: key,
      reason,
    });
    return { status: 'ignored', bucket, key, reason };
  }
  const format = formatOf(key) ?? null;
  const owner = ownerOf(key, deps.defaultOwner);
  const ownerName = owner.ok ? owner.owner : owner.folder;

  let head: HeadObjectCommandOutput;
  try {
    head = await deps.s3.send(
      new HeadObjectCommand({
        Bucket: bucket,
        Key: key,
        ...(ref.versionId && { VersionId: ref.versionId }),
      }),
    );
  } catch (error) {
    if (!isPermanentS3Error(error)) {
      throw new PromptFileReadError(`HeadObject s3://${bucket}/${key} failed`, { cause: error });
    }
    const report = new ReportBuilder({ bucket, key, owner: ownerName, format });
    report.fail(unreadable(error));
    return writeReport(report, deps);
  }

  const file: FileIdentity = {
    bucket,
    key,
    ...(hasVersion(head.VersionId) && { versionId: head.VersionId }),
    etag: head.ETag ?? '',
  };
  const report = new ReportBuilder({
    bucket,
    key,
    ...(file.versionId !== undefined && { versionId: file.versionId }),
    ...(head.ETag !== undefined && { etag: unquoteEtag(head.ETag) }),
    owner: ownerName,
    format,
  });
  const refuse = (code: string, message: string) => {
    report.fail({ code, message });
    return writeReport(report, deps);
  };

  if (!owner.ok) {
    return refuse(
      ErrorCodes.PROMPT_FILE_BAD_OWNER,
      `The folder "${owner.folder}" does not name a valid owner (lower-case letters, digits, - and _, at most 63)`,
    );
  }
  if (owner.owner !== deps.defaultOwner && !(await hasApiKey(owner.owner, deps))) {
    return refuse(
      ErrorCodes.PROMPT_FILE_BAD_OWNER,
      `No API key belongs to the owner "${owner.owner}": a file under prompts/<owner>/ needs an owner with an API key (a file directly under prompts/ belongs to the default owner)`,
    );
  }
  if (file.versionId === undefined && !head.ETag) {
    return refuse(
      ErrorCodes.PROMPT_FILE_UNREADABLE,
      'S3 answered neither a version id nor an ETag',
    );
  }

  // From here the file is a batch of its owner's: every outcome is recorded on it too.
  const opened = await deps.ledger.open({ file, owner: owner.owner, format });
  if ('refused' in opened) {
    // The report of the batch's own file is left as it is: this one is not read at all.
    logger.warn('Prompt file not read: its batch has a file already', {
      bucket,
      objectKey: key,
      error: opened.refused,
    });
    return { status: 'ignored', bucket, key, reason: 'batch-file-replaced' };
  }
  const { batchId } = opened;
  if (opened.status === 'completed' || opened.status === 'failed') {
    // Its event again, after the batch ended: read to its end before, or given up by the sweep
    // (a redrive from the dead-letter queue). Its lines are the ones it has.
    logger.warn('Prompt file not read: its batch has ended', {
      bucket,
      objectKey: key,
      batchId,
      batchStatus: opened.status,
    });
    return { status: 'ignored', bucket, key, reason: 'batch-ended' };
  }
  report.inBatch(batchId);
  const finish = async (): Promise<PromptFileOutcome> => {
    const outcome = await writeReport(report, deps);
    const { summary } = report;
    await deps.ledger.finish(batchId, {
      lines: summary.accepted + summary.rejected,
      rejected: summary.rejected,
      ...(report.error && { error: report.error }),
    });
    return outcome;
  };
  const refuseBatch = (code: string, message: string) => {
    report.fail({ code, message });
    return finish();
  };
  if (opened.status === 'cancelled') {
    return refuseBatch(
      ErrorCodes.BATCH_CANCELLED,
      `Batch ${batchId} was cancelled before its file was read`,
    );
  }
  if (format === null) {
    return refuseBatch(
      ErrorCodes.PROMPT_FILE_UNSUPPORTED_TYPE,
      'Not a prompt file: the name must end in .txt, .jsonl or .json',
    );
  }
  const size = head.ContentLength;
  if (size !== undefined && size > deps.maxBytes) {
    return refuseBatch(
      ErrorCodes.PROMPT_FILE_TOO_LARGE,
      `The file is ${size} bytes; the limit is ${deps.maxBytes}`,
    );
  }
  if (size === 0) return refuseBatch(ErrorCodes.PROMPT_FILE_EMPTY, 'The file is empty');

  let object: GetObjectCommandOutput;
  try {
    object = await deps.s3.send(
      new GetObjectCommand({
        Bucket: bucket,
        Key: key,
        // Read exactly what HeadObject described: the ids are derived from it.
        ...(head.VersionId !== undefined && { VersionId: head.VersionId }),
        ...(head.ETag !== undefined && { IfMatch: head.ETag }),
      }),
    );
  } catch (error) {
    if (!isPermanentS3Error(error)) {
      throw new PromptFileReadError(`GetObject s3://${bucket}/${key} failed`, { cause: error });
    }
    report.fail(unreadable(error));
    return finish();
  }
  const body = object.Body as unknown;
  if (!isAsyncIterable(body)) {
    return refuseBatch(ErrorCodes.PROMPT_FILE_UNREADABLE, 'S3 answered no readable body');
  }
  await startFileLines({ body, size, file, owner: owner.owner, batchId, format, report }, deps);
  return finish();
}

async function hasApiKey(owner: string, deps: PromptFileDeps): Promise<boolean> {
  try {
    return await deps.ownerHasApiKey(owner);
  } catch (error) {
    throw new OwnerLookupError(`Looking up the API keys of owner "${owner}" failed`, {
      cause: error,
    });
  }
}
