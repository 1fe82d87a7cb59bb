/**
 * One standard SQS queue, as a model with an injected clock: sends (with their delay), receives
 * (each a new receipt handle, the receive count up, the message invisible for the visibility
 * timeout), deletes, visibility changes, retention, and the redrive of a message received
 * `maxReceiveCount` times to its dead-letter queue. Durations are SQS's seconds, lasting
 * `timeScale` times as long (the runtime's time scale); timestamps are the clock's epoch ms.
 *
 * Every change goes through `QueueChanges` (the journal) before it is answered, so a restarted
 * runtime finds the queue as it was: a message received and not deleted comes back when its
 * visibility timeout ends, as on AWS, whatever happened to the process in between.
 */
import { randomUUID } from 'node:crypto';
import {
  messageNotInflight,
  receiptHandleIsInvalid,
  receiptHandleNotUsable,
} from '#local/runtime/sqs/errors.ts';
import type { MessageAttributes, StoredMessage } from '#local/runtime/sqs/messages.ts';

/** A queue's settings, from its `AWS::SQS::Queue` properties (seconds, as SQS counts them). */
export interface QueueSettings {
  readonly name: string;
  readonly arn: string;
  /** @default 30 */
  readonly visibilityTimeout: number;
  /** @default 345600 (4 days) */
  readonly messageRetentionPeriod: number;
  /** @default 0 */
  readonly delaySeconds: number;
  /** @default 0 */
  readonly receiveMessageWaitTimeSeconds: number;
  /** @default 262144 */
  readonly maximumMessageSize: number;
  readonly redrivePolicy?: {
    readonly deadLetterTargetArn: string;
    readonly maxReceiveCount: number;
  };
}

/** What a queue writes down before it answers (the journal; `queue-journal.ts`). */
export interface QueueChanges {
  sent(queue: string, message: StoredMessage): void;
  /** A receive, a visibility change or a move: the message's new state, whole. */
  updated(queue: string, message: StoredMessage): void;
  deleted(queue: string, messageId: string): void;
}

export interface QueueClock {
  now(): number;
}

/** The longest a message may stay invisible after a receive: 12 hours. */
export const MAX_VISIBILITY_SECONDS = 43_200;

/** Where a message received too often goes: its dead-letter queue (a `QueueModel` by ARN). */
export type DeadLetterTarget = (arn: string) => QueueModel | undefined;

/** A received message, with the handle of this receive. */
export interface ReceivedMessage {
  readonly message: StoredMessage;
  readonly receiptHandle: string;
}

export class QueueModel {
  readonly settings: QueueSettings;
  readonly #messages = new Map<string, StoredMessage>();
  readonly #clock: QueueClock;
  readonly #timeScale: number;
  readonly #changes: QueueChanges;
  readonly #deadLetters: DeadLetterTarget;
  readonly #listeners = new Set<() => void>();

  constructor(options: {
    settings: QueueSettings;
    clock: QueueClock;
    timeScale: number;
    changes: QueueChanges;
    deadLetters?: DeadLetterTarget;
    /** What the journal held for this queue at the start. */
    restored?: Iterable<StoredMessage>;
  }) {
    this.settings = options.settings;
    this.#clock = options.clock;
    this.#timeScale = options.timeScale;
    this.#changes = options.changes;
    this.#deadLetters = options.deadLetters ?? (() => undefined);
    for (const message of options.restored ?? []) this.#messages.set(message.id, message);
  }

  /** SQS seconds as the clock's ms at this time scale. */
  scaled(seconds: number): number {
    return seconds * 1000 * this.#timeScale;
  }

  /** A new message, visible after its delay (the queue's `DelaySeconds` unless it names one). */
  send(
    body: string,
    attributes: MessageAttributes = {},
    options: { readonly delaySeconds?: number; readonly senderId?: string } = {},
  ): StoredMessage {
    const now = this.#clock.now();
    const message: StoredMessage = {
      id: randomUUID(),
      body,
      attributes,
      sentAt: now,
      visibleAt: now + this.scaled(options.delaySeconds ?? this.settings.delaySeconds),
      receiveCount: 0,
      ...(options.senderId !== undefined && { senderId: options.senderId }),
    };
    this.#changes.sent(this.settings.name, message);
    this.#messages.set(message.id, message);
    this.#wake();
    return message;
  }

