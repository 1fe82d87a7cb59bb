/**
 * Pieces every path of the OpenAPI document is built from: the error answers (a body schema
 * whose `code` is one of the status's codes, and the codes listed), the common refusals, and
 * schemas written out in place.
 */
import type { ErrorCode } from '#shared/errors/codes.ts';
import { ErrorCodeDescriptions, ErrorCodes } from '#shared/errors/codes.ts';
import * as z from '#shared/zod.ts';
import { validationDetailSchema } from './schemas.ts';

export type JsonSchema = Record<string, unknown>;
export type OpenApiObject = Record<string, unknown>;

export const SCHEMA_REF = (id: string) => `#/components/schemas/${id}`;

export interface ErrorAnswer {
  readonly status: string;
  readonly codes: readonly ErrorCode[];
  readonly text: string;
  readonly headers?: Readonly<Record<string, OpenApiObject>>;
}

export const UNAUTHORIZED = {
  status: '401',
  codes: [ErrorCodes.API_UNAUTHORIZED],
  text: 'Missing, unknown or revoked API key.',
};
export const IDEMPOTENCY_CONFLICT = {
  status: '409',
  codes: [ErrorCodes.API_IDEMPOTENCY_CONFLICT],
  text: 'The Idempotency-Key was used with another body, or is still in progress.',
};
export const THROTTLED = {
  status: '429',
  codes: [ErrorCodes.API_THROTTLED],
  text: 'Too many requests.',
};
export const INTERNAL = {
  status: '500',
  codes: [ErrorCodes.API_INTERNAL_ERROR],
  text: 'Internal error; nothing about it is shown.',
};
export const NOT_FOUND = {
  status: '404',
  codes: [ErrorCodes.API_NOT_FOUND],
  text: "No generation with this id for this owner (another owner's id answers the same).",
};

/** A JSON body of the component `id`. */
export const json = (id: string) => ({ 'application/json': { schema: { $ref: SCHEMA_REF(id) } } });

/** The answers of a route's refusals, by status. */
export const errors = (...answers: ErrorAnswer[]) =>
  Object.fromEntries(answers.map((answer) => [answer.status, errorResponse(answer)]));

/** An error answer whose `code` is one of `codes`. */
export function errorResponse(answer: ErrorAnswer): OpenApiObject {
  const codes = answer.codes as [ErrorCode, ...ErrorCode[]];
  const body = z.object({
    error: z.object({
      code: z.enum(codes),
      message: z.string(),
      details: z.optional(z.array(validationDetailSchema)),
    }),
  });
  const list = codes.map((code) => `\`${code}\` ${ErrorCodeDescriptions[code]}`).join('; ');
  return {
    description: `${answer.text} Codes: ${list}.`,
    ...(answer.headers !== undefined && { headers: answer.headers }),
    content: { 'application/json': { schema: inline(body) } },
    'x-error-codes': [...codes],
  };
}

export function queryParameters(query: z.core.$ZodType, what = 'generations'): OpenApiObject[] {
  const schema = inline(query) as { properties: Record<string, JsonSchema> };
  const descriptions: Record<string, string> = {
    status: `Only ${what} with this status.`,
    limit: 'Page size.',
    cursor: 'The `nextCursor` of the previous page, unchanged.',
  };
  return Object.entries(schema.properties).map(([name, property]) => ({
    name,
    in: 'query',
    required: false,
    description: descriptions[name],
    schema: property,
  }));
}

/** A schema written out in place (no `$ref`), without the dialect keywords. */
export function inline(schema: z.core.$ZodType): JsonSchema {
  return withoutDialect(
    z.toJSONSchema(schema, {
      target: 'draft-2020-12',
      io: 'input',
      unrepresentable: 'any',
    }) as JsonSchema,
  );
}

/** Components and inline schemas inherit the document's dialect; `$schema`/`$id` would only confuse tools. */
export function withoutDialect(schema: JsonSchema): JsonSchema {
  const { $schema: _schema, $id: _id, ...rest } = schema;
  return rest;
}
