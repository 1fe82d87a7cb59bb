/**
 * Reading a prompt file's object from S3: its body as counted chunks, and what a failed read
 * means (a failure no retry fixes is answered in the report; any other is thrown for a retry).
 */
import { ErrorCodes } from '#shared/errors/codes.ts';
import type { CodedError } from './parser.ts';

/**
 * Failures no retry fixes: the object is gone, access is denied, it is archived. 408, 412 (the
 * object changed between HeadObject and GetObject) and 429 may pass, as may 5xx and the network.
 */
export function isPermanentS3Error(error: unknown): boolean {
  const status = (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  return status !== undefined && status >= 400 && status < 500 && ![408, 412, 429].includes(status);
}

export function unreadable(error: unknown): CodedError {
  const name = (error as { name?: unknown })?.name;
  const status = (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  return {
    code: ErrorCodes.PROMPT_FILE_UNREADABLE,
    message: `The file could not be read from S3 (${typeof name === 'string' ? name : 'error'}${status ? `, HTTP ${status}` : ''})`,
  };
}

/** The chunks of `body`, counting the bytes handed on so far. */
export function countingBytes(body: AsyncIterable<Uint8Array | string>) {
  const counted = { bytes: 0 };
  async function* chunks() {
    for await (const chunk of body) {
      counted.bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength;
      yield chunk;
    }
  }
  return Object.assign(counted, { chunks: chunks() });
}

export function isAsyncIterable(value: unknown): value is AsyncIterable<Uint8Array | string> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function'
  );
}
