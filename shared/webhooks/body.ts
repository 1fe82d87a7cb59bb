/**
 * What a delivery carries: `{"type", "timestamp", "data"}`, and the `webhook-id` receivers dedupe
 * on. The id is derived from the event (its type and its subject), so every attempt of one event,
 * and a second delivery of the same bus event, carry the same id.
 */
import { createHash } from 'node:crypto';
import type { WebhookEventType } from './event-types.ts';

/** The subject's view: a JSON object. */
export type WebhookBodyData = Readonly<Record<string, unknown>>;

export interface WebhookBody<Data = unknown> {
  readonly type: WebhookEventType;
  /** When the event happened (the subject's terminal time), ISO 8601. */
  readonly timestamp: string;
  /** The generation as GET /generations/{id} answers it, or the batch as GET /batches/{id}. */
  readonly data: Data;
}

/** The body's JSON text: what is signed is exactly what is sent. */
export function webhookBody(type: WebhookEventType, timestamp: Date, data: unknown): string {
  const body: WebhookBody = { type, timestamp: timestamp.toISOString(), data };
  return JSON.stringify(body);
}

/** `msg_` and 32 hex digits of SHA-256 over the event type and the subject's id. */
export function webhookIdOf(type: WebhookEventType, subjectId: string): string {
  const digest = createHash('sha256').update(type).update('\0').update(subjectId).digest('hex');
  return `msg_${digest.slice(0, 32)}`;
}
