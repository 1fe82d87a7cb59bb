/** The queue's side of deliveries: what each outcome does to its message. */
import type { SQSRecord } from 'aws-lambda';
import { describe, expect, it, vi } from 'vitest';
import type { DeliveryOutcome, DeliveryRequest } from '#shared/webhooks/deliver.ts';
import { processDeliveries } from '#shared/webhooks/queue.ts';

vi.hoisted(() => {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
});

const message = (id: string, receives: number, body?: string): SQSRecord =>
  ({
    messageId: id,
    receiptHandle: `handle-${id}`,
    body:
      body ??
      JSON.stringify({
        'detail-type': 'Generation Completed',
        time: '2026-12-08T01:00:00Z',
        detail: { id: `gen-${id}`, webhookEvents: ['generation.completed'] },
      }),
    attributes: { ApproximateReceiveCount: String(receives) },
  }) as unknown as SQSRecord;

function setUp(outcomes: Record<string, DeliveryOutcome | Error>) {
  const requests: DeliveryRequest[] = [];
  const hidden: Array<[string, number]> = [];
  const deadLetters: string[] = [];
  const deliver = async (request: DeliveryRequest) => {
    requests.push(request);
    const outcome = outcomes[request.subjectId];
    if (outcome instanceof Error) throw outcome;
    return outcome ?? { outcome: 'skipped' as const, reason: 'test' };
  };
  const queue = {
    changeVisibility: async (handle: string, seconds: number) => {
      hidden.push([handle, seconds]);
    },
    sendToDeadLetter: async (body: string) => {
      deadLetters.push(body);
    },
  };
  return { deliver, queue, requests, hidden, deadLetters };
}

const attempt = {
  at: '2026-12-08T01:00:01Z',
  event: 'generation.completed' as const,
  webhookId: 'msg_1',
  attempt: 1,
  statusCode: 500,
  durationMs: 3,
};

describe('processing the webhook queue', () => {
  it('hands each message over as its event, its receive count as the attempt', async () => {
    const { deliver, queue, requests } = setUp({});
    await processDeliveries([message('a', 3)], deliver, queue);
    expect(requests).toEqual([
      {
        detailType: 'Generation Completed',
        subjectId: 'gen-a',
        occurredAt: new Date('2026-12-08T01:00:00Z'),
        attempt: 3,
      },
    ]);
  });

  it('hides a retried message for its wait (whole seconds) and reports it failed; the rest are done', async () => {
    const { deliver, queue, hidden } = setUp({
      'gen-a': { outcome: 'retry', delaySeconds: 2.2, attempt },
      'gen-b': { outcome: 'delivered', attempt: { ...attempt, statusCode: 200 } },
    });
    const answer = await processDeliveries([message('a', 1), message('b', 1)], deliver, queue);
    expect(answer).toEqual({ batchItemFailures: [{ itemIdentifier: 'a' }] });
    expect(hidden).toEqual([['handle-a', 3]]);
  });

  it('keeps a delivery given up on in the dead-letter queue and takes it off the queue', async () => {
    const failure = {
      at: '2026-12-09T01:00:00Z',
      event: 'generation.completed' as const,
      webhookId: 'msg_1',
      attempts: 14,
      code: '090007003',
      message: 'No 2xx answer in 24 h; last: HTTP 500',
    };
    const { deliver, queue, deadLetters } = setUp({ 'gen-a': { outcome: 'given-up', failure } });
    const answer = await processDeliveries([message('a', 14)], deliver, queue);
    expect(answer).toEqual({ batchItemFailures: [] });
    expect(deadLetters).toEqual([message('a', 14).body]);
  });

  it('reports a message failed, untouched, when the delivery could not decide', async () => {
    const { deliver, queue, hidden } = setUp({ 'gen-a': new Error('table unavailable') });
    const answer = await processDeliveries([message('a', 1)], deliver, queue);
    expect(answer).toEqual({ batchItemFailures: [{ itemIdentifier: 'a' }] });
    expect(hidden).toEqual([]);
  });

  it('drops a message that is not a bus event of a subject', async () => {
    const { deliver, queue, requests } = setUp({});
    const answer = await processDeliveries([message('a', 1, '{"hello":1}')], deliver, queue);
    expect(answer).toEqual({ batchItemFailures: [] });
    expect(requests).toEqual([]);
  });
});
