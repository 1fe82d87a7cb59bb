/**
 * The SQS actions the door serves, over the JSON protocol's shapes (the SDK's inputs and
 * outputs), each checked as SQS checks its parameters, and what each one is in IAM's words.
 * Batch entries that fail alone are reported in `Failed`, as SQS does; a request that is wrong
 * as a whole is refused with SQS's error.
 */
import type { RequestedAccess } from '#local/aws/access.ts';
import {
  batchEntryIdsNotDistinct,
  batchRequestTooLong,
  emptyBatchRequest,
  invalidBatchEntryId,
  invalidMessageContents,
  invalidParameter,
  missingParameter,
  SqsError,
  tooManyEntries,
} from '#local/runtime/sqs/errors.ts';
import { LocalSqs } from '#local/runtime/sqs/local-sqs.ts';
import {
  type MessageAttributes,
  md5Hex,
  md5OfMessageAttributes,
  messageSize,
} from '#local/runtime/sqs/messages.ts';
import { MAX_VISIBILITY_SECONDS, type QueueModel } from '#local/runtime/sqs/queue.ts';
import { SQS_ACCOUNT } from '#local/runtime/sqs/template-queues.ts';
import { messageView, queueAttributes } from '#local/runtime/sqs/views.ts';

type Input = Record<string, unknown>;
export type SqsAction = (input: Input, senderId: string) => Promise<unknown> | unknown;

/** The batch actions are authorised as their single action, as SQS does. */
const IAM_ACTION: Record<string, string> = {
  SendMessageBatch: 'sqs:SendMessage',
  DeleteMessageBatch: 'sqs:DeleteMessage',
  ChangeMessageVisibilityBatch: 'sqs:ChangeMessageVisibility',
};

/** What an action does in IAM's words: `sqs:<Action>` on the queue's ARN. */
export function accessesOf(action: string, input: Input): RequestedAccess[] {
  const resource =
    action === 'GetQueueUrl'
      ? `arn:aws:sqs:us-east-1:${text(input.QueueOwnerAWSAccountId) || SQS_ACCOUNT}:${text(input.QueueName)}`
      : LocalSqs.arnOfUrl(text(input.QueueUrl));
  return [{ action: IAM_ACTION[action] ?? `sqs:${action}`, resource }];
}

export function sqsActions(sqs: LocalSqs): Record<string, SqsAction> {
  const queueOf = (input: Input) => sqs.byUrl(required(input, 'QueueUrl'));
  return {
    GetQueueUrl: (input) => ({ QueueUrl: sqs.urlOf(sqs.byName(required(input, 'QueueName'))) }),
    GetQueueAttributes: (input) => {
      const queue = queueOf(input);
      const names = (input.AttributeNames as string[] | undefined) ?? [];
      return { Attributes: queueAttributes(queue, names) };
    },
    SendMessage: (input, senderId) => {
      const queue = queueOf(input);
      return sendOne(queue, input, senderId);
    },
    SendMessageBatch: (input, senderId) => {
      const queue = queueOf(input);
      const entries = batchEntries(input);
      const total = entries.reduce(
        (sum, entry) =>
          sum + messageSize(text(entry.MessageBody), attributesOf(entry.MessageAttributes)),
        0,
      );
      if (total > queue.settings.maximumMessageSize) {
        throw batchRequestTooLong(total, queue.settings.maximumMessageSize);
      }
      return eachEntry(entries, (entry) => sendOne(queue, entry, senderId));
    },
    ReceiveMessage: async (input) => {
      const queue = queueOf(input);
      const max = integer(input.MaxNumberOfMessages, 'MaxNumberOfMessages', 1, 10) ?? 1;
      const visibilityTimeout = integer(
        input.VisibilityTimeout,
        'VisibilityTimeout',
        0,
        MAX_VISIBILITY_SECONDS,
      );
      const waitTimeSeconds = integer(input.WaitTimeSeconds, 'WaitTimeSeconds', 0, 20);
      const received = await sqs.receive(queue, {
        maxNumberOfMessages: max,
        ...(visibilityTimeout !== undefined && { visibilityTimeout }),
        ...(waitTimeSeconds !== undefined && { waitTimeSeconds }),
      });
      const systemNames = [
        ...((input.AttributeNames as string[] | undefined) ?? []),
        ...((input.MessageSystemAttributeNames as string[] | undefined) ?? []),
      ];
      const attributeNames = (input.MessageAttributeNames as string[] | undefined) ?? [];
      if (received.length === 0) return {};
      return {
        Messages: received.map((one) => messageView(one, systemNames, attributeNames)),
      };
    },
    DeleteMessage: (input) => {
      queueOf(input).delete(required(input, 'ReceiptHandle'));
      return {};
    },
    DeleteMessageBatch: (input) => {
      const queue = queueOf(input);
      return eachEntry(batchEntries(input), (entry) => {
        queue.delete(required(entry, 'ReceiptHandle'));
        return {};
      });
    },
    ChangeMessageVisibility: (input) => {
      const queue = queueOf(input);
      queue.changeVisibility(required(input, 'ReceiptHandle'), visibilityOf(input));
      return {};
    },
    ChangeMessageVisibilityBatch: (input) => {
      const queue = queueOf(input);
      return eachEntry(batchEntries(input), (entry) => {
        queue.changeVisibility(required(entry, 'ReceiptHandle'), visibilityOf(entry));
        return {};
      });
    },
  };
}

