import type { ErrorCode } from './codes.ts';

/**
 * Base of every error the product raises on purpose. `code` is the documented code the
 * generation record and HTTP answers carry; `cause` keeps what went wrong underneath.
 */
export abstract class PipelineError extends Error {
  /**
   * The class's own name, written out as a string literal by each concrete class
   * (`override readonly name = 'ImageDownloadError'`). Step Functions routes Retry and Catch on
   * it (a Lambda error's type is its `name`), and the function bundles are minified: a name read
   * from the class at run time would be the one the minifier gave it (`s`), which nothing matches.
   */
  abstract override readonly name: string;
  abstract readonly code: ErrorCode | string;
  /** Whether trying the same call again later can succeed (throttling, 5xx, timeouts). */
  abstract readonly retryable: boolean;
}
