/**
 * The OpenAPI 3.1 document of the HTTP API, generated from the zod schemas with
 * `z.toJSONSchema` (JSON Schema 2020-12, the dialect OpenAPI 3.1 uses): the request schema every
 * trigger shares, the answer shapes of `schemas.ts`, and the error-code table.
 */
import { type ErrorCode, ErrorCodes } from '#shared/errors/codes.ts';
import { generationIdSchema } from '#shared/generation/model.ts';
import { generationRequestSchema } from '#shared/request/schema.ts';
import * as z from '#shared/zod.ts';
import { MAX_BODY_BYTES } from './http.ts';
import { IDEMPOTENCY_TTL_SECONDS } from './idempotency.ts';
import { idempotencyKeySchema } from './idempotency-key.ts';
import { BATCH_COMPONENTS, batchPaths } from './openapi-batches.ts';
import {
  errorResponse,
  errors,
  IDEMPOTENCY_CONFLICT,
  INTERNAL,
  inline,
  type JsonSchema,
  json,
  NOT_FOUND,
  type OpenApiObject,
  queryParameters,
  SCHEMA_REF,
  THROTTLED,
  UNAUTHORIZED,
  withoutDialect,
} from './openapi-parts.ts';
import { WEBHOOK_CODES, WEBHOOK_COMPONENTS, webhookPaths } from './openapi-webhooks.ts';
import {
  errorBodySchema,
  errorCodeTable,
  generationAcceptedSchema,
  generationErrorSchema,
  generationPageSchema,
  generationSubmissionSchema,
  generationViewSchema,
  imageViewSchema,
  listQuerySchema,
  metadataSchema,
  storedRequestSchema,
  usageSchema,
  validationDetailSchema,
  warningSchema,
} from './schemas.ts';

export const API_TITLE = 'spark-t2i';
export const API_VERSION = '1.0.0';

/** Components, by the name the document gives them. */
const COMPONENTS: ReadonlyArray<[string, z.core.$ZodType]> = [
  ['GenerationRequest', generationRequestSchema],
  ['GenerationSubmission', generationSubmissionSchema],
  ['GenerationAccepted', generationAcceptedSchema],
  ['Generation', generationViewSchema],
  ['GenerationPage', generationPageSchema],
  ['StoredRequest', storedRequestSchema],
  ['Image', imageViewSchema],
  ['Usage', usageSchema],
  ['GenerationError', generationErrorSchema],
  ['Warning', warningSchema],
  ['Metadata', metadataSchema],
  ['ValidationDetail', validationDetailSchema],
  ['ErrorBody', errorBodySchema],
  ...BATCH_COMPONENTS,
  ...WEBHOOK_COMPONENTS,
];

/** The codes each kind of refusal can carry, by HTTP status. */
const VALIDATION_CODES: readonly ErrorCode[] = [
  ErrorCodes.MISSING_PROMPT,
  ErrorCodes.INVALID_PROMPT_LENGTH,
  ErrorCodes.INVALID_USE_PRE_LLM,
  ErrorCodes.INVALID_SEED,
  ErrorCodes.INVALID_SIZE,
  ErrorCodes.INVALID_ASPECT_RATIO,
  ErrorCodes.SIZE_PAIR_REQUIRED,
  ErrorCodes.SIZE_NOT_INTEGER,
  ErrorCodes.SIZE_OUT_OF_RANGE,
  ErrorCodes.REQUEST_NOT_OBJECT,
  ErrorCodes.UNKNOWN_FIELD,
  ErrorCodes.API_BODY_NOT_JSON,
  ErrorCodes.API_BODY_NOT_UTF8,
  ErrorCodes.API_BODY_TOO_DEEP,
  ErrorCodes.API_INVALID_METADATA,
  ErrorCodes.API_INVALID_IDEMPOTENCY_KEY,
  ...WEBHOOK_CODES,
];

/** HTTP methods as the document keys them, in the order `Allow` lists them. */
const METHODS = ['get', 'post', 'put', 'patch', 'delete', 'head', 'options', 'trace'] as const;

