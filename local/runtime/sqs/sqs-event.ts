/**
 * One record of the event Lambda's SQS poller invokes a function with, in Lambda's shape: the
 * message's id, this receive's handle, the body, the system attributes Lambda passes, the message
 * attributes in Lambda's camel case, the digests, and where it came from.
 */
import {
  type MessageAttributes,
  md5Hex,
  md5OfMessageAttributes,
} from '#local/runtime/sqs/messages.ts';
import type { ReceivedMessage } from '#local/runtime/sqs/queue.ts';
import { systemAttributes } from '#local/runtime/sqs/views.ts';
import { LOCAL_REGION } from '#local/runtime/storage.ts';

export interface SqsEventRecord {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly body: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly messageAttributes: Readonly<Record<string, LambdaMessageAttribute>>;
  readonly md5OfBody: string;
  readonly md5OfMessageAttributes?: string;
  readonly eventSource: 'aws:sqs';
  readonly eventSourceARN: string;
  readonly awsRegion: string;
}

export interface LambdaMessageAttribute {
  readonly dataType: string;
  readonly stringValue?: string;
  readonly binaryValue?: string;
  readonly stringListValues: readonly string[];
  readonly binaryListValues: readonly string[];
}

export function sqsEventRecord(received: ReceivedMessage, queueArn: string): SqsEventRecord {
  const { message, receiptHandle } = received;
  const attributesMd5 = md5OfMessageAttributes(message.attributes);
  return {
    messageId: message.id,
    receiptHandle,
    body: message.body,
    attributes: systemAttributes(received),
    messageAttributes: lambdaAttributes(message.attributes),
    md5OfBody: md5Hex(message.body),
    ...(attributesMd5 && { md5OfMessageAttributes: attributesMd5 }),
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: LOCAL_REGION,
  };
}

function lambdaAttributes(attributes: MessageAttributes): Record<string, LambdaMessageAttribute> {
  return Object.fromEntries(
    Object.entries(attributes).map(([name, value]) => [
      name,
      {
        dataType: value.DataType,
        ...(value.StringValue !== undefined && { stringValue: value.StringValue }),
        ...(value.BinaryValue !== undefined && { binaryValue: value.BinaryValue }),
        stringListValues: [],
        binaryListValues: [],
      },
    ]),
  );
}
