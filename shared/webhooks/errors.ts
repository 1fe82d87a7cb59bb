/** Typed errors of webhook deliveries. */
import { PipelineError } from '#shared/errors/base.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';

/** The target is not one we send to (at delivery: a name resolving, or a socket connecting, inside the network). */
export class WebhookTargetRefusedError extends PipelineError {
  override readonly name = 'WebhookTargetRefusedError';
  readonly code = ErrorCodes.WEBHOOK_URL_REFUSED;
  /** A name may resolve elsewhere later; retried on the schedule like any failure. */
  readonly retryable = true;
}

/** The request did not get an answer: connection refused or reset, DNS failure, timeout. */
export class WebhookRequestError extends PipelineError {
  override readonly name = 'WebhookRequestError';
  readonly code = ErrorCodes.WEBHOOK_DELIVERY_FAILED;
  readonly retryable = true;
}
