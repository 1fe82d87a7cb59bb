/**
 * The batch routes of the OpenAPI document: their paths and the components they name. Built from
 * the same pieces as the generation routes (`openapi-parts.ts`) and the batch schemas.
 */
import { ErrorCodes } from '#shared/errors/codes.ts';
import type * as z from '#shared/zod.ts';
import {
  BATCH_BODY_FITS_BYTES,
  BATCH_BODY_MAX_BYTES,
  BATCH_BODY_MEDIA_TYPES,
  batchCountsSchema,
  batchGenerationPageSchema,
  batchIdSchema,
  batchListQuerySchema,
  batchListSchema,
  batchViewSchema,
  UPLOAD_TTL_SECONDS,
  uploadRequestSchema,
  uploadSchema,
} from './batch-schemas.ts';
import { IDEMPOTENCY_TTL_SECONDS } from './idempotency.ts';
import { idempotencyKeySchema } from './idempotency-key.ts';
import {
  type ErrorAnswer,
  errors,
  IDEMPOTENCY_CONFLICT,
  INTERNAL,
  inline,
  json,
  queryParameters,
  SCHEMA_REF,
  THROTTLED,
  UNAUTHORIZED,
} from './openapi-parts.ts';
import { listQuerySchema } from './schemas.ts';

/** The batch components, by the name the document gives them. */
export const BATCH_COMPONENTS: ReadonlyArray<[string, z.core.$ZodType]> = [
  ['Batch', batchViewSchema],
  ['BatchCounts', batchCountsSchema],
  ['BatchList', batchListSchema],
  ['BatchGenerationPage', batchGenerationPageSchema],
  ['UploadRequest', uploadRequestSchema],
  ['Upload', uploadSchema],
];

const BATCH_NOT_FOUND: ErrorAnswer = {
  status: '404',
  codes: [ErrorCodes.API_NOT_FOUND],
  text: "No batch with this id for this owner (another owner's id answers the same).",
};
const INVALID_QUERY: ErrorAnswer = {
  status: '400',
  codes: [ErrorCodes.API_INVALID_QUERY],
  text: 'status, limit or cursor is invalid.',
};

