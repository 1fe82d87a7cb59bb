/**
 * The API's bodies as zod schemas: what POST /generations takes beyond the request schema, and
 * the shape of every answer. The OpenAPI document is generated from these (`openapi.ts`), and the
 * tests hold the answers to them.
 */
import { ErrorCodeDescriptions, ErrorCodes } from '#shared/errors/codes.ts';
import {
  GENERATION_SOURCES,
  GENERATION_STATUSES,
  generationIdSchema,
} from '#shared/generation/model.ts';
import { generationRequestSchema, SEED_MAX } from '#shared/request/schema.ts';
import { GENERATION_WEBHOOK_EVENTS } from '#shared/webhooks/event-types.ts';
import { webhookRequestSchema } from '#shared/webhooks/request.ts';
import * as z from '#shared/zod.ts';
import { MAX_METADATA_DEPTH } from './json-limits.ts';
import { DEFAULT_METADATA_MAX_BYTES, LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX } from './limits.ts';

const ALL_ERROR_CODES = Object.values(ErrorCodes) as [string, ...string[]];

export const metadataSchema = z.withMeta(z.record(z.string(), z.unknown()), {
  description: `Free-form JSON object stored with the generation and returned with it as sent (any JSON numbers and keys, nested at most ${MAX_METADATA_DEPTH} levels); at most ${DEFAULT_METADATA_MAX_BYTES} bytes of JSON by default.`,
});

export const generationWebhookSchema = z.withMeta(webhookRequestSchema('generation'), {
  description:
    'Where to announce the end of the generation: an https URL on a public host (no credentials), and the events wanted (default: all three). Deliveries are signed per Standard Webhooks with the secret of GET /webhooks/secret.',
});

/** POST /generations body: the generation request plus optional `metadata` and `webhook`. */
export const generationSubmissionSchema = z.withMeta(
  z.safeExtend(generationRequestSchema, {
    metadata: z.optional(metadataSchema),
    webhook: z.optional(generationWebhookSchema),
  }),
  {
    description:
      'A generation request. Checks run in the order of the provider table; the first failure is the answer code, `details` lists all.',
    examples: [
      {
        prompt: 'a lighthouse at dawn, watercolour',
        width: 1472,
        height: 1104,
        seed: 42,
        metadata: { sku: 'LH-1' },
      },
    ],
  },
);

export const warningSchema = z.withMeta(z.object({ code: z.string(), message: z.string() }), {
  description: 'Something accepted but worth knowing, such as a prompt longer than recommended.',
});

/** 202 answer of POST /generations. */
export const generationAcceptedSchema = z.withMeta(
  z.object({
    id: generationIdSchema,
    status: z.literal('queued'),
    warnings: z.optional(z.array(warningSchema)),
    links: z.object({
      self: z.withMeta(z.string(), { description: 'Path of the generation: /generations/{id}' }),
    }),
  }),
  { description: 'The generation is recorded and its workflow started.' },
);

/** The request as the generation stores it: trimmed prompt, defaults applied. */
export const storedRequestSchema = z.withMeta(
  z.object({
    prompt: z.string(),
    use_pre_llm: z.boolean(),
    seed: z.int().check(z.gte(-1), z.lte(SEED_MAX)),
    width: z.int().check(z.positive()),
    height: z.int().check(z.positive()),
  }),
  { description: 'The normalised request: prompt trimmed, defaults applied.' },
);

export const imageViewSchema = z.withMeta(
  z.object({
    url: z.withMeta(z.url(), { description: 'Pre-signed, time-limited GET URL of the image.' }),
    bucket: z.string(),
    key: z.string(),
    size: z.withMeta(z.int().check(z.nonnegative()), { description: 'Bytes.' }),
    sha256: z.string().check(z.regex(/^[0-9a-f]{64}$/)),
    contentType: z.string(),
    width: z.int().check(z.positive()),
    height: z.int().check(z.positive()),
  }),
  { description: 'An image stored in the images bucket.' },
);

export const usageSchema = z.withMeta(
  z.looseObject({
    cost: z.withMeta(z.union([z.string(), z.number()]), {
      description:
        'The cost in USD exactly as the provider wrote it: usually a decimal string such as "0.03". `costUsd` of the generation is the same figure as a number.',
    }),
    discount: z.optional(z.number()),
    input_tokens: z.optional(z.number()),
    output_tokens: z.optional(z.number()),
    total_tokens: z.optional(z.number()),
  }),
  {
    description:
      "The provider's usage figures for the task, passed through as the provider gave them (types included), with any fields it adds. For the cost as a number, read `costUsd`.",
  },
);

export const generationErrorSchema = z.withMeta(
  z.object({ code: z.string(), message: z.string() }),
  { description: 'Why the generation failed or was cancelled (see the error-code table).' },
);

/** A generation as the API shows it. */
export const generationViewSchema = z.withMeta(
  z.object({
    id: generationIdSchema,
    status: z.enum(GENERATION_STATUSES),
    request: storedRequestSchema,
    source: z.enum(GENERATION_SOURCES),
    sourceRef: z.optional(z.string()),
    sparkTaskId: z.optional(z.string()),
    polls: z.int().check(z.nonnegative()),
    images: z.array(imageViewSchema),
    usage: z.optional(usageSchema),
    costUsd: z.withMeta(z.optional(z.number()), {
      description:
        "The task's cost in USD as a number, read from the provider's `usage.cost`; absent when the provider gave none.",
    }),
    error: z.optional(generationErrorSchema),
    metadata: z.optional(metadataSchema),
    webhook: z.optional(
      z.object({ url: z.string(), events: z.array(z.enum(GENERATION_WEBHOOK_EVENTS)) }),
    ),
    createdAt: z.iso.datetime({ offset: true }),
    updatedAt: z.iso.datetime({ offset: true }),
    completedAt: z.optional(z.iso.datetime({ offset: true })),
  }),
  { description: 'A generation and, once completed, its images.' },
);
export type GenerationView = z.output<typeof generationViewSchema>;

/** 200 answer of GET /generations. */
export const generationPageSchema = z.withMeta(
  z.object({
    items: z.array(generationViewSchema),
    nextCursor: z.withMeta(z.optional(z.string()), {
      description: 'Pass as `cursor` for the next page; absent on the last page.',
    }),
  }),
  { description: "A page of the owner's generations, newest first." },
);

export const validationDetailSchema = z.looseObject({
  code: z.string(),
  message: z.string(),
  field: z.optional(z.string()),
});

/** The body of every error answer. */
export const errorBodySchema = z.withMeta(
  z.object({
    error: z.object({
      code: z.withMeta(z.enum(ALL_ERROR_CODES), {
        description: 'A 9-digit code of the error-code table (`x-error-codes` of this document).',
      }),
      message: z.string(),
      details: z.optional(z.array(validationDetailSchema)),
    }),
  }),
  { description: 'An error: a documented code, a message for people, and details if any.' },
);

/** Query of GET /generations, as text (the way it arrives). */
export const listQuerySchema = z.object({
  status: z.optional(z.enum(GENERATION_STATUSES)),
  limit: z.withMeta(z.optional(z.string().check(z.regex(/^\d{1,3}$/))), {
    description: `1-${LIST_LIMIT_MAX}, default ${LIST_LIMIT_DEFAULT}.`,
  }),
  cursor: z.optional(z.string()),
});

/** Every code with its meaning, for the document and for callers. */
export function errorCodeTable(): { code: string; name: string; description: string }[] {
  return Object.entries(ErrorCodes).map(([name, code]) => ({
    code,
    name,
    description: ErrorCodeDescriptions[code],
  }));
}
