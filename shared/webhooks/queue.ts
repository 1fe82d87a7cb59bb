/**
 * The delivery queue's side of a delivery: each SQS message is one bus event (the rule's target
 * sends the event as it is), delivered once per receive. A retry hides the message for its wait
 * (ChangeMessageVisibility) and reports it failed, so Lambda leaves it on the queue; a delivery
 * given up on is copied to the dead-letter queue and reported done. Anything thrown (a table not
 * answering) reports the message failed, to come back after the queue's visibility timeout, and
 * the redrive policy's receive count moves a message that keeps failing to the dead-letter queue.
 */
import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';
import { logger } from '#shared/observability/powertools.ts';
import type { DeliverWebhook, DeliveryOutcome } from './deliver.ts';

export interface DeliveryQueue {
  /** Hides a message for `seconds` (whole, at most 12 h). */
  changeVisibility(receiptHandle: string, seconds: number): Promise<void>;
  /** Keeps a message given up on in the dead-letter queue. */
  sendToDeadLetter(body: string): Promise<void>;
}

/** The bus event in a message body, as much of it as a delivery reads. */
interface BusEventMessage {
  readonly 'detail-type'?: unknown;
  readonly time?: unknown;
  readonly detail?: { readonly id?: unknown };
}

/** SQS's longest visibility timeout. */
const MAX_VISIBILITY_SECONDS = 43_200;

export async function processDeliveries(
  records: readonly SQSRecord[],
  deliver: DeliverWebhook,
  queue: DeliveryQueue,
): Promise<SQSBatchResponse> {
  const failures = await Promise.all(
    records.map(async (record) => ((await processOne(record, deliver, queue)) ? [] : [record])),
  );
  return {
    batchItemFailures: failures.flat().map((record) => ({ itemIdentifier: record.messageId })),
  };
}

/** True when the message is done with (delivered, skipped, given up). */
async function processOne(
  record: SQSRecord,
  deliver: DeliverWebhook,
  queue: DeliveryQueue,
): Promise<boolean> {
  let outcome: DeliveryOutcome;
  try {
    const event = JSON.parse(record.body) as BusEventMessage;
    const subjectId = event.detail?.id;
    const occurredAt = new Date(String(event.time));
    if (typeof subjectId !== 'string' || Number.isNaN(occurredAt.getTime())) {
      logger.error('A webhook message is not a bus event of a subject', {
        messageId: record.messageId,
      });
      return true;
    }
    outcome = await deliver({
      detailType: String(event['detail-type']),
      subjectId,
      occurredAt,
      attempt: Math.max(1, Number(record.attributes.ApproximateReceiveCount) || 1),
    });
    if (outcome.outcome === 'retry') {
      const seconds = Math.min(
        MAX_VISIBILITY_SECONDS,
        Math.max(0, Math.ceil(outcome.delaySeconds)),
      );
      await queue.changeVisibility(record.receiptHandle, seconds);
      return false;
    }
    if (outcome.outcome === 'given-up') {
      await queue.sendToDeadLetter(record.body);
      logger.warn('A webhook delivery was given up', {
        subjectId,
        webhookId: outcome.failure.webhookId,
        attempts: outcome.failure.attempts,
      });
    }
    return true;
  } catch (error) {
    logger.error('A webhook delivery failed before it could be decided', {
      messageId: record.messageId,
      error: error as Error,
    });
    return false;
  }
}
