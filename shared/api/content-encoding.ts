/**
 * A request body sent with `Content-Encoding: gzip` (RFC 9110 §8.4), decoded under a bound: a body
 * whose decompressed size would pass the limit is refused once the limit is passed, so a small
 * body that inflates to gigabytes (a zip bomb) costs one limit's worth of memory and CPU at most.
 * POST /batches takes it so that a 5 MiB prompt file fits Lambda's 6 MB event (D34-P).
 */
import { gunzipSync } from 'node:zlib';
import { ErrorCodes } from '#shared/errors/codes.ts';
import { BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError } from './errors.ts';

/** The codings a body may be sent with, as the header names them; `identity` is none. */
const GZIP_CODINGS = new Set(['gzip', 'x-gzip']);

/**
 * The body as the file it encodes, at most `maxBytes` decoded (413 `090004005` past it). No
 * coding (or `identity`) is the body as it is; `gzip` is decompressed (400 `090004016` when it is
 * not valid gzip); any other coding, or more than one, is 415 (RFC 9110 §15.5.16).
 */
export function decodeBody(
  raw: Buffer,
  contentEncoding: string | undefined,
  maxBytes: number,
): Buffer {
  const codings = (contentEncoding ?? '')
    .split(',')
    .map((coding) => coding.trim().toLowerCase())
    .filter((coding) => coding !== '' && coding !== 'identity');
  if (codings.length === 0) return raw;
  if (codings.length > 1 || !GZIP_CODINGS.has(codings[0] as string)) {
    throw new UnsupportedMediaTypeError(
      `Content-Encoding ${contentEncoding} is not supported: send the body as it is, or with Content-Encoding: gzip`,
    );
  }
  // Nothing to decode: the caller's own check answers an empty body.
  if (raw.byteLength === 0) return raw;
  try {
    // zlib stops as soon as its output passes maxOutputLength (one 16 KiB chunk past it at most).
    return gunzipSync(raw, { maxOutputLength: maxBytes });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new PayloadTooLargeError(
        `The request body is larger than ${maxBytes} bytes once decompressed`,
        { cause: error },
      );
    }
    throw new BadRequestError(
      ErrorCodes.API_BODY_NOT_GZIP,
      `The request body is sent with Content-Encoding: gzip but is not valid gzip (${(error as Error).message})`,
      { cause: error },
    );
  }
}
