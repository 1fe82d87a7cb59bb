/**
 * The `webhook` field of a submission (POST /generations, an upload request of POST /batches),
 * checked against the target policy: a module of its own, so the batch route's bundle does not
 * carry the generation route's request schema (docs/decisions.md D36).
 */
import type { StoredWebhook, WebhookResource } from '#shared/webhooks/event-types.ts';
import { validateWebhook } from '#shared/webhooks/request.ts';
import { checkWebhookUrl, type WebhookTargetPolicy } from '#shared/webhooks/target.ts';
import { BadRequestError } from './errors.ts';

/** The `webhook` field checked (`090007001`, `090007002`), or the 400 that refuses it. */
export function webhookOf(
  value: unknown,
  resource: WebhookResource,
  policy: WebhookTargetPolicy,
): StoredWebhook {
  const result = validateWebhook(value, resource, (url) => checkWebhookUrl(url, policy));
  if (result.ok) return result.webhook;
  const { code, message, details } = result.problem;
  throw new BadRequestError(code, message, details === undefined ? {} : { details });
}
