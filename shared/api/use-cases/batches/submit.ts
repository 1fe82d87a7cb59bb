/**
 * POST /batches: a prompt file sent as the body, written to the input bucket under the owner's
 * prompts folder (where the prompt-file trigger reads it), or an upload request answered with a
 * pre-signed PUT to that same key. Either way the batch's head is written first, so a GET right
 * after the 201 finds it, and the trigger pins the file to it.
 */
import { createHash } from 'node:crypto';
import type { Context } from 'aws-lambda';
import {
  BATCH_BODY_MEDIA_TYPES,
  type BatchView,
  UPLOAD_CONTENT_TYPES,
  UPLOAD_TTL_SECONDS,
  uploadRequestSchema,
} from '#shared/api/batch-schemas.ts';
import { BadRequestError, UnsupportedMediaTypeError } from '#shared/api/errors.ts';
import type { IdempotentStarts, IdempotentSubmission } from '#shared/api/idempotency.ts';
import { validateMetadata } from '#shared/api/metadata.ts';
import { webhookOf } from '#shared/api/webhook-field.ts';
import {
  apiUploadKeyOf,
  BATCH_ID_PREFIX,
  BATCH_UNFINISHED,
  type BatchHead,
  batchOwnerStatusKey,
  countsOf,
} from '#shared/batches/model.ts';
import type { BatchRepository } from '#shared/batches/repository.ts';
import { PipelineError } from '#shared/errors/base.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';
import { expiresAtOf } from '#shared/generation/retention.ts';
import { isPlainObject } from '#shared/json.ts';
import { logger } from '#shared/observability/powertools.ts';
import type { PromptFileFormat } from '#shared/prompt-files/keys.ts';
import type { StoredWebhook } from '#shared/webhooks/event-types.ts';
import type { WebhookTargetPolicy } from '#shared/webhooks/target.ts';
import { toBatchView } from './view.ts';

/** The file could not be stored; the batch was marked failed. Answered as a plain 500. */
export class BatchNotStoredError extends PipelineError {
  override readonly name = 'BatchNotStoredError';
  readonly code = ErrorCodes.API_INTERNAL_ERROR;
  readonly retryable = true;
}

export interface PresignedPut {
  readonly url: string;
  readonly headers: Record<string, string>;
}

export interface SubmitBatchDeps {
  readonly batches: BatchRepository;
  readonly inputBucket: string;
  /** The prompt-file size limit: the largest upload request accepted. */
  readonly maxUploadBytes: number;
  readonly metadataMaxBytes: number;
  /** Where a `webhook` may point (docs/decisions.md D40). */
  readonly webhookPolicy: WebhookTargetPolicy;
  /** Days the head is kept (its `expiresAt`), as records are. */
  readonly retentionDays: number;
  readonly putObject: (object: {
    readonly bucket: string;
    readonly key: string;
    readonly body: Buffer;
    readonly contentType: string;
  }) => Promise<void>;
  readonly presignPut: (object: {
    readonly bucket: string;
    readonly key: string;
    readonly bytes: number;
    readonly contentType: string;
    readonly expiresInSeconds: number;
  }) => Promise<PresignedPut>;
  readonly idempotency: IdempotentStarts;
  readonly now: () => Date;
  readonly newId: () => string;
}

export interface BatchBody {
  readonly contentType: string | undefined;
  /** The bytes as sent (the handler has already refused a body over BATCH_BODY_MAX_BYTES). */
  readonly body: Buffer;
}

export interface SubmitBatchOptions {
  readonly idempotencyKey?: string;
  readonly lambdaContext?: Context;
}

export type SubmitBatch = (
  owner: string,
  request: BatchBody,
  options: SubmitBatchOptions,
) => Promise<BatchView>;

type Submission =
  | { readonly kind: 'file'; readonly format: PromptFileFormat; readonly body: Buffer }
  | {
      readonly kind: 'upload';
      readonly format: PromptFileFormat;
      readonly bytes: number;
      readonly metadataJson?: string;
      readonly webhook?: StoredWebhook;
    };

/** Keeps the idempotency records of batches apart from those of generations. */
export const BATCH_IDEMPOTENCY_KEY_PREFIX = 'spark-t2i/submit-batch';