  /**
   * Up to `max` visible messages, oldest first, each now invisible for `visibilityTimeout`
   * seconds (the queue's own by default). A message already received `maxReceiveCount` times is
   * moved to the dead-letter queue instead of being returned, as SQS does on the receive that
   * would exceed the count.
   */
  receive(max: number, visibilityTimeout?: number): ReceivedMessage[] {
    const now = this.#clock.now();
    this.#expire(now);
    const received: ReceivedMessage[] = [];
    const redrive = this.settings.redrivePolicy;
    for (const message of [...this.#messages.values()].sort((a, b) => a.sentAt - b.sentAt)) {
      if (received.length >= max) break;
      if (message.visibleAt > now) continue;
      if (redrive && message.receiveCount >= redrive.maxReceiveCount) {
        const target = this.#deadLetters(redrive.deadLetterTargetArn);
        if (target) {
          this.#moveTo(target, message);
          continue;
        }
      }
      const receiptHandle = encodeHandle(this.settings.name, message.id);
      message.receiveCount += 1;
      message.firstReceivedAt ??= now;
      message.receipt = { handle: receiptHandle, receivedAt: now };
      message.visibleAt = now + this.scaled(visibilityTimeout ?? this.settings.visibilityTimeout);
      this.#changes.updated(this.settings.name, message);
      received.push({ message, receiptHandle });
    }
    return received;
  }

  /**
   * Deletes the message of this receipt handle. As SQS: a handle of a message already gone
   * succeeds, and so does a handle of an earlier receive (the message stays, received again).
   */
  delete(receiptHandle: string): void {
    const message = this.#messageOf(receiptHandle);
    if (!message || message.receipt?.handle !== receiptHandle) return;
    this.#changes.deleted(this.settings.name, message.id);
    this.#messages.delete(message.id);
  }

  /**
   * Makes the message of this receipt handle visible `seconds` from now (0: at once). It must be
   * in flight under this very receive, and stay invisible at most 12 hours from that receive.
   */
  changeVisibility(receiptHandle: string, seconds: number): void {
    const message = this.#messageOf(receiptHandle);
    if (!message) {
      throw receiptHandleNotUsable(
        receiptHandle,
        'Message does not exist or is not available for visibility timeout change.',
      );
    }
    const now = this.#clock.now();
    if (message.receipt?.handle !== receiptHandle || message.visibleAt <= now) {
      throw messageNotInflight();
    }
    const visibleAt = now + this.scaled(seconds);
    if (visibleAt > message.receipt.receivedAt + this.scaled(MAX_VISIBILITY_SECONDS)) {
      throw receiptHandleNotUsable(
        receiptHandle,
        `Total VisibilityTimeout for the message is beyond the limit [${MAX_VISIBILITY_SECONDS} seconds]`,
      );
    }
    message.visibleAt = visibleAt;
    this.#changes.updated(this.settings.name, message);
    if (seconds === 0) this.#wake();
  }

  /** Takes a message moved here from another queue (its dead-letter queue is this one). */
  acceptDeadLetter(message: StoredMessage, sourceArn: string): void {
    const moved: StoredMessage = {
      ...message,
      visibleAt: this.#clock.now(),
      deadLetterSourceArn: sourceArn,
    };
    delete moved.receipt;
    this.#changes.sent(this.settings.name, moved);
    this.#messages.set(moved.id, moved);
    this.#wake();
  }

  /** `ApproximateNumberOfMessages…` as SQS answers them (exact here). */
  counts(): { visible: number; inFlight: number; delayed: number } {
    const now = this.#clock.now();
    this.#expire(now);
    let visible = 0;
    let inFlight = 0;
    let delayed = 0;
    for (const message of this.#messages.values()) {
      if (message.visibleAt <= now) visible++;
      else if (message.receipt) inFlight++;
      else delayed++;
    }
    return { visible, inFlight, delayed };
  }

  /** Epoch ms at which the next invisible message becomes visible (undefined: none waiting). */
  nextVisibleAt(): number | undefined {
    let next: number | undefined;
    const now = this.#clock.now();
    for (const message of this.#messages.values()) {
      if (message.visibleAt > now && (next === undefined || message.visibleAt < next)) {
        next = message.visibleAt;
      }
    }
    return next;
  }

  /** Called whenever a message may have become receivable (a send, a visibility set to 0). */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  messages(): readonly StoredMessage[] {
    return [...this.#messages.values()];
  }

  #moveTo(target: QueueModel, message: StoredMessage): void {
    target.acceptDeadLetter(message, this.settings.arn);
    this.#changes.deleted(this.settings.name, message.id);
    this.#messages.delete(message.id);
  }

  /** Messages older than the retention period are gone, as SQS deletes them. */
  #expire(now: number): void {
    const retention = this.scaled(this.settings.messageRetentionPeriod);
    for (const message of this.#messages.values()) {
      if (now - message.sentAt < retention) continue;
      this.#changes.deleted(this.settings.name, message.id);
      this.#messages.delete(message.id);
    }
  }

  #messageOf(receiptHandle: string): StoredMessage | undefined {
    const decoded = decodeHandle(receiptHandle);
    if (!decoded || decoded.queue !== this.settings.name) {
      throw receiptHandleIsInvalid(receiptHandle);
    }
    return this.#messages.get(decoded.messageId);
  }

  #wake(): void {
    for (const listener of this.#listeners) listener();
  }
}

/**
 * A receipt handle: opaque to callers (base64url), naming the queue, the message and this
 * receive. A string that does not decode to one is `ReceiptHandleIsInvalid`, as on SQS.
 */
function encodeHandle(queue: string, messageId: string): string {
  return Buffer.from(JSON.stringify([queue, messageId, randomUUID()]), 'utf8').toString(
    'base64url',
  );
}

function decodeHandle(handle: string): { queue: string; messageId: string } | undefined {
  try {
    const parts = JSON.parse(Buffer.from(handle, 'base64url').toString('utf8')) as unknown;
    if (!Array.isArray(parts) || parts.length !== 3) return undefined;
    const [queue, messageId, nonce] = parts as unknown[];
    if (typeof queue !== 'string' || typeof messageId !== 'string' || typeof nonce !== 'string') {
      return undefined;
    }
    return { queue, messageId };
  } catch {
    return undefined;
  }
}
