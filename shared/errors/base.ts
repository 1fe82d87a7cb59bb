import type { ErrorCode } from './codes.ts';

/**
 * Base of every error the product raises on purpose. `name` is the class name, so Step Functions
 * can route on it (a Lambda error's type is its `name`), and `code` is the documented code the
 * generation record and HTTP answers carry. `cause` keeps what went wrong underneath.
 */
export abstract class PipelineError extends Error {
  abstract readonly code: ErrorCode | string;
  /** Whether trying the same call again later can succeed (throttling, 5xx, timeouts). */
  abstract readonly retryable: boolean;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}
