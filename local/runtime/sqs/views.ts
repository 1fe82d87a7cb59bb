/**
 * How the local SQS shows a received message and a queue's attributes, as the JSON protocol
 * answers them: the system attributes a receive asked for (`All`, or by name), the message
 * attributes it asked for (`All`, names, or `prefix.*`), and the queue's attributes as strings.
 */

import { invalidAttributeName } from '#local/runtime/sqs/errors.ts';
import {
  type MessageAttributes,
  md5Hex,
  md5OfMessageAttributes,
} from '#local/runtime/sqs/messages.ts';
import type { QueueModel, ReceivedMessage } from '#local/runtime/sqs/queue.ts';

/** A message's system attributes, every one SQS has for a standard queue. */
export function systemAttributes(received: ReceivedMessage): Record<string, string> {
  const { message } = received;
  return {
    SenderId: message.senderId ?? '000000000000',
    SentTimestamp: String(message.sentAt),
    ApproximateReceiveCount: String(message.receiveCount),
    ApproximateFirstReceiveTimestamp: String(message.firstReceivedAt ?? message.sentAt),
    ...(message.deadLetterSourceArn && { DeadLetterQueueSourceArn: message.deadLetterSourceArn }),
  };
}

export function messageView(
  received: ReceivedMessage,
  systemNames: readonly string[],
  attributeNames: readonly string[],
) {
  const { message, receiptHandle } = received;
  const all = systemAttributes(received);
  const wantsAll = systemNames.includes('All');
  const attributes = Object.fromEntries(
    Object.entries(all).filter(([name]) => wantsAll || systemNames.includes(name)),
  );
  const messageAttributes = selectAttributes(message.attributes, attributeNames);
  const attributesMd5 = md5OfMessageAttributes(messageAttributes);
  return {
    MessageId: message.id,
    ReceiptHandle: receiptHandle,
    MD5OfBody: md5Hex(message.body),
    Body: message.body,
    ...(Object.keys(attributes).length > 0 && { Attributes: attributes }),
    ...(attributesMd5 && {
      MD5OfMessageAttributes: attributesMd5,
      MessageAttributes: messageAttributes,
    }),
  };
}

/** The message attributes a receive asked for by name, `All` / `.*`, or `prefix.*`. */
export function selectAttributes(
  attributes: MessageAttributes,
  names: readonly string[],
): MessageAttributes {
  const wanted = (name: string) =>
    names.some(
      (pattern) =>
        pattern === 'All' ||
        pattern === '.*' ||
        pattern === name ||
        (pattern.endsWith('.*') && name.startsWith(pattern.slice(0, -1))),
    );
  return Object.fromEntries(Object.entries(attributes).filter(([name]) => wanted(name)));
}

const QUEUE_ATTRIBUTE_NAMES = [
  'QueueArn',
  'ApproximateNumberOfMessages',
  'ApproximateNumberOfMessagesNotVisible',
  'ApproximateNumberOfMessagesDelayed',
  'VisibilityTimeout',
  'MessageRetentionPeriod',
  'DelaySeconds',
  'ReceiveMessageWaitTimeSeconds',
  'MaximumMessageSize',
  'RedrivePolicy',
];

/** A queue's attributes by name (`All` for every one), as strings. */
export function queueAttributes(
  queue: QueueModel,
  names: readonly string[],
): Record<string, string> {
  for (const name of names) {
    if (name !== 'All' && !QUEUE_ATTRIBUTE_NAMES.includes(name)) throw invalidAttributeName(name);
  }
  const { settings } = queue;
  const counts = queue.counts();
  const all: Record<string, string> = {
    QueueArn: settings.arn,
    ApproximateNumberOfMessages: String(counts.visible),
    ApproximateNumberOfMessagesNotVisible: String(counts.inFlight),
    ApproximateNumberOfMessagesDelayed: String(counts.delayed),
    VisibilityTimeout: String(settings.visibilityTimeout),
    MessageRetentionPeriod: String(settings.messageRetentionPeriod),
    DelaySeconds: String(settings.delaySeconds),
    ReceiveMessageWaitTimeSeconds: String(settings.receiveMessageWaitTimeSeconds),
    MaximumMessageSize: String(settings.maximumMessageSize),
    ...(settings.redrivePolicy && { RedrivePolicy: JSON.stringify(settings.redrivePolicy) }),
  };
  if (names.includes('All')) return all;
  return Object.fromEntries(Object.entries(all).filter(([name]) => names.includes(name)));
}
