/**
 * The events a webhook can ask for. No imports: the request schema (`request.ts`) builds on these
 * names, and the console's page reads that schema in the browser.
 */
export const GENERATION_WEBHOOK_EVENTS = [
  'generation.completed',
  'generation.failed',
  'generation.cancelled',
] as const;
export const BATCH_WEBHOOK_EVENTS = ['batch.completed'] as const;

export type GenerationWebhookEvent = (typeof GENERATION_WEBHOOK_EVENTS)[number];
export type BatchWebhookEvent = (typeof BATCH_WEBHOOK_EVENTS)[number];
export type WebhookEventType = GenerationWebhookEvent | BatchWebhookEvent;

/** What a webhook is attached to: its events are that resource's. */
export type WebhookResource = 'generation' | 'batch';

export const WEBHOOK_EVENTS_OF: Record<WebhookResource, readonly WebhookEventType[]> = {
  generation: GENERATION_WEBHOOK_EVENTS,
  batch: BATCH_WEBHOOK_EVENTS,
};

/** A webhook as the record stores it: its URL and the events it asked for (defaults applied). */
export interface StoredWebhook {
  readonly url: string;
  readonly events: readonly WebhookEventType[];
}

/** Whether a webhook asked for this event. */
export function wantsEvent(webhook: StoredWebhook, event: WebhookEventType): boolean {
  return webhook.events.includes(event);
}
