/**
 * The webhook routes of the OpenAPI document: the owner's signing secret and a generation's
 * delivery attempts, with the components they name (docs/decisions.md D40).
 */
import { ErrorCodes } from '#shared/errors/codes.ts';
import type * as z from '#shared/zod.ts';
import { errors, INTERNAL, json, THROTTLED, UNAUTHORIZED } from './openapi-parts.ts';
import { generationWebhookSchema } from './schemas.ts';
import {
  deliveriesSchema,
  deliveryAttemptSchema,
  deliveryFailureSchema,
  webhookSecretSchema,
} from './webhook-schemas.ts';

export const WEBHOOK_COMPONENTS: ReadonlyArray<[string, z.core.$ZodType]> = [
  ['Webhook', generationWebhookSchema],
  ['WebhookSecret', webhookSecretSchema],
  ['Deliveries', deliveriesSchema],
  ['DeliveryAttempt', deliveryAttemptSchema],
  ['DeliveryFailure', deliveryFailureSchema],
];

/** The codes a refused `webhook` field answers with. */
export const WEBHOOK_CODES = [ErrorCodes.WEBHOOK_INVALID, ErrorCodes.WEBHOOK_URL_REFUSED] as const;

export function webhookPaths(
  generationIdParameter: Record<string, unknown>,
): Record<string, Record<string, unknown>> {
  return {
    '/webhooks/secret': {
      get: {
        operationId: 'getWebhookSecret',
        tags: ['webhooks'],
        summary: "The owner's webhook signing secret",
        description:
          'Made on the first read. Deliveries carry `webhook-id`, `webhook-timestamp` and `webhook-signature` (`v1,<base64 HMAC-SHA256 of id.timestamp.body>`), per Standard Webhooks.',
        responses: {
          '200': { description: 'The secret.', content: json('WebhookSecret') },
          ...errors(UNAUTHORIZED, THROTTLED, INTERNAL),
        },
      },
    },
    '/webhooks/secret/rotate': {
      post: {
        operationId: 'rotateWebhookSecret',
        tags: ['webhooks'],
        summary: 'Make a new signing secret',
        description:
          'Answers the new secret. For 24 h deliveries carry two signatures, space-separated: the new secret and the previous one.',
        responses: {
          '200': { description: 'The new secret.', content: json('WebhookSecret') },
          ...errors(UNAUTHORIZED, THROTTLED, INTERNAL),
        },
      },
    },
    '/generations/{id}/deliveries': {
      parameters: [generationIdParameter],
      get: {
        operationId: 'listGenerationDeliveries',
        tags: ['webhooks'],
        summary: "The generation's webhook delivery attempts",
        description:
          'Every attempt, oldest first: time, event, status code or error, duration; and the failure, if the delivery was given up after 24 h.',
        responses: {
          '200': { description: 'The attempts.', content: json('Deliveries') },
          ...errors(
            UNAUTHORIZED,
            {
              status: '404',
              codes: [ErrorCodes.API_NOT_FOUND],
              text: "No generation with this id for this owner (another owner's id answers the same).",
            },
            THROTTLED,
            INTERNAL,
          ),
        },
      },
    },
  };
}