export function submitBatch(deps: SubmitBatchDeps): SubmitBatch {
  const startOnce = deps.idempotency((key: IdempotentSubmission, submission: Submission) =>
    start(deps, key.owner, submission, keyedBatchId(key)),
  );
  return async (owner, request, options) => {
    const submission = submissionOf(request, deps);
    if (options.idempotencyKey === undefined) return start(deps, owner, submission);
    return startOnce(
      { owner, idempotencyKey: options.idempotencyKey, body: fingerprintOf(submission) },
      submission,
      '',
      options.lambdaContext,
    );
  };
}

/** What the same key must be sent with again: the file's digest, or the upload request. */
function fingerprintOf(submission: Submission): Record<string, unknown> {
  if (submission.kind === 'upload') {
    const { kind, format, bytes, metadataJson, webhook } = submission;
    return { kind, format, bytes, metadata: metadataJson ?? null, webhook: webhook ?? null };
  }
  const sha256 = createHash('sha256').update(submission.body).digest('hex');
  return { kind: submission.kind, format: submission.format, sha256 };
}

/**
 * The id of a batch submitted with an Idempotency-Key: derived from the owner, the key and what
 * was sent, so a retry whose idempotency record was never completed meets the same batch.
 */
export function keyedBatchId(key: IdempotentSubmission): string {
  const digest = createHash('sha256')
    .update(JSON.stringify([key.owner, key.idempotencyKey, key.body]), 'utf8')
    .digest('hex');
  return `${BATCH_ID_PREFIX}${digest.slice(0, 40)}`;
}

/** The body read as a file or as an upload request; 415 or 400 when it is neither. */
export function submissionOf(
  request: BatchBody,
  limits: Pick<SubmitBatchDeps, 'maxUploadBytes' | 'metadataMaxBytes' | 'webhookPolicy'>,
): Submission {
  const mediaType = (request.contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  const format = BATCH_BODY_MEDIA_TYPES[mediaType as keyof typeof BATCH_BODY_MEDIA_TYPES];
  if (format === undefined) {
    throw new UnsupportedMediaTypeError(
      `A batch is sent as ${Object.keys(BATCH_BODY_MEDIA_TYPES).join(', ')} (the file itself), or as application/json {"upload":{...}}`,
    );
  }
  if (request.body.byteLength === 0) {
    throw new BadRequestError(ErrorCodes.BATCH_EMPTY_BODY, 'The body is empty: send the file');
  }
  if (format === 'json') {
    const parsed = parseJsonOrUndefined(request.body);
    if (isPlainObject(parsed) && Object.hasOwn(parsed, 'upload')) {
      return uploadRequestOf(parsed, limits);
    }
  }
  return { kind: 'file', format, body: request.body };
}

function parseJsonOrUndefined(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    // Not JSON: a .json prompt file the trigger will report on, line by line.
    return undefined;
  }
}

function uploadRequestOf(
  body: Record<string, unknown>,
  limits: Pick<SubmitBatchDeps, 'maxUploadBytes' | 'metadataMaxBytes' | 'webhookPolicy'>,
): Submission {
  const metadataJson = Object.hasOwn(body, 'metadata')
    ? validateMetadata(body.metadata, limits.metadataMaxBytes)
    : undefined;
  const webhook = Object.hasOwn(body, 'webhook')
    ? webhookOf(body.webhook, 'batch', limits.webhookPolicy)
    : undefined;
  const parsed = uploadRequestSchema.safeParse(body);
  const max = limits.maxUploadBytes;
  if (!parsed.success || parsed.data.upload.bytes > max) {
    const message = `An upload request is {"upload":{"format":"jsonl"|"txt"|"json","bytes":N}} with N from 1 to ${max} (the prompt-file limit), and optionally "metadata"`;
    const details = parsed.success
      ? [
          {
            code: ErrorCodes.BATCH_INVALID_UPLOAD,
            message: `bytes is over ${max}`,
            field: 'upload.bytes',
          },
        ]
      : parsed.error.issues.map((issue) => ({
          code: ErrorCodes.BATCH_INVALID_UPLOAD,
          message: issue.message,
          field: issue.path.join('.'),
        }));
    throw new BadRequestError(ErrorCodes.BATCH_INVALID_UPLOAD, message, { details });
  }
  const { format, bytes } = parsed.data.upload;
  return {
    kind: 'upload',
    format,
    bytes,
    ...(metadataJson !== undefined && { metadataJson }),
    ...(webhook !== undefined && { webhook }),
  };
}