/** Builds the document; the result is plain JSON. */
export function buildOpenApiDocument(): OpenApiObject {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of COMPONENTS) registry.add(schema, { id });
  const generated = z.toJSONSchema(registry, {
    target: 'draft-2020-12',
    io: 'input',
    unrepresentable: 'any',
    uri: SCHEMA_REF,
  }) as { schemas: Record<string, JsonSchema> };
  const schemas = Object.fromEntries(
    Object.entries(generated.schemas).map(([id, schema]) => [id, withoutDialect(schema)]),
  );

  const generationIdParameter = {
    name: 'id',
    in: 'path',
    required: true,
    description: 'The generation id (the 202 answer of POST /generations gives it).',
    schema: inline(generationIdSchema),
  };

  const paths: Record<string, Record<string, unknown>> = {
    '/generations': {
      post: {
        operationId: 'submitGeneration',
        tags: ['generations'],
        summary: 'Submit a generation',
        description: `Validates the request, records the generation \`queued\` and starts its workflow. The body is JSON of at most ${MAX_BODY_BYTES} bytes.`,
        parameters: [
          {
            name: 'Idempotency-Key',
            in: 'header',
            required: false,
            description: `Kept ${IDEMPOTENCY_TTL_SECONDS / 3600} h per owner.`,
            schema: inline(idempotencyKeySchema),
          },
        ],
        requestBody: { required: true, content: json('GenerationSubmission') },
        responses: {
          '202': {
            description: 'Accepted: the generation is queued.',
            content: json('GenerationAccepted'),
            links: {
              getGeneration: {
                operationId: 'getGeneration',
                parameters: { id: '$response.body#/id' },
                description: 'Follow the generation.',
              },
              cancelGeneration: {
                operationId: 'cancelGeneration',
                parameters: { id: '$response.body#/id' },
                description: 'Cancel it while it is queued or running.',
              },
            },
          },
          ...errors(
            {
              status: '400',
              codes: VALIDATION_CODES,
              text: 'The body, a field or a header is invalid; `details` lists every failure.',
            },
            UNAUTHORIZED,
            IDEMPOTENCY_CONFLICT,
            {
              status: '413',
              codes: [ErrorCodes.API_BODY_TOO_LARGE],
              text: 'The body is too large.',
            },
            {
              status: '415',
              codes: [ErrorCodes.API_UNSUPPORTED_MEDIA_TYPE],
              text: 'The body is not declared as UTF-8 JSON: `Content-Type: application/json` (or a `+json` type), with no charset or `charset=utf-8`.',
            },
            THROTTLED,
            INTERNAL,
          ),
        },
      },
      get: {
        operationId: 'listGenerations',
        tags: ['generations'],
        summary: "List the owner's generations, newest first",
        parameters: queryParameters(listQuerySchema),
        responses: {
          '200': { description: 'A page of generations.', content: json('GenerationPage') },
          ...errors(
            {
              status: '400',
              codes: [ErrorCodes.API_INVALID_QUERY],
              text: 'status, limit or cursor is invalid.',
            },
            UNAUTHORIZED,
            THROTTLED,
            INTERNAL,
          ),
        },
      },
    },
    '/generations/{id}': {
      parameters: [generationIdParameter],
      get: {
        operationId: 'getGeneration',
        tags: ['generations'],
        summary: 'Get a generation',
        description:
          'Image URLs are pre-signed and expire; fetch the generation again for fresh ones.',
        responses: {
          '200': { description: 'The generation.', content: json('Generation') },
          ...errors(UNAUTHORIZED, NOT_FOUND, THROTTLED, INTERNAL),
        },
      },
      delete: {
        operationId: 'cancelGeneration',
        tags: ['generations'],
        summary: 'Cancel a generation',
        description:
          'Stops the workflow of a queued or running generation and records it `cancelled`.',
        responses: {
          '200': { description: 'The cancelled generation.', content: json('Generation') },
          ...errors(
            UNAUTHORIZED,
            NOT_FOUND,
            {
              status: '409',
              codes: [ErrorCodes.API_NOT_CANCELLABLE],
              text: 'The generation has already ended.',
            },
            THROTTLED,
            INTERNAL,
          ),
        },
      },
    },
    '/openapi.json': {
      get: {
        operationId: 'getOpenApiDocument',
        tags: ['meta'],
        summary: 'This document',
        security: [],
        responses: {
          '200': {
            description: 'The OpenAPI document.',
            content: { 'application/json': { schema: { type: 'object' } } },
          },
          ...errors(THROTTLED, INTERNAL),
        },
      },
    },
    ...batchPaths(),
    ...webhookPaths(generationIdParameter),
  };
  // API Gateway itself answers a method a path does not have (405 with `Allow`), on every path.
  for (const item of Object.values(paths)) {
    const methods = METHODS.filter((method) => method in item);
    const allow = methods.map((method) => method.toUpperCase()).join(', ');
    const answer = errorResponse({
      status: '405',
      codes: [ErrorCodes.API_METHOD_NOT_ALLOWED],
      text: `Another method than this path's (${allow}) was used.`,
      headers: {
        Allow: { description: "The path's methods.", schema: { type: 'string', const: allow } },
      },
    });
    for (const method of methods) {
      const operation = item[method] as { responses: Record<string, unknown> };
      operation.responses['405'] = answer;
    }
  }

  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: API_TITLE,
      version: API_VERSION,
      summary: 'Text-to-image generations with Spark Text to Image 3.0.',
      description: [
        'Submit prompts, follow their generations and fetch the stored images.',
        'Every route but this document needs `Authorization: Bearer <api key>`; an owner sees only its own generations.',
        'Errors answer `{"error":{"code","message","details"?}}` with a 9-digit code; the table is in `x-error-codes`.',
      ].join('\n\n'),
    },
    servers: [{ url: '.', description: 'Where this document is served from' }],
    security: [{ bearerAuth: [] }],
    tags: [
      { name: 'generations', description: 'Text-to-image generations' },
      {
        name: 'batches',
        description: 'Prompt files as resources: status, counts, results, cancel',
      },
      {
        name: 'webhooks',
        description: 'Signed deliveries of generation and batch ends: the secret, the attempts',
      },
      { name: 'meta' },
    ],
    paths,
    components: {
      schemas,
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          description:
            'An API key (`sk_…`), sent as `Authorization: Bearer <key>`. Keys are stored hashed and belong to one owner.',
        },
      },
    },
    'x-error-codes': errorCodeTable(),
  };
}

/** The document as `docs/openapi.json` holds it (two-space JSON, one final newline). */
export function renderOpenApiFile(document: OpenApiObject): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}
