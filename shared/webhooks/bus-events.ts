/**
 * Which of the pipeline's bus events (shared/generation/events.ts, shared/batches/events.ts) a
 * webhook can receive, under which name. No SDK import: the stack's rule reads it too.
 */
import { EVENT_BATCH_COMPLETED } from '#shared/batches/model.ts';
import {
  EVENT_CANCELLED,
  EVENT_COMPLETED,
  EVENT_FAILED,
  type GenerationEventType,
} from '#shared/generation/events.ts';
import type { WebhookEventType } from './event-types.ts';

/** The webhook event of each bus detail-type that can be delivered. */
export const WEBHOOK_EVENT_OF_DETAIL_TYPE: Readonly<
  Record<GenerationEventType | typeof EVENT_BATCH_COMPLETED, WebhookEventType>
> = {
  [EVENT_COMPLETED]: 'generation.completed',
  [EVENT_FAILED]: 'generation.failed',
  [EVENT_CANCELLED]: 'generation.cancelled',
  [EVENT_BATCH_COMPLETED]: 'batch.completed',
};

/** The webhook event a bus event is, or undefined for one no webhook receives. */
export function webhookEventOf(detailType: string): WebhookEventType | undefined {
  return Object.hasOwn(WEBHOOK_EVENT_OF_DETAIL_TYPE, detailType)
    ? WEBHOOK_EVENT_OF_DETAIL_TYPE[detailType as keyof typeof WEBHOOK_EVENT_OF_DETAIL_TYPE]
    : undefined;
}
