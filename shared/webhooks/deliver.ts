/**
 * One delivery attempt of one event: read the subject (its webhook, and what GET answers for it),
 * sign the body with the owner's secrets, POST it through the guard, record the attempt, and say
 * what comes next: nothing (delivered, or not wanted), a retry after a wait, or giving up.
 * The caller (the queue's function) turns that into SQS calls; nothing here knows of SQS.
 */
import { ErrorCodes } from '#shared/errors/codes.ts';
import { type RetryClock, retryDelaySeconds } from './backoff.ts';
import { type WebhookBodyData, webhookBody, webhookIdOf } from './body.ts';
import { webhookEventOf } from './bus-events.ts';
import type { DeliveryAttempt, DeliveryFailure, DeliverySubject } from './deliveries.ts';
import { type WebhookResource, wantsEvent } from './event-types.ts';
import { signDelivery } from './signing.ts';
import type { PostWebhook } from './target.ts';

/** The event to deliver, as the queue's message says it. */
export interface DeliveryRequest {
  /** The bus event's detail-type (`Generation Completed`, `Batch Completed`…). */
  readonly detailType: string;
  /** The generation's or the batch's id. */
  readonly subjectId: string;
  /** When the event happened: the body's timestamp, and where the 24 h window starts. */
  readonly occurredAt: Date;
  /** This attempt's number, 1 for the first. */
  readonly attempt: number;
}

export type DeliveryOutcome =
  | { readonly outcome: 'delivered'; readonly attempt: DeliveryAttempt }
  | { readonly outcome: 'skipped'; readonly reason: string }
  | { readonly outcome: 'retry'; readonly delaySeconds: number; readonly attempt: DeliveryAttempt }
  | { readonly outcome: 'given-up'; readonly failure: DeliveryFailure };

/** Reading and writing a subject's deliveries (`DeliveryLog`). */
export interface DeliveryStore {
  read(id: string): Promise<DeliverySubject | undefined>;
  append(id: string, attempt: DeliveryAttempt): Promise<boolean>;
  recordFailure(id: string, failure: DeliveryFailure): Promise<boolean>;
}

export interface DeliverWebhookDeps {
  readonly stores: Readonly<Record<WebhookResource, DeliveryStore>>;
  /** The subject as its GET answers it (pre-signed image URLs included); undefined if gone. */
  readonly views: Readonly<
    Record<WebhookResource, (id: string) => Promise<WebhookBodyData | undefined>>
  >;
  readonly secrets: { signingSecrets(owner: string): Promise<[string, ...string[]]> };
  readonly post: PostWebhook;
  readonly now: () => Date;
  readonly retry: RetryClock;
}

export type DeliverWebhook = (request: DeliveryRequest) => Promise<DeliveryOutcome>;

export function deliverWebhook(deps: DeliverWebhookDeps): DeliverWebhook {
  return async (request) => {
    const event = webhookEventOf(request.detailType);
    if (event === undefined) return skipped(`no webhook event for ${request.detailType}`);
    const resource: WebhookResource = event === 'batch.completed' ? 'batch' : 'generation';
    const store = deps.stores[resource];
    const subject = await store.read(request.subjectId);
    if (subject === undefined) return skipped('the subject is gone');
    const { webhook } = subject;
    if (webhook === undefined || !wantsEvent(webhook, event)) return skipped('not asked for');
    const webhookId = webhookIdOf(event, subject.id);
    if (alreadySettled(subject, webhookId)) return skipped('already delivered or given up');

    const data = await deps.views[resource](subject.id);
    if (data === undefined) return skipped('the subject is gone');
    const body = webhookBody(event, request.occurredAt, data);
    const sentAt = deps.now();
    const headers = signDelivery(
      await deps.secrets.signingSecrets(subject.owner),
      webhookId,
      sentAt,
      body,
    );
    const answer = await send(deps, webhook.url, headers, body);
    const attempt: DeliveryAttempt = {
      at: sentAt.toISOString(),
      event,
      webhookId,
      attempt: request.attempt,
      ...answer,
      durationMs: Math.max(0, deps.now().getTime() - sentAt.getTime()),
    };
    await store.append(subject.id, attempt);
    if (isSuccess(attempt)) return { outcome: 'delivered', attempt };

    const elapsedSeconds = (deps.now().getTime() - request.occurredAt.getTime()) / 1000;
    const delaySeconds = retryDelaySeconds(request.attempt, elapsedSeconds, deps.retry);
    if (delaySeconds !== undefined) return { outcome: 'retry', delaySeconds, attempt };
    const failure: DeliveryFailure = {
      at: deps.now().toISOString(),
      event,
      webhookId,
      attempts: request.attempt,
      code: ErrorCodes.WEBHOOK_DELIVERY_FAILED,
      message: `No 2xx answer in 24 h; last: ${attempt.statusCode !== undefined ? `HTTP ${attempt.statusCode}` : attempt.error}`,
    };
    await store.recordFailure(subject.id, failure);
    return { outcome: 'given-up', failure };
  };
}

function skipped(reason: string): DeliveryOutcome {
  return { outcome: 'skipped', reason };
}

function isSuccess(attempt: DeliveryAttempt): boolean {
  return attempt.statusCode !== undefined && attempt.statusCode >= 200 && attempt.statusCode < 300;
}

/** A second delivery of the same bus event finds its first one done: nothing is sent twice. */
function alreadySettled(subject: DeliverySubject, webhookId: string): boolean {
  if (subject.failure?.webhookId === webhookId) return true;
  return subject.attempts.some((attempt) => attempt.webhookId === webhookId && isSuccess(attempt));
}

async function send(
  deps: DeliverWebhookDeps,
  url: string,
  headers: Readonly<Record<string, string>>,
  body: string,
): Promise<{ statusCode: number } | { error: string }> {
  try {
    const { status } = await deps.post({ url, headers, body });
    return { statusCode: status };
  } catch (error) {
    return { error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
  }
}
