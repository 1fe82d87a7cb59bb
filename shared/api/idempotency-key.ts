/**
 * The `Idempotency-Key` header of the submit routes: its schema (documented by the OpenAPI
 * document) and its reader. Apart from `http.ts` and `schemas.ts`, which every route imports, so
 * only the routes that take the header build its schema (docs/decisions.md D36).
 */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { ErrorCodes } from '#shared/errors/codes.ts';
import * as z from '#shared/zod.ts';
import { BadRequestError } from './errors.ts';
import { headerOf } from './http.ts';

/** The `Idempotency-Key` header of POST /generations: 1-255 printable ASCII characters. */
export const idempotencyKeySchema = z.withMeta(z.string().check(z.regex(/^[\x20-\x7e]{1,255}$/)), {
  description:
    'Makes the submission safe to retry: within 24 h the same key and body answer the same generation, and the same key with another body answers 409. 1-255 printable ASCII characters.',
});

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
