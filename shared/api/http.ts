/**
 * Readers of the parts of an API Gateway REST proxy event the handlers use. Each either returns a
 * checked value or throws the {@link HttpError} the caller should see. Headers are read in lower
 * case: the handlers normalise them first (`@middy/http-header-normalizer`).
 */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { ErrorCodes } from '#shared/errors/codes.ts';
import { ownerSchema } from '#shared/generation/model.ts';
import {
  BadRequestError,
  PayloadTooLargeError,
  UnauthorizedError,
  UnsupportedMediaTypeError,
} from './errors.ts';
import { MAX_BODY_DEPTH, stringsAreWellFormed, textNestsDeeperThan } from './json-limits.ts';

/** Largest request body accepted, in bytes. */
export const MAX_BODY_BYTES = 64 * 1024;

type ProxyEvent = Pick<APIGatewayProxyEvent, 'headers' | 'body' | 'isBase64Encoded'>;

/**
 * The owner the authorizer resolved the API key to (`context.owner` of its policy). A request
 * without one never passed the authorizer, so it is refused as unauthenticated.
 */
export function ownerOf(event: Pick<APIGatewayProxyEvent, 'requestContext'>): string {
  const owner: unknown = event.requestContext?.authorizer?.owner;
  const parsed = ownerSchema.safeParse(owner);
  if (!parsed.success) throw new UnauthorizedError();
  return parsed.data;
}

/** A header's value, by its lower-case name. */
export function headerOf(
  event: Pick<APIGatewayProxyEvent, 'headers'>,
  name: string,
): string | undefined {
  const value = event.headers?.[name.toLowerCase()];
  return value === null ? undefined : value;
}

/**
 * The body as parsed JSON, checked before anything parses, serialises or walks it. In this
 * order, the first failure being the answer: at most {@link MAX_BODY_BYTES} (413), declared as
 * UTF-8 JSON (415), valid UTF-8 (400 `090004014`; a leading byte-order mark is allowed and
 * dropped), nested at most {@link MAX_BODY_DEPTH} levels (400 `090004015`), valid JSON (400
 * `090004004`), and no string in it holding half of a surrogate pair (400 `090004014`).
 *
 * API Gateway delivers the JSON types as binary (the API's `binaryMediaTypes`), base64-encoded,
 * so these are the bytes the caller sent; a body given as text is read as its UTF-8 encoding.
 */
export function readJsonBody(event: ProxyEvent, maxBytes: number = MAX_BODY_BYTES): unknown {
  const raw = readRawBody(event, maxBytes);
  if (!isJsonMediaType(headerOf(event, 'content-type'))) {
    throw new UnsupportedMediaTypeError();
  }
  return parseJsonBytes(raw);
}

/**
 * The body's bytes as the caller sent them, at most `maxBytes` (413 past it). API Gateway
 * delivers every body base64-encoded (the API has every type binary); a body given as
 * text is read as its UTF-8 encoding.
 */
export function readRawBody(event: ProxyEvent, maxBytes: number): Buffer {
  const raw = event.isBase64Encoded
    ? Buffer.from(event.body ?? '', 'base64')
    : Buffer.from(event.body ?? '', 'utf8');
  if (raw.byteLength > maxBytes) {
    throw new PayloadTooLargeError(`The request body is larger than ${maxBytes} bytes`);
  }
  return raw;
}

/** JSON bytes parsed under the checks of {@link readJsonBody} (UTF-8, depth, syntax, surrogates). */
export function parseJsonBytes(raw: Buffer): unknown {
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch (error) {
    throw notUtf8('The request body is not valid UTF-8', error);
  }
  if (textNestsDeeperThan(text, MAX_BODY_DEPTH)) {
    throw new BadRequestError(
      ErrorCodes.API_BODY_TOO_DEEP,
      `The request body nests objects and arrays deeper than ${MAX_BODY_DEPTH} levels`,
    );
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new BadRequestError(ErrorCodes.API_BODY_NOT_JSON, 'The request body is not valid JSON', {
      cause: error,
    });
  }
  if (!stringsAreWellFormed(body)) {
    throw notUtf8(
      'A string in the request body escapes half of a surrogate pair (\\ud800-\\udfff)',
    );
  }
  return body;
}

/** Strict: a malformed sequence throws rather than becoming U+FFFD. A leading BOM is dropped. */
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

function notUtf8(message: string, cause?: unknown): BadRequestError {
  return new BadRequestError(ErrorCodes.API_BODY_NOT_UTF8, message, {
    details: [{ code: ErrorCodes.API_BODY_NOT_UTF8, message }],
    ...(cause !== undefined && { cause }),
  });
}

/**
 * Whether a body of this declared type is read: `application/json` and the `+json` types, with
 * no charset or `charset=utf-8` (RFC 8259: JSON between systems is UTF-8). No type at all,
 * `text/plain` (what `fetch` sends for a string body when the caller forgets the header), a
 * form, multipart, XML or another charset are refused with 415 rather than guessed at: a body
 * is read only as what it says it is.
 */
export function isJsonMediaType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const [type = '', ...parameters] = contentType.split(';');
  const mediaType = type.trim().toLowerCase();
  const isJson =
    mediaType === 'application/json' || /^application\/[a-z0-9.!#$&^_-]+\+json$/.test(mediaType);
  if (!isJson) return false;
  return parameters.every((parameter) => {
    const [name = '', value = ''] = parameter.split('=', 2).map((part) => part.trim());
    if (name.toLowerCase() !== 'charset') return true;
    return /^"?utf-8"?$/i.test(value);
  });
}

/** A path parameter (`{id}`), or an empty string when the route has none. */
export function pathParameterOf(
  event: Pick<APIGatewayProxyEvent, 'pathParameters'>,
  name: string,
): string {
  return event.pathParameters?.[name] ?? '';
}

/** The list query (`status`, `limit`, `cursor`) as given; the list use case (use-cases/list.ts) checks it. */
export function listQueryOf(event: Pick<APIGatewayProxyEvent, 'queryStringParameters'>): {
  status?: string;
  limit?: string;
  cursor?: string;
} {
  const query = event.queryStringParameters ?? {};
  return {
    ...(query.status !== undefined && { status: query.status }),
    ...(query.limit !== undefined && { limit: query.limit }),
    ...(query.cursor !== undefined && { cursor: query.cursor }),
  };
}
