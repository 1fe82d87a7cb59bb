/**
 * Typed errors of the prompt-file trigger. Problems with the file itself are not thrown: they are
 * written into the file's report. What is thrown is what a later attempt can fix (S3 or Step
 * Functions unavailable or throttling past our retries), so Lambda retries the event; the
 * deterministic generation ids make that retry cheap and safe.
 */

import { PipelineError } from '#shared/errors/base.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';

/** Reading the prompt file from S3 failed for a reason that may pass (5xx, throttling, network). */
export class PromptFileReadError extends PipelineError {
  override readonly name = 'PromptFileReadError';
  readonly code = ErrorCodes.PROMPT_FILE_UNREADABLE;
  readonly retryable = true;
}

/** `StartExecution` failed: throttled past the retries, or refused (configuration, permissions). */
export class GenerationStartError extends PipelineError {
  override readonly name = 'GenerationStartError';
  readonly code = ErrorCodes.INTERNAL_ERROR;
  readonly retryable: boolean;

  constructor(message: string, options: { cause?: unknown; retryable: boolean }) {
    super(message, { cause: options.cause });
    this.retryable = options.retryable;
  }
}

/** Whether the folder's owner has an API key could not be looked up (DynamoDB unavailable). */
export class OwnerLookupError extends PipelineError {
  override readonly name = 'OwnerLookupError';
  readonly code = ErrorCodes.INTERNAL_ERROR;
  readonly retryable = true;
}

/** The report could not be written to the input bucket. */
export class PromptFileReportError extends PipelineError {
  override readonly name = 'PromptFileReportError';
  readonly code = ErrorCodes.INTERNAL_ERROR;
  readonly retryable = true;
}

/**
 * One or more records of an S3 event could not be finished. Thrown after every record has been
 * tried, so Lambda retries the event; `cause` is the record's error, or an `AggregateError`.
 */
export class PromptFileEventError extends PipelineError {
  override readonly name = 'PromptFileEventError';
  readonly code = ErrorCodes.INTERNAL_ERROR;
  readonly retryable = true;
}

/**
 * The file is refused as a whole (or past a point: too many lines). Raised inside the parser and
 * turned into the report's file-level `error`; never thrown out of the trigger.
 */
export class PromptFileRejectedError extends PipelineError {
  override readonly name = 'PromptFileRejectedError';
  readonly code: string;
  readonly retryable = false;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
