/**
 * The pipeline's events on EventBridge: one `source`, a detail-type per outcome, and the shape of
 * each detail. Every publisher builds its event here — the workflow's PutEvents states take the
 * names, the API's cancel and the reconciler the whole entry — so consumers can match on one
 * catalogue. Delivery is at least once (EventBridge's own, and the outbox's republishing in
 * shared/generation/outbox.ts): a consumer must tolerate seeing an event twice.
 *
 * No SDK import: the infrastructure code imports this module.
 */
import type { GenerationWebhookEvent } from '#shared/webhooks/event-types.ts';
import type { GenerationError, GenerationSource, StoredImage } from './model.ts';

export const EVENT_SOURCE = 'spark-t2i';
export const EVENT_COMPLETED = 'Generation Completed';
export const EVENT_FAILED = 'Generation Failed';
export const EVENT_CANCELLED = 'Generation Cancelled';

export const GENERATION_EVENT_TYPES = [EVENT_COMPLETED, EVENT_FAILED, EVENT_CANCELLED] as const;
export type GenerationEventType = (typeof GENERATION_EVENT_TYPES)[number];

export interface CompletedDetail {
  readonly id: string;
  readonly owner: string;
  readonly status: 'completed';
  readonly source: GenerationSource;
  readonly sourceRef?: string;
  readonly images: readonly StoredImage[];
  readonly costUsd: number | null;
  /**
   * The events the generation's webhook asked for, empty without one: the bus's rule sends an
   * event to the webhook queue only when its own type is among them (docs/decisions.md D40).
   */
  readonly webhookEvents: readonly GenerationWebhookEvent[];
}

export interface FailedDetail {
  readonly id: string;
  readonly owner: string;
  readonly status: 'failed';
  readonly source: GenerationSource;
  readonly sourceRef?: string;
  readonly error: GenerationError;
  /**
   * The events the generation's webhook asked for, empty without one: the bus's rule sends an
   * event to the webhook queue only when its own type is among them (docs/decisions.md D40).
   */
  readonly webhookEvents: readonly GenerationWebhookEvent[];
}

export interface CancelledDetail {
  readonly id: string;
  readonly owner: string;
  readonly status: 'cancelled';
  readonly error: GenerationError;
  /**
   * The events the generation's webhook asked for, empty without one: the bus's rule sends an
   * event to the webhook queue only when its own type is among them (docs/decisions.md D40).
   */
  readonly webhookEvents: readonly GenerationWebhookEvent[];
}

export interface EventDetails {
  [EVENT_COMPLETED]: CompletedDetail;
  [EVENT_FAILED]: FailedDetail;
  [EVENT_CANCELLED]: CancelledDetail;
}

/** One event, ready for PutEvents (less the bus). */
export interface GenerationEvent<Type extends GenerationEventType = GenerationEventType> {
  readonly source: typeof EVENT_SOURCE;
  readonly detailType: Type;
  readonly detail: EventDetails[Type];
}

/** The record fields an event is built from. */
export interface EventSubject {
  readonly id: string;
  readonly owner: string;
  readonly source: GenerationSource;
  readonly sourceRef?: string;
  readonly images?: readonly StoredImage[];
  readonly costUsd?: number | null;
  readonly error?: GenerationError | null;
  /** The record's webhook: only its events reach the event, never its URL. */
  readonly webhook?: { readonly events: readonly string[] } | null;
}

function webhookEventsOf(subject: Pick<EventSubject, 'webhook'>): GenerationWebhookEvent[] {
  return [...((subject.webhook?.events ?? []) as GenerationWebhookEvent[])];
}

export function completedEvent(subject: EventSubject): GenerationEvent<typeof EVENT_COMPLETED> {
  return {
    source: EVENT_SOURCE,
    detailType: EVENT_COMPLETED,
    detail: {
      id: subject.id,
      owner: subject.owner,
      status: 'completed',
      source: subject.source,
      sourceRef: subject.sourceRef,
      images: subject.images ?? [],
      costUsd: subject.costUsd ?? null,
      webhookEvents: webhookEventsOf(subject),
    },
  };
}

export function failedEvent(
  subject: EventSubject,
  error: GenerationError,
): GenerationEvent<typeof EVENT_FAILED> {
  return {
    source: EVENT_SOURCE,
    detailType: EVENT_FAILED,
    detail: {
      id: subject.id,
      owner: subject.owner,
      status: 'failed',
      source: subject.source,
      sourceRef: subject.sourceRef,
      error,
      webhookEvents: webhookEventsOf(subject),
    },
  };
}

export function cancelledEvent(
  subject: Pick<EventSubject, 'id' | 'owner' | 'webhook'>,
  error: GenerationError,
): GenerationEvent<typeof EVENT_CANCELLED> {
  return {
    source: EVENT_SOURCE,
    detailType: EVENT_CANCELLED,
    detail: {
      id: subject.id,
      owner: subject.owner,
      status: 'cancelled',
      error,
      webhookEvents: webhookEventsOf(subject),
    },
  };
}

const MISSING_ERROR: GenerationError = { code: '', message: '' };

/**
 * The event of a given type for a terminal record, rebuilt from what the record holds: what the
 * outbox republishes when its first publication was lost.
 */
export function eventOfRecord(type: GenerationEventType, subject: EventSubject): GenerationEvent {
  switch (type) {
    case EVENT_COMPLETED:
      return completedEvent(subject);
    case EVENT_FAILED:
      return failedEvent(subject, subject.error ?? MISSING_ERROR);
    case EVENT_CANCELLED:
      return cancelledEvent(subject, subject.error ?? MISSING_ERROR);
  }
}

/** Any event of the pipeline, as PutEvents takes it (less the bus). */
export interface BusEvent {
  readonly source: typeof EVENT_SOURCE;
  readonly detailType: string;
  readonly detail: object;
}

/** Publishes one event; throws when it was not accepted (so the outbox keeps it). */
export type PublishEvent = (event: BusEvent) => Promise<void>;
