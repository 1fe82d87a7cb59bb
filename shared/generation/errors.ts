/** Errors of the generation workflow's steps (no SDK imports: every step function loads this). */
import { PipelineError } from '#shared/errors/base.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';

/** The generation has no record (it was never started through a trigger). */
export class GenerationNotFoundError extends PipelineError {
  override readonly name = 'GenerationNotFoundError';
  readonly code = ErrorCodes.INTERNAL_ERROR;
  readonly retryable = false;
}

/** The generation already ended (cancelled, usually); nothing more may be done for it. */
export class GenerationAlreadyFinishedError extends PipelineError {
  override readonly name = 'GenerationAlreadyFinishedError';
  readonly code = ErrorCodes.GENERATION_CANCELLED;
  readonly retryable = false;
}