async function start(
  deps: SubmitBatchDeps,
  owner: string,
  submission: Submission,
  keyedId?: string,
): Promise<BatchView> {
  const id = keyedId ?? deps.newId();
  const now = deps.now();
  const at = now.toISOString();
  const status = submission.kind === 'file' ? 'validating' : 'awaiting_upload';
  const uploadExpiresAt = new Date(now.getTime() + UPLOAD_TTL_SECONDS * 1000).toISOString();
  const key = apiUploadKeyOf(owner, id, submission.format);
  const head: BatchHead = {
    id,
    owner,
    status,
    ownerStatus: batchOwnerStatusKey(owner, status),
    source: { bucket: deps.inputBucket, key },
    format: submission.format,
    origin: 'api',
    rejected: 0,
    lines: 0,
    read: false,
    // In the reconciler's sweep until it ends: an upload that never comes fails it.
    unfinished: BATCH_UNFINISHED,
    createdAt: at,
    updatedAt: at,
    ...(submission.kind === 'upload' && { uploadExpiresAt }),
    ...(submission.kind === 'upload' &&
      submission.metadataJson !== undefined && { metadata: submission.metadataJson }),
    ...(submission.kind === 'upload' &&
      submission.webhook !== undefined && { webhook: submission.webhook }),
    expiresAt: expiresAtOf(at, deps.retentionDays),
  };
  let current: BatchHead = head;
  if (!(await deps.batches.create(head))) {
    // A keyed retry after an attempt that did not finish: carry on with its batch.
    current = (await deps.batches.getHead(id)) ?? head;
    logger.warn('An Idempotency-Key retry met the batch of an earlier attempt', {
      batchId: id,
      status: current.status,
    });
  }
  const view = toBatchView({ ...current, ...countsOf(current, []) });
  if (submission.kind === 'file') {
    // Not put again once the trigger has pinned a file to the batch (it would refuse a second).
    if (current.status === 'validating' && current.pinned === undefined) {
      await storeFile(deps, current, submission.body);
    }
    return view;
  }
  if (current.status !== 'awaiting_upload') return view;
  const contentType = UPLOAD_CONTENT_TYPES[submission.format];
  const put = await deps.presignPut({
    bucket: deps.inputBucket,
    key,
    bytes: submission.bytes,
    contentType,
    expiresInSeconds: Math.max(
      1,
      Math.floor((Date.parse(current.uploadExpiresAt ?? uploadExpiresAt) - now.getTime()) / 1000),
    ),
  });
  return {
    ...view,
    upload: {
      url: put.url,
      method: 'PUT',
      headers: put.headers,
      expiresAt: current.uploadExpiresAt ?? uploadExpiresAt,
    },
  };
}

/**
 * Writes the file where the trigger reads it. A batch whose file could not be stored is ended
 * `failed` (its event left owed, for the reconciler's sweep to publish) rather than left
 * validating a file that will never come; the error goes on (a 500).
 */
async function storeFile(deps: SubmitBatchDeps, head: BatchHead, body: Buffer): Promise<void> {
  try {
    await deps.putObject({
      bucket: head.source.bucket,
      key: head.source.key,
      body,
      contentType: UPLOAD_CONTENT_TYPES[head.format ?? 'txt'],
    });
  } catch (cause) {
    try {
      const error = {
        code: ErrorCodes.API_INTERNAL_ERROR,
        message: 'The file could not be stored; please send it again',
      };
      await deps.batches.recordReading(
        head.id,
        { lines: 0, rejected: 0, read: true, error },
        deps.now(),
      );
      await deps.batches.endIfDone(head.id, deps.now());
    } catch (error) {
      logger.error('Could not mark a batch whose file was not stored as failed', {
        batchId: head.id,
        error: error as Error,
        storeError: cause as Error,
      });
    }
    throw new BatchNotStoredError(`The file of batch ${head.id} could not be stored`, { cause });
  }
}