function sendOne(queue: QueueModel, input: Input, senderId: string) {
  const body = required(input, 'MessageBody');
  // XML's characters, as SQS allows (a lone surrogate, or a control character, is refused).
  if (!/^[\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]*$/u.test(body)) {
    throw invalidMessageContents();
  }
  if (input.MessageGroupId !== undefined || input.MessageDeduplicationId !== undefined) {
    throw invalidParameter(
      'The request include parameter that is not valid for this queue type. Reason: MessageGroupId and MessageDeduplicationId are for FIFO queues.',
    );
  }
  const attributes = attributesOf(input.MessageAttributes);
  const size = messageSize(body, attributes);
  if (size > queue.settings.maximumMessageSize) {
    throw invalidParameter(
      `One or more parameters are invalid. Reason: Message must be shorter than ${queue.settings.maximumMessageSize} bytes.`,
    );
  }
  const delaySeconds = integer(input.DelaySeconds, 'DelaySeconds', 0, 900);
  const message = queue.send(body, attributes, {
    ...(delaySeconds !== undefined && { delaySeconds }),
    senderId,
  });
  const attributesMd5 = md5OfMessageAttributes(attributes);
  return {
    MessageId: message.id,
    MD5OfMessageBody: md5Hex(body),
    ...(attributesMd5 && { MD5OfMessageAttributes: attributesMd5 }),
  };
}

function attributesOf(value: unknown): MessageAttributes {
  if (value === undefined || value === null) return {};
  const attributes = value as MessageAttributes;
  const names = Object.keys(attributes);
  if (names.length > 10) {
    throw invalidParameter(
      `Number of message attributes [${names.length}] exceeds the allowed maximum [10].`,
    );
  }
  for (const [name, attribute] of Object.entries(attributes)) {
    if (!/^(String|Number|Binary)(\..+)?$/.test(text(attribute?.DataType))) {
      throw invalidParameter(
        `The message attribute '${name}' has an invalid message attribute type.`,
      );
    }
    if (attribute.StringValue === undefined && attribute.BinaryValue === undefined) {
      throw invalidParameter(
        `The message attribute '${name}' must contain a non-empty message attribute value.`,
      );
    }
  }
  return attributes;
}

function visibilityOf(input: Input): number {
  const seconds = integer(input.VisibilityTimeout, 'VisibilityTimeout', 0, MAX_VISIBILITY_SECONDS);
  if (seconds === undefined) throw missingParameter('VisibilityTimeout');
  return seconds;
}

/** A batch's entries: 1 to 10, each with a distinct, well-formed id. */
function batchEntries(input: Input): Input[] {
  const entries = (input.Entries as Input[] | undefined) ?? [];
  if (entries.length === 0) throw emptyBatchRequest();
  if (entries.length > 10) throw tooManyEntries(entries.length);
  const ids = new Set<string>();
  for (const entry of entries) {
    const id = text(entry.Id);
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(id)) throw invalidBatchEntryId();
    if (ids.has(id)) throw batchEntryIdsNotDistinct(id);
    ids.add(id);
  }
  return entries;
}

/** Runs each entry; one that fails is in `Failed` with its error, the others in `Successful`. */
function eachEntry(entries: Input[], run: (entry: Input) => Record<string, unknown>) {
  const Successful: Array<Record<string, unknown>> = [];
  const Failed: Array<Record<string, unknown>> = [];
  for (const entry of entries) {
    try {
      Successful.push({ Id: entry.Id, ...run(entry) });
    } catch (error) {
      if (!(error instanceof SqsError)) throw error;
      Failed.push({ Id: entry.Id, SenderFault: true, Code: error.name, Message: error.message });
    }
  }
  return { Successful, Failed };
}

function required(input: Input, name: string): string {
  const value = input[name];
  if (typeof value !== 'string' || value === '') throw missingParameter(name);
  return value;
}

function integer(value: unknown, name: string, min: number, max: number): number | undefined {
  if (value === undefined || value === null) return undefined;
  const number = Number(value);
  if (!Number.isInteger(number) || number < min || number > max) {
    throw invalidParameter(
      `Value ${String(value)} for parameter ${name} is invalid. Reason: Must be between ${min} and ${max}.`,
    );
  }
  return number;
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}