export function batchPaths(): Record<string, Record<string, unknown>> {
  const idParameter = {
    name: 'id',
    in: 'path',
    required: true,
    description: 'The batch id (the 201 answer of POST /batches, or GET /batches, gives it).',
    schema: inline(batchIdSchema),
    example: `b_${'0'.repeat(40)}`,
  };
  const follow = (operationId: string, description: string) => ({
    operationId,
    parameters: { id: '$response.body#/id' },
    description,
  });
  const fileTypes = Object.keys(BATCH_BODY_MEDIA_TYPES).filter(
    (type) => type !== 'application/json',
  );
  const fileBody = { schema: { type: 'string', contentMediaType: 'text/plain' } };
  return {
    '/batches': {
      post: {
        operationId: 'submitBatch',
        tags: ['batches'],
        summary: 'Create a batch from a prompt file',
        description: [
          `The body is the prompt file itself (at most ${BATCH_BODY_MAX_BYTES} bytes): \`.jsonl\` as \`application/jsonl\` (or \`application/x-ndjson\`), \`.txt\` as \`text/plain\`, \`.json\` as \`application/json\`. The file is read exactly as one put in the input bucket under \`prompts/<owner>/\`; its report lists every line.`,
          `Send the body with \`Content-Encoding: gzip\` (the file gzip-compressed): the limit applies to the file once decompressed, and on AWS only a compressed body reaches that limit. Lambda takes an event of at most 6,291,456 bytes and the body is in it base64-encoded (every media type is binary to this API, so the file arrives byte for byte), so a body as sent always fits up to ${BATCH_BODY_FITS_BYTES} bytes (about 4 MiB; 4 MiB itself always fits); past that, API Gateway may answer 413 \`090004005\` "Request Too Long" before the handler runs. The CLI compresses, and takes the upload below when even the compressed body would not fit.`,
          `For a larger file, send an upload request (\`application/json\` with the key \`upload\`): the answer carries a pre-signed S3 PUT, valid ${UPLOAD_TTL_SECONDS / 60} min, for exactly that size and type.`,
        ].join('\n\n'),
        parameters: [
          {
            name: 'Idempotency-Key',
            in: 'header',
            required: false,
            description: `Kept ${IDEMPOTENCY_TTL_SECONDS / 3600} h per owner: the same key and body answer the same batch.`,
            schema: inline(idempotencyKeySchema),
          },
          {
            name: 'Content-Encoding',
            in: 'header',
            required: false,
            description: `\`gzip\`: the body is the file gzip-compressed; it is decompressed (at most ${BATCH_BODY_MAX_BYTES} bytes, 413 past that) and must be valid gzip (400 \`090004016\`). Any other coding is 415.`,
            schema: { type: 'string', enum: ['gzip', 'identity'] },
          },
        ],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                anyOf: [
                  { $ref: SCHEMA_REF('UploadRequest') },
                  {
                    description:
                      'A .json prompt file: an array of requests, or {defaults, prompts}.',
                  },
                ],
              },
              example: { upload: { format: 'jsonl', bytes: 1024 } },
            },
            ...Object.fromEntries(fileTypes.map((type) => [type, fileBody])),
          },
        },
        responses: {
          '201': {
            description: 'Created: the batch, with `upload` for an upload request.',
            content: json('Batch'),
            links: {
              getBatch: follow('getBatch', 'Follow the batch.'),
              cancelBatch: follow('cancelBatch', 'Cancel it.'),
            },
          },
          ...errors(
            {
              status: '400',
              codes: [
                ErrorCodes.BATCH_EMPTY_BODY,
                ErrorCodes.API_BODY_NOT_GZIP,
                ErrorCodes.BATCH_INVALID_UPLOAD,
                ErrorCodes.API_INVALID_METADATA,
                ErrorCodes.API_INVALID_IDEMPOTENCY_KEY,
              ],
              text: 'An empty body, a body sent as gzip that is not valid gzip, a bad upload request or metadata, or a malformed Idempotency-Key.',
            },
            UNAUTHORIZED,
            IDEMPOTENCY_CONFLICT,
            {
              status: '413',
              codes: [ErrorCodes.API_BODY_TOO_LARGE],
              text: `The file is over ${BATCH_BODY_MAX_BYTES} bytes (decompressed, for a gzip body): use an upload request. On AWS, also a body whose event is over Lambda's 6,291,456 bytes, answered by API Gateway ("Request Too Long"): compress it, or use an upload request.`,
            },
            {
              status: '415',
              codes: [ErrorCodes.API_UNSUPPORTED_MEDIA_TYPE],
              text: `The body is not one of ${Object.keys(BATCH_BODY_MEDIA_TYPES).join(', ')}, or is sent with a Content-Encoding other than gzip.`,
            },
            THROTTLED,
            INTERNAL,
          ),
        },
      },
      get: {
        operationId: 'listBatches',
        tags: ['batches'],
        summary: "List the owner's batches, newest first",
        description:
          'Files put straight in the input bucket under `prompts/<owner>/` are listed too.',
        parameters: queryParameters(batchListQuerySchema, 'batches'),
        responses: {
          '200': { description: 'A page of batches.', content: json('BatchList') },
          ...errors(INVALID_QUERY, UNAUTHORIZED, THROTTLED, INTERNAL),
        },
      },
    },
    '/batches/{id}': {
      parameters: [idParameter],
      get: {
        operationId: 'getBatch',
        tags: ['batches'],
        summary: 'Get a batch and its counts',
        responses: {
          '200': { description: 'The batch.', content: json('Batch') },
          ...errors(UNAUTHORIZED, BATCH_NOT_FOUND, THROTTLED, INTERNAL),
        },
      },
      delete: {
        operationId: 'cancelBatch',
        tags: ['batches'],
        summary: 'Cancel a batch',
        description:
          'Ends the batch `cancelled`: no line not yet started is started, and every unfinished generation of it is cancelled.',
        responses: {
          '200': { description: 'The cancelled batch.', content: json('Batch') },
          ...errors(
            UNAUTHORIZED,
            BATCH_NOT_FOUND,
            {
              status: '409',
              codes: [ErrorCodes.BATCH_NOT_CANCELLABLE],
              text: 'The batch has already ended.',
            },
            THROTTLED,
            INTERNAL,
          ),
        },
      },
    },
    '/batches/{id}/generations': {
      parameters: [idParameter],
      get: {
        operationId: 'listBatchGenerations',
        tags: ['batches'],
        summary: "A batch's generations, in line order",
        parameters: queryParameters(listQuerySchema),
        responses: {
          '200': {
            description: 'A page of generations, each as GET /generations/{id} shows it.',
            content: json('BatchGenerationPage'),
          },
          ...errors(INVALID_QUERY, UNAUTHORIZED, BATCH_NOT_FOUND, THROTTLED, INTERNAL),
        },
      },
    },
    '/batches/{id}/report': {
      parameters: [idParameter],
      get: {
        operationId: 'getBatchReport',
        tags: ['batches'],
        summary: "The batch's per-line report",
        description:
          'The report of its prompt file: every line as `{line, id}` or `{line, error}`, with a summary. 404 until the file has been read.',
        responses: {
          '200': {
            description: 'The report.',
            content: { 'application/json': { schema: { type: 'object' } } },
          },
          ...errors(
            UNAUTHORIZED,
            {
              ...BATCH_NOT_FOUND,
              text: `${BATCH_NOT_FOUND.text} Also while the report is not written yet.`,
            },
            THROTTLED,
            INTERNAL,
          ),
        },
      },
    },
  };
}
