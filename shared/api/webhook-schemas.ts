/**
 * The answers of the webhook routes, as zod schemas: the OpenAPI document is generated from them
 * (`openapi-webhooks.ts`) and the tests hold the answers to them.
 */
import { ErrorCodes } from '#shared/errors/codes.ts';
import { GENERATION_WEBHOOK_EVENTS } from '#shared/webhooks/event-types.ts';
import * as z from '#shared/zod.ts';

/** GET /webhooks/secret and POST /webhooks/secret/rotate. */
export const webhookSecretSchema = z.withMeta(
  z.object({
    secret: z.withMeta(z.string().check(z.regex(/^whsec_[A-Za-z0-9+/]+={0,2}$/)), {
      description:
        'The Standard Webhooks signing secret: `whsec_` and the key in base64. Verify `webhook-signature` with it (e.g. the `standardwebhooks` package).',
    }),
  }),
  { description: "The owner's webhook signing secret." },
);

export const deliveryAttemptSchema = z.withMeta(
  z.object({
    at: z.withMeta(z.iso.datetime({ offset: true }), { description: 'When it was sent.' }),
    event: z.enum(GENERATION_WEBHOOK_EVENTS),
    webhookId: z.withMeta(z.string(), {
      description: 'The `webhook-id` header: the same on every attempt of one event.',
    }),
    attempt: z.int().check(z.positive()),
    statusCode: z.withMeta(z.optional(z.int()), { description: "The receiver's HTTP status." }),
    error: z.withMeta(z.optional(z.string()), {
      description: 'Why there was no answer: refused target, timeout (10 s), connection error.',
    }),
    durationMs: z.int().check(z.nonnegative()),
  }),
  { description: 'One delivery attempt.' },
);

export const deliveryFailureSchema = z.withMeta(
  z.object({
    at: z.iso.datetime({ offset: true }),
    event: z.enum(GENERATION_WEBHOOK_EVENTS),
    webhookId: z.string(),
    attempts: z.int().check(z.positive()),
    code: z.literal(ErrorCodes.WEBHOOK_DELIVERY_FAILED),
    message: z.string(),
  }),
  { description: 'A delivery given up on after 24 h of attempts.' },
);

/** GET /generations/{id}/deliveries. */
export const deliveriesSchema = z.withMeta(
  z.object({
    items: z.array(deliveryAttemptSchema),
    failure: z.optional(deliveryFailureSchema),
  }),
  { description: "Every attempt of the generation's webhook deliveries, oldest first." },
);
export type DeliveriesView = z.output<typeof deliveriesSchema>;
