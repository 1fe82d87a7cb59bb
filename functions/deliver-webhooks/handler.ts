/**
 * Webhook deliveries: each message of the webhook queue is a generation's or a batch's end that a
 * webhook asked for; one signed POST per message, its retry scheduled on the queue itself
 * (shared/webhooks/queue.ts). Reports its failures item by item.
 */
import { ChangeMessageVisibilityCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { lambdaHandler } from '#shared/observability/handler.ts';
import { deliveryFromEnv } from '#shared/webhooks/delivery-config.ts';
import { processDeliveries } from '#shared/webhooks/queue.ts';

const { deliver, queueUrl, deadLetterQueueUrl } = deliveryFromEnv();
const sqs = new SQSClient({});

export const handler = lambdaHandler(async (event: SQSEvent) =>
  processDeliveries(event.Records, deliver, {
    changeVisibility: async (receiptHandle, seconds) => {
      await sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: queueUrl,
          ReceiptHandle: receiptHandle,
          VisibilityTimeout: seconds,
        }),
      );
    },
    sendToDeadLetter: async (body) => {
      await sqs.send(new SendMessageCommand({ QueueUrl: deadLetterQueueUrl, MessageBody: body }));
    },
  }),
);
