/**
 * One queue of the local SQS under a fake clock: delays, visibility timeouts and their changes,
 * receive counts, receipt handles, retention and the redrive to a dead-letter queue, as SQS
 * behaves for a standard queue; and the journal that keeps all of it across a restart.
 */
import { appendFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { QueueModel, type QueueSettings } from '#local/runtime/sqs/queue.ts';
import { QueueJournal } from '#local/runtime/sqs/queue-journal.ts';

const SETTINGS: QueueSettings = {
  name: 'Work',
  arn: 'arn:aws:sqs:us-east-1:000000000000:Work',
  visibilityTimeout: 30,
  messageRetentionPeriod: 345_600,
  delaySeconds: 0,
  receiveMessageWaitTimeSeconds: 0,
  maximumMessageSize: 262_144,
};
const DLQ_SETTINGS: QueueSettings = {
  ...SETTINGS,
  name: 'Dead',
  arn: 'arn:aws:sqs:us-east-1:000000000000:Dead',
};

function fakeClock(start = 1_700_000_000_000) {
  let now = start;
  return {
    now: () => now,
    advance(seconds: number) {
      now += seconds * 1000;
    },
  };
}

/** A queue (and its dead-letter queue, when it has a redrive policy) over one journal. */
function queues(
  options: { settings?: Partial<QueueSettings>; timeScale?: number; file?: string } = {},
) {
  const clock = fakeClock();
  const file = options.file ?? join(mkdtempSync(join(tmpdir(), 'spark-t2i-sqs-')), 'q.jsonl');
  const journal = QueueJournal.open(file);
  const timeScale = options.timeScale ?? 1;
  const dead = new QueueModel({
    settings: DLQ_SETTINGS,
    clock,
    timeScale,
    changes: journal,
    restored: journal.restored('Dead'),
  });
  const queue = new QueueModel({
    settings: { ...SETTINGS, ...options.settings },
    clock,
    timeScale,
    changes: journal,
    deadLetters: (arn) => (arn === DLQ_SETTINGS.arn ? dead : undefined),
    restored: journal.restored('Work'),
  });
  return { clock, queue, dead, file };
}

describe('a standard queue', () => {
  it('hides a received message for its visibility timeout, then gives it again with a new handle', () => {
    const { clock, queue } = queues();
    queue.send('hello');
    const [first] = queue.receive(10);
    expect(first?.message.body).toBe('hello');
    expect(first?.message.receiveCount).toBe(1);
    clock.advance(29);
    expect(queue.receive(10)).toHaveLength(0);
    clock.advance(1);
    const [second] = queue.receive(10);
    expect(second?.message.receiveCount).toBe(2);
    expect(second?.receiptHandle).not.toBe(first?.receiptHandle);
    expect(second?.message.firstReceivedAt).toBe(first?.message.firstReceivedAt);
  });

  it('takes a receive’s own visibility timeout over the queue’s', () => {
    const { clock, queue } = queues();
    queue.send('x');
    queue.receive(1, 5);
    clock.advance(5);
    expect(queue.receive(1)).toHaveLength(1);
  });

  it('holds a delayed message back for its delay, the queue’s or the send’s', () => {
    const { clock, queue } = queues({ settings: { delaySeconds: 10 } });
    queue.send('queue delay');
    queue.send('own delay', {}, { delaySeconds: 0 });
    expect(queue.receive(10).map((one) => one.message.body)).toEqual(['own delay']);
    expect(queue.counts()).toEqual({ visible: 0, inFlight: 1, delayed: 1 });
    clock.advance(10);
    expect(queue.receive(10).map((one) => one.message.body)).toEqual(['queue delay']);
  });

  it('returns at most the number asked for, oldest first', () => {
    const { clock, queue } = queues();
    for (let i = 0; i < 5; i++) {
      queue.send(`m${i}`);
      clock.advance(0.001);
    }
    expect(queue.receive(3).map((one) => one.message.body)).toEqual(['m0', 'm1', 'm2']);
    expect(queue.receive(3).map((one) => one.message.body)).toEqual(['m3', 'm4']);
  });

  it('scales every duration by the time scale', () => {
    const { clock, queue } = queues({ timeScale: 0.01 });
    queue.send('x', {}, { delaySeconds: 100 });
    clock.advance(0.999);
    expect(queue.receive(1)).toHaveLength(0);
    clock.advance(0.001);
    queue.receive(1); // visible 30 s × 0.01 = 0.3 s
    clock.advance(0.3);
    expect(queue.receive(1)).toHaveLength(1);
  });

  it('drops a message past its retention period', () => {
    const { clock, queue } = queues({ settings: { messageRetentionPeriod: 60 } });
    queue.send('old');
    clock.advance(60);
    expect(queue.receive(10)).toHaveLength(0);
    expect(queue.counts()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });
});

describe('receipt handles', () => {
  it('delete the message of the latest receive only', () => {
    const { clock, queue } = queues();
    queue.send('x');
    const [first] = queue.receive(1);
    clock.advance(30);
    const [second] = queue.receive(1);
    queue.delete(first?.receiptHandle as string); // an earlier receive's handle: no effect
    clock.advance(30);
    expect(queue.receive(1)).toHaveLength(1);
    queue.delete(second?.receiptHandle as string); // stale by now too
    expect(queue.counts().inFlight).toBe(1);
  });

  it('succeed in deleting twice, and refuse what is not a handle', () => {
    const { queue } = queues();
    queue.send('x');
    const [one] = queue.receive(1);
    queue.delete(one?.receiptHandle as string);
    expect(() => queue.delete(one?.receiptHandle as string)).not.toThrow();
    expect(() => queue.delete('not-a-handle')).toThrow(
      expect.objectContaining({ name: 'ReceiptHandleIsInvalid' }),
    );
  });

  it('change the visibility of a message in flight, up to 12 hours from its receive', () => {
    const { clock, queue } = queues();
    queue.send('x');
    const [one] = queue.receive(1);
    const handle = one?.receiptHandle as string;
    queue.changeVisibility(handle, 120);
    clock.advance(100);
    expect(queue.receive(1)).toHaveLength(0);
    // 100 s after the receive: 43,100 s more reaches the 12 hours exactly, one more is beyond.
    queue.changeVisibility(handle, 43_100);
    expect(() => queue.changeVisibility(handle, 43_101)).toThrow(
      expect.objectContaining({
        name: 'InvalidParameterValue',
        message: expect.stringMatching(/beyond the limit/),
      }),
    );
    clock.advance(43_099);
    expect(queue.receive(1)).toHaveLength(0);
    clock.advance(1);
    expect(queue.receive(1)).toHaveLength(1);
  });

  it('make a message visible at once with a timeout of 0', () => {
    const { queue } = queues();
    queue.send('x');
    const [one] = queue.receive(1);
    queue.changeVisibility(one?.receiptHandle as string, 0);
    expect(queue.receive(1)[0]?.message.receiveCount).toBe(2);
  });

  it('refuse a visibility change once the message is not in flight, or gone', () => {
    const { clock, queue } = queues();
    queue.send('x');
    const [one] = queue.receive(1);
    const handle = one?.receiptHandle as string;
    clock.advance(30);
    expect(() => queue.changeVisibility(handle, 10)).toThrow(
      expect.objectContaining({ name: 'MessageNotInflight' }),
    );
    const [again] = queue.receive(1);
    expect(() => queue.changeVisibility(handle, 10)).toThrow(
      expect.objectContaining({ name: 'MessageNotInflight' }),
    );
    queue.delete(again?.receiptHandle as string);
    expect(() => queue.changeVisibility(again?.receiptHandle as string, 10)).toThrow(
      expect.objectContaining({
        name: 'InvalidParameterValue',
        message: expect.stringMatching(/Message does not exist/),
      }),
    );
  });

  it('of another queue are not valid here', () => {
    const { queue, dead } = queues();
    queue.send('x');
    const [one] = queue.receive(1);
    expect(() => dead.delete(one?.receiptHandle as string)).toThrow(
      expect.objectContaining({ name: 'ReceiptHandleIsInvalid' }),
    );
  });
});

describe('the redrive policy', () => {
  const redrive = {
    redrivePolicy: { deadLetterTargetArn: DLQ_SETTINGS.arn, maxReceiveCount: 3 },
  };

  it('moves a message received maxReceiveCount times to the dead-letter queue at the next receive', () => {
    const { clock, queue, dead } = queues({ settings: redrive });
    const sent = queue.send('poison', { kind: { DataType: 'String', StringValue: 'p' } });
    for (let receive = 1; receive <= 3; receive++) {
      expect(queue.receive(1)[0]?.message.receiveCount).toBe(receive);
      clock.advance(30);
    }
    expect(queue.receive(1)).toHaveLength(0);
    expect(queue.counts()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    const [moved] = dead.receive(1);
    expect(moved?.message).toMatchObject({
      id: sent.id,
      body: 'poison',
      attributes: { kind: { DataType: 'String', StringValue: 'p' } },
      sentAt: sent.sentAt,
      deadLetterSourceArn: SETTINGS.arn,
    });
  });

  it('leaves a message deleted in time where it is', () => {
    const { clock, queue, dead } = queues({ settings: redrive });
    queue.send('fine');
    for (let receive = 1; receive < 3; receive++) {
      queue.receive(1);
      clock.advance(30);
    }
    const [last] = queue.receive(1);
    queue.delete(last?.receiptHandle as string);
    clock.advance(30);
    expect(queue.receive(1)).toHaveLength(0);
    expect(dead.counts().visible).toBe(0);
  });
});

describe('the journal', () => {
  it('brings every queue back as it was: messages, receive counts, visibility and handles', () => {
    const first = queues();
    first.queue.send('kept');
    first.queue.send('deleted');
    const [kept, deleted] = first.queue.receive(2);
    first.queue.delete(deleted?.receiptHandle as string);
    first.queue.send('untouched');

    const second = queues({ file: first.file });
    expect(
      second.queue
        .messages()
        .map((message) => message.body)
        .sort(),
    ).toEqual(['kept', 'untouched']);
    // In flight still: the handle works, and the message comes back when its timeout ends.
    expect(() => second.queue.changeVisibility(kept?.receiptHandle as string, 0)).not.toThrow();
    const [again] = second.queue.receive(10).filter((one) => one.message.body === 'kept');
    expect(again?.message.receiveCount).toBe(2);
  });

  it('skips a line cut short by a kill, and rewrites the file with the live messages only', () => {
    const first = queues();
    first.queue.send('a');
    const [one] = first.queue.receive(1);
    first.queue.delete(one?.receiptHandle as string);
    first.queue.send('b');
    appendFileSync(first.file, '{"q":"Work","put":{"id":"cut');

    const second = queues({ file: first.file });
    expect(second.queue.messages().map((message) => message.body)).toEqual(['b']);
    expect(readFileSync(first.file, 'utf8').trim().split('\n')).toHaveLength(1);
  });
});
