/**
 * What a message of the local SQS is, and the digests SQS answers with it: the MD5 of its body
 * (which the SDK checks on every send and receive) and of its message attributes, computed as
 * SQS documents it so a client that checks them finds them right.
 */
import { createHash } from 'node:crypto';

/** One message attribute as the JSON protocol carries it. */
export interface MessageAttributeValue {
  readonly DataType: string;
  readonly StringValue?: string;
  /** Base64, as the JSON protocol sends blobs. */
  readonly BinaryValue?: string;
}

export type MessageAttributes = Readonly<Record<string, MessageAttributeValue>>;

/** A message in a queue, as the queue keeps it (and its journal writes it). */
export interface StoredMessage {
  readonly id: string;
  readonly body: string;
  readonly attributes: MessageAttributes;
  /** Epoch ms of the send to the first queue (kept when a message moves to a dead-letter queue). */
  readonly sentAt: number;
  /** Epoch ms before which no receive returns it (a delay, or a receive's visibility timeout). */
  visibleAt: number;
  receiveCount: number;
  firstReceivedAt?: number;
  /** The handle of its latest receive, and when that receive was (for the 12 hours limit). */
  receipt?: { readonly handle: string; readonly receivedAt: number };
  /** Who sent it (`SenderId`: the caller's access key's principal id). */
  readonly senderId?: string;
  /** Set when it came to a dead-letter queue: the queue it came from. */
  deadLetterSourceArn?: string;
}

export function md5Hex(data: string | Uint8Array): string {
  return createHash('md5').update(data).digest('hex');
}

/**
 * The MD5 SQS answers for a message's attributes: over the attributes sorted by name, each as
 * its name, its data type (both length-prefixed, 4 bytes big-endian), a transport byte (1 for
 * String and Number, 2 for Binary) and its length-prefixed value. Undefined when there are none.
 */
export function md5OfMessageAttributes(attributes: MessageAttributes): string | undefined {
  const names = Object.keys(attributes).sort();
  if (names.length === 0) return undefined;
  const hash = createHash('md5');
  const prefixed = (bytes: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.byteLength);
    hash.update(length);
    hash.update(bytes);
  };
  for (const name of names) {
    const value = attributes[name] as MessageAttributeValue;
    prefixed(Buffer.from(name, 'utf8'));
    prefixed(Buffer.from(value.DataType, 'utf8'));
    if (value.DataType.startsWith('Binary')) {
      hash.update(Buffer.from([2]));
      prefixed(Buffer.from(value.BinaryValue ?? '', 'base64'));
    } else {
      hash.update(Buffer.from([1]));
      prefixed(Buffer.from(value.StringValue ?? '', 'utf8'));
    }
  }
  return hash.digest('hex');
}

/** A message's size as SQS counts it against its limit: the body and every attribute's parts. */
export function messageSize(body: string, attributes: MessageAttributes): number {
  let size = Buffer.byteLength(body, 'utf8');
  for (const [name, value] of Object.entries(attributes)) {
    size += Buffer.byteLength(name, 'utf8') + Buffer.byteLength(value.DataType, 'utf8');
    size +=
      value.BinaryValue !== undefined
        ? Buffer.from(value.BinaryValue, 'base64').byteLength
        : Buffer.byteLength(value.StringValue ?? '', 'utf8');
  }
  return size;
}
