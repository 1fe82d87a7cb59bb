/**
 * Readers of the parts of an API Gateway REST proxy event the handlers use. Each either returns a
 * checked value or throws the {@link HttpError} the caller should see. Headers are read in lower
 * case: the handlers normalise them first (`@middy/http-header-normalizer`).
 */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { ErrorCodes } from '../errors/codes.ts';
import { ownerSchema } from '../generation/model.ts';
import {
  BadRequestError,
  PayloadTooLargeError,
  UnauthorizedError,
  UnsupportedMediaTypeError,
} from './errors.ts';
import { idempotencyKeySchema } from './schemas.ts';

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
 * The body as parsed JSON: `application/json` only (415), at most {@link MAX_BODY_BYTES} (413),
 * and valid JSON (400 `090004004`).
 */
export function readJsonBody(event: ProxyEvent, maxBytes: number = MAX_BODY_BYTES): unknown {
  const raw = event.isBase64Encoded
    ? Buffer.from(event.body ?? '', 'base64')
    : Buffer.from(event.body ?? '', 'utf8');
  if (raw.byteLength > maxBytes) {
    throw new PayloadTooLargeError(`The request body is larger than ${maxBytes} bytes`);
  }
  if (!isReadAsJson(headerOf(event, 'content-type'))) {
    throw new UnsupportedMediaTypeError(
      'The request body must be JSON, sent as Content-Type: application/json',
    );
  }
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (error) {
    throw new BadRequestError(ErrorCodes.API_BODY_NOT_JSON, 'The request body is not valid JSON', {
      cause: error,
    });
  }
}

/**
 * Whether a body of this declared type is read as JSON: `application/json` and the `+json` types
 * (with parameters such as `charset=utf-8`), and also no type at all and `text/plain`, which is
 * what `fetch` and many clients send for a string body when the caller forgets the header. A
 * body declared as another format (a form, multipart, XML) is refused with 415 rather than
 * guessed at.
 */
export function isReadAsJson(contentType: string | undefined): boolean {
  if (contentType === undefined || contentType.trim() === '') return true;
  const mediaType = contentType.split(';', 1)[0]?.trim().toLowerCase() ?? '';
  return (
    mediaType === 'application/json' ||
    mediaType === 'text/plain' ||
    /^application\/[a-z0-9.!#$&^_-]+\+json$/.test(mediaType)
  );
}

/** The `Idempotency-Key` header, if any; a malformed one is refused (400 `090004012`). */
export function idempotencyKeyOf(event: Pick<APIGatewayProxyEvent, 'headers'>): string | undefined {
  const key = headerOf(event, 'idempotency-key');
  if (key === undefined) return undefined;
  if (!idempotencyKeySchema.safeParse(key).success) {
    throw new BadRequestError(
      ErrorCodes.API_INVALID_IDEMPOTENCY_KEY,
      'Idempotency-Key must be 1-255 printable ASCII characters',
    );
  }
  return key;
}

/** A path parameter (`{id}`), or an empty string when the route has none. */
export function pathParameterOf(
  event: Pick<APIGatewayProxyEvent, 'pathParameters'>,
  name: string,
): string {
  return event.pathParameters?.[name] ?? '';
}

/** The list query (`status`, `limit`, `cursor`) as given; {@link GenerationsApi.list} checks it. */
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
