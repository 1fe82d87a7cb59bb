/**
 * The local SQS's queues: one `QueueModel` per `AWS::SQS::Queue` of the template, kept in the
 * data dir's journal, found by URL, ARN or name, with long polling (a receive that waits, up to
 * its wait time, for a message to become visible). The door (`door.ts`) serves them to the SDK;
 * the runtime's own senders (EventBridge targets, Lambda's failure destinations) and the event
 * source mappings' pollers use them directly, each authorised as the service that acts would be.
 */
import { join } from 'node:path';
import type { CfnTemplate } from '#infra/asl.ts';
import { queueDoesNotExist } from '#local/runtime/sqs/errors.ts';
import { type QueueClock, QueueModel, type ReceivedMessage } from '#local/runtime/sqs/queue.ts';
import { QUEUES_JOURNAL, QueueJournal } from '#local/runtime/sqs/queue-journal.ts';
import { SQS_ACCOUNT, templateQueues } from '#local/runtime/sqs/template-queues.ts';

export interface LocalSqsOptions {
  readonly template: CfnTemplate;
  readonly dataDir: string;
  /** Every SQS duration (visibility, delay, retention, wait) lasts this many times as long. */
  readonly timeScale: number;
  /** @default the system clock */
  readonly clock?: QueueClock;
}

export interface ReceiveRequest {
  readonly maxNumberOfMessages: number;
  /** Seconds; the queue's own when undefined. */
  readonly visibilityTimeout?: number;
  /** Seconds of long polling; the queue's `ReceiveMessageWaitTimeSeconds` when undefined. */
  readonly waitTimeSeconds?: number;
}

export class LocalSqs {
  readonly #queues = new Map<string, QueueModel>();
  readonly #byArn = new Map<string, QueueModel>();
  readonly #timeScale: number;
  readonly #clock: QueueClock;
  /** Long polls in progress, ended at once by `close`. */
  readonly #waiting = new Set<() => void>();
  #endpoint = 'http://127.0.0.1';
  #closed = false;

  constructor(options: LocalSqsOptions) {
    this.#timeScale = options.timeScale;
    this.#clock = options.clock ?? { now: () => Date.now() };
    const journal = QueueJournal.open(join(options.dataDir, QUEUES_JOURNAL));
    for (const settings of templateQueues(options.template)) {
      const queue = new QueueModel({
        settings,
        clock: this.#clock,
        timeScale: options.timeScale,
        changes: journal,
        deadLetters: (arn) => this.#byArn.get(arn),
        restored: journal.restored(settings.name),
      });
      this.#queues.set(settings.name, queue);
      this.#byArn.set(settings.arn, queue);
    }
  }

  /** Where the door listens: the origin of every queue URL it hands out. */
  set endpoint(origin: string) {
    this.#endpoint = origin;
  }

  get endpoint(): string {
    return this.#endpoint;
  }

  /** The queue's local URL (`<endpoint>/<account>/<name>`), what `GetQueueUrl` answers. */
  urlOf(queue: QueueModel): string {
    return `${this.#endpoint}/${SQS_ACCOUNT}/${queue.settings.name}`;
  }

  queues(): readonly QueueModel[] {
    return [...this.#queues.values()];
  }

  byName(name: string): QueueModel {
    const queue = this.#queues.get(name);
    if (!queue) throw queueDoesNotExist();
    return queue;
  }

  byArn(arn: string): QueueModel {
    const queue = this.#byArn.get(arn);
    if (!queue) throw queueDoesNotExist();
    return queue;
  }

  /**
   * The queue a URL names, by its path (`/<account>/<name>`): the local URL, or the one the
   * template's `Ref` resolves to, whatever its host (the caller reached this door either way).
   */
  byUrl(url: string): QueueModel {
    let path: string;
    try {
      path = new URL(url).pathname;
    } catch {
      throw queueDoesNotExist();
    }
    const [account, name, ...rest] = path.split('/').filter(Boolean);
    if (account !== SQS_ACCOUNT || name === undefined || rest.length > 0) throw queueDoesNotExist();
    return this.byName(name);
  }

  /** The queue's ARN from its URL (for IAM, before the queue is looked up). */
  static arnOfUrl(url: string): string {
    try {
      const [account, name] = new URL(url).pathname.split('/').filter(Boolean);
      return `arn:aws:sqs:us-east-1:${account ?? ''}:${name ?? ''}`;
    } catch {
      return 'arn:aws:sqs:us-east-1::';
    }
  }

  /**
   * Receives as SQS does with long polling: what is visible now, else waits until a message may
   * be (sent, made visible, its delay or visibility timeout over) or the wait time (scaled) ends.
   */
  async receive(
    queue: QueueModel,
    request: ReceiveRequest,
    signal?: AbortSignal,
  ): Promise<ReceivedMessage[]> {
    const waitSeconds = request.waitTimeSeconds ?? queue.settings.receiveMessageWaitTimeSeconds;
    const deadline = this.#clock.now() + waitSeconds * 1000 * this.#timeScale;
    for (;;) {
      // Given up (a poller stopping): nothing is taken, so nothing is held invisible.
      if (signal?.aborted) return [];
      const received = queue.receive(request.maxNumberOfMessages, request.visibilityTimeout);
      const now = this.#clock.now();
      if (received.length > 0 || now >= deadline || this.#closed) return received;
      const until = Math.min(deadline, queue.nextVisibleAt() ?? deadline);
      await this.#sleep(queue, Math.max(1, until - now), signal);
    }
  }

  /** Ends every long poll (they answer what they have: nothing). */
  close(): void {
    this.#closed = true;
    for (const wake of this.#waiting) wake();
  }

  #sleep(queue: QueueModel, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        stop();
        this.#waiting.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      const stop = queue.onChange(done);
      this.#waiting.add(done);
      signal?.addEventListener('abort', done);
    });
  }
}
