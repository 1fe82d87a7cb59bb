/**
 * The bodies of the batch routes as zod schemas: what POST /batches takes as an upload request,
 * and the shape of every batch answer. The OpenAPI document is generated from these.
 */
import { BATCH_ID_PATTERN, BATCH_STATUSES } from '#shared/batches/model.ts';
import { PROMPT_FILE_FORMATS } from '#shared/prompt-files/keys.ts';
import { webhookRequestSchema } from '#shared/webhooks/request.ts';
import * as z from '#shared/zod.ts';
import { generationViewSchema, metadataSchema } from './schemas.ts';

/**
 * Largest prompt file sent as the body of POST /batches (decompressed, when the body is sent with
 * `Content-Encoding: gzip`); larger ones go by an upload request.
 */
export const BATCH_BODY_MAX_BYTES = 5 * 1024 * 1024;
/**
 * Lambda's limit on a synchronous invocation's event (API Gateway's proxy event, as JSON). The API
 * has every media type binary, so a body is in it base64-encoded (docs/decisions.md D34-P).
 */
export const LAMBDA_EVENT_MAX_BYTES = 6_291_456;
/**
 * What the proxy event holds besides the body (headers twice, request context, authorizer
 * context), allowed for generously: API Gateway's REST headers are at most 10 KiB.
 */
export const EVENT_ENVELOPE_ALLOWANCE_BYTES = 256 * 1024;
/** The largest body, as sent, whose proxy event always fits: 4,521,984 bytes (about 4.3 MiB). */
export const BATCH_BODY_FITS_BYTES =
  Math.floor((LAMBDA_EVENT_MAX_BYTES - EVENT_ENVELOPE_ALLOWANCE_BYTES) / 4) * 3;

/** Whether a body of `bytes` (as sent: compressed, if it is) reaches the function on AWS. */
export function bodyFitsLambdaEvent(bytes: number): boolean {
  return bytes <= BATCH_BODY_FITS_BYTES;
}
/** How long the pre-signed PUT of an upload request is accepted. */
export const UPLOAD_TTL_SECONDS = 15 * 60;

/** Media types of a prompt file sent as the body, by the format they make it. */
export const BATCH_BODY_MEDIA_TYPES = {
  'application/jsonl': 'jsonl',
  'application/x-ndjson': 'jsonl',
  'text/plain': 'txt',
  'application/json': 'json',
} as const;

/** The media type an upload of each format is signed for (the PUT must send it). */
export const UPLOAD_CONTENT_TYPES = {
  jsonl: 'application/jsonl',
  txt: 'text/plain',
  json: 'application/json',
} as const;

export const batchIdSchema = z.withMeta(z.string().check(z.regex(BATCH_ID_PATTERN)), {
  description: 'A batch id: `b_` and 40 lower-case hex digits.',
});

export const batchCountsSchema = z.withMeta(
  z.object({
    lines: z.int().check(z.nonnegative()),
    accepted: z.int().check(z.nonnegative()),
    rejected: z.int().check(z.nonnegative()),
    queued: z.int().check(z.nonnegative()),
    running: z.int().check(z.nonnegative()),
    completed: z.int().check(z.nonnegative()),
    failed: z.int().check(z.nonnegative()),
    cancelled: z.int().check(z.nonnegative()),
  }),
  {
    description:
      'Exact counts, kept as the records move: lines read = accepted + rejected; every accepted line is queued, running, completed, failed or cancelled.',
  },
);

export const uploadSchema = z.withMeta(
  z.object({
    url: z.withMeta(z.string(), { description: 'Pre-signed S3 URL to PUT the file to.' }),
    method: z.literal('PUT'),
    headers: z.withMeta(z.record(z.string(), z.string()), {
      description:
        'Headers the PUT must send exactly as given (the size and the type are signed: a file of another size is refused by S3).',
    }),
    expiresAt: z.iso.datetime({ offset: true }),
  }),
  { description: 'Where and how to upload the file of a batch created by an upload request.' },
);

/** A batch as the API shows it. */
export const batchViewSchema = z.withMeta(
  z.object({
    id: batchIdSchema,
    status: z.enum(BATCH_STATUSES),
    source: z.object({ bucket: z.string(), key: z.string() }),
    format: z.nullable(z.enum(PROMPT_FILE_FORMATS)),
    counts: batchCountsSchema,
    costUsd: z.withMeta(z.number(), {
      description: "The provider's cost of the batch's completed generations so far, in USD.",
    }),
    createdAt: z.iso.datetime({ offset: true }),
    updatedAt: z.iso.datetime({ offset: true }),
    completedAt: z.optional(z.iso.datetime({ offset: true })),
    error: z.optional(z.object({ code: z.string(), message: z.string() })),
    metadata: z.optional(metadataSchema),
    links: z.object({
      self: z.string(),
      generations: z.string(),
      report: z.string(),
    }),
    upload: z.withMeta(z.optional(uploadSchema), {
      description: 'Only in the 201 answer of an upload request.',
    }),
  }),
  {
    description:
      'A batch: one prompt file, sent through the API or put straight in the input bucket under prompts/<owner>/.',
  },
);
export type BatchView = z.output<typeof batchViewSchema>;

/** 200 answer of GET /batches. */
export const batchListSchema = z.withMeta(
  z.object({
    items: z.array(batchViewSchema),
    nextCursor: z.withMeta(z.optional(z.string()), {
      description: 'Pass as `cursor` for the next page; absent on the last page.',
    }),
  }),
  { description: "A page of the owner's batches, newest first." },
);

/** 200 answer of GET /batches/{id}/generations. */
export const batchGenerationPageSchema = z.withMeta(
  z.object({
    items: z.array(generationViewSchema),
    nextCursor: z.optional(z.string()),
  }),
  { description: "A page of a batch's generations, in line order." },
);

/** The JSON body of POST /batches asking for a pre-signed upload. */
export const uploadRequestSchema = z.withMeta(
  z.strictObject({
    upload: z.strictObject({
      format: z.enum(PROMPT_FILE_FORMATS),
      bytes: z.withMeta(z.int().check(z.gte(1)), {
        description:
          "The file's exact size; at most the stack's prompt-file limit (50 MiB by default).",
      }),
    }),
    metadata: z.optional(metadataSchema),
    webhook: z.withMeta(z.optional(webhookRequestSchema('batch')), {
      description:
        'Where to announce the end of the batch (`batch.completed`), as for a generation: an https URL on a public host, signed per Standard Webhooks.',
    }),
  }),
  {
    description:
      'Asks for a pre-signed S3 PUT for a file too large for the body. An `application/json` body whose top-level object has the key `upload` is an upload request; any other is a `.json` prompt file.',
    examples: [{ upload: { format: 'jsonl', bytes: 73400320 }, metadata: { run: 'nightly' } }],
  },
);

/** Query of GET /batches, as text. */
export const batchListQuerySchema = z.object({
  status: z.optional(z.enum(BATCH_STATUSES)),
  limit: z.optional(z.string().check(z.regex(/^\d{1,3}$/))),
  cursor: z.optional(z.string()),
});
