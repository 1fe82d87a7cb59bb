/**
 * One delivery attempt, end to end inside the domain: a real local DynamoDB holds the record and
 * its attempts, the owner's secret signs, a fake clock and an injected POST stand for time and
 * the receiver. Each delivery is verified as a receiver would, with `standardwebhooks`.
 */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it, vi } from 'vitest';
import { EVENT_BATCH_COMPLETED } from '#shared/batches/model.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';
import { EVENT_CANCELLED, EVENT_COMPLETED, EVENT_FAILED } from '#shared/generation/events.ts';
import { RETRY_WINDOW_SECONDS } from '#shared/webhooks/backoff.ts';
import { deliverWebhook } from '#shared/webhooks/deliver.ts';
import { DeliveryLog } from '#shared/webhooks/deliveries.ts';
import { WebhookTargetRefusedError } from '#shared/webhooks/errors.ts';
import type { StoredWebhook } from '#shared/webhooks/event-types.ts';
import { WebhookSecretStore } from '#shared/webhooks/secrets.ts';
import type { WebhookPost } from '#shared/webhooks/target.ts';
import { useLocalDynamoDb } from '../../../helpers/dynamodb.ts';

const dynamodb = useLocalDynamoDb();
const OCCURRED = new Date('2026-12-08T01:00:00Z');
const ALL: StoredWebhook['events'] = [
  'generation.completed',
  'generation.failed',
  'generation.cancelled',
];

async function setUp(answers: Array<number | Error>, webhook?: StoredWebhook) {
  const n = dynamodb.tableNumber();
  const [generations, batches, keys] = [`generations-${n}`, `batches-${n}`, `keys-${n}`];
  await dynamodb.createTable(generations, { id: 'HASH' });
  await dynamodb.createTable(batches, { id: 'HASH' });
  await dynamodb.createTable(keys, { keyHash: 'HASH' });
  await dynamodb.documents.send(
    new PutCommand({
      TableName: generations,
      Item: {
        id: 'g1',
        owner: 'alice',
        status: 'completed',
        ...(webhook !== undefined && { webhook }),
      },
    }),
  );
  let now = new Date(OCCURRED.getTime() + 500);
  const secrets = new WebhookSecretStore(dynamodb.documents, keys, { now: () => now });
  const posts: WebhookPost[] = [];
  const log = new DeliveryLog(dynamodb.documents, generations);
  const deliver = deliverWebhook({
    stores: { generation: log, batch: new DeliveryLog(dynamodb.documents, batches) },
    views: {
      generation: async (id) => ({ id, status: 'completed', images: [] }),
      batch: async (id) => ({ id, status: 'completed' }),
    },
    secrets,
    post: async (post) => {
      posts.push(post);
      const answer = answers.shift() ?? 200;
      now = new Date(now.getTime() + 120);
      if (answer instanceof Error) throw answer;
      return { status: answer };
    },
    now: () => now,
    retry: { random: () => 0.5 },
  });
  return {
    deliver,
    posts,
    log,
    secrets,
    at: (secondsAfterEvent: number) => {
      now = new Date(OCCURRED.getTime() + secondsAfterEvent * 1000);
    },
  };
}

const completed = (attempt = 1) => ({
  detailType: EVENT_COMPLETED,
  subjectId: 'g1',
  occurredAt: OCCURRED,
  attempt,
});

describe('delivering a webhook', () => {
  it('posts the signed body once and records the attempt', async () => {
    const { deliver, posts, log, secrets } = await setUp([204], {
      url: 'https://hooks.example.com/in',
      events: ALL,
    });
    const outcome = await deliver(completed());
    expect(outcome).toMatchObject({ outcome: 'delivered' });
    expect(posts).toHaveLength(1);
    const [post] = posts as [WebhookPost];
    expect(post.url).toBe('https://hooks.example.com/in');
    const secret = await secrets.current('alice');
    // The receiver's clock reads the attempt's time: the library refuses timestamps 5 min off.
    vi.useFakeTimers({ toFake: ['Date'], now: OCCURRED });
    const verified = new Webhook(secret).verify(post.body, post.headers);
    vi.useRealTimers();
    expect(verified).toEqual({
      type: 'generation.completed',
      timestamp: OCCURRED.toISOString(),
      data: { id: 'g1', status: 'completed', images: [] },
    });
    const { attempts } = (await log.read('g1')) ?? { attempts: [] };
    expect(attempts).toEqual([
      {
        at: '2026-12-08T01:00:00.500Z',
        event: 'generation.completed',
        webhookId: post.headers['webhook-id'],
        attempt: 1,
        statusCode: 204,
        durationMs: 120,
      },
    ]);
  });

  it('retries a 500 after the schedule wait, with the same webhook-id, then delivers', async () => {
    const { deliver, posts, log, at } = await setUp([500, 200], {
      url: 'https://hooks.example.com/in',
      events: ALL,
    });
    const first = await deliver(completed(1));
    // random 0.5 on the first step of 5 s, from a fifth of it: 1 + 0.5 × 4 = 3 s.
    expect(first).toMatchObject({ outcome: 'retry', delaySeconds: 3 });
    at(3.6);
    expect(await deliver(completed(2))).toMatchObject({ outcome: 'delivered' });
    expect(posts.map((post) => post.headers['webhook-id'])).toEqual([
      posts[0]?.headers['webhook-id'],
      posts[0]?.headers['webhook-id'],
    ]);
    expect(posts[0]?.headers['webhook-timestamp']).not.toBe(posts[1]?.headers['webhook-timestamp']);
    const attempts = (await log.read('g1'))?.attempts ?? [];
    expect(attempts.map((attempt) => [attempt.attempt, attempt.statusCode])).toEqual([
      [1, 500],
      [2, 200],
    ]);
  });

  it('records why a refused target got nothing, and retries it', async () => {
    const { deliver, log } = await setUp(
      [new WebhookTargetRefusedError('Webhook host h resolves to non-public address 10.0.0.1')],
      { url: 'https://hooks.example.com/in', events: ALL },
    );
    expect(await deliver(completed())).toMatchObject({ outcome: 'retry' });
    const [attempt] = (await log.read('g1'))?.attempts ?? [];
    expect(attempt?.error).toMatch(/^WebhookTargetRefusedError: .*non-public address 10\.0\.0\.1/);
    expect(attempt).not.toHaveProperty('statusCode');
  });

  it('gives up when the 24 h are over, keeping the failure on the record', async () => {
    const { deliver, log, at } = await setUp([503], {
      url: 'https://hooks.example.com/in',
      events: ALL,
    });
    at(RETRY_WINDOW_SECONDS);
    const outcome = await deliver(completed(14));
    expect(outcome).toMatchObject({
      outcome: 'given-up',
      failure: {
        code: ErrorCodes.WEBHOOK_DELIVERY_FAILED,
        attempts: 14,
        event: 'generation.completed',
      },
    });
    expect((await log.read('g1'))?.failure?.message).toMatch(/HTTP 503/);
    // A late copy of the same message sends nothing more.
    expect(await deliver(completed(15))).toMatchObject({ outcome: 'skipped' });
  });

  it.each([
    ['a generation without a webhook', undefined, EVENT_COMPLETED],
    [
      'an event the webhook did not ask for',
      { url: 'https://h.example.com', events: ['generation.failed'] },
      EVENT_CANCELLED,
    ],
    [
      'an event no webhook receives',
      { url: 'https://h.example.com', events: ALL },
      'Slot Released',
    ],
    [
      'a subject that is gone',
      { url: 'https://h.example.com', events: ALL },
      EVENT_BATCH_COMPLETED,
    ],
  ] as const)('sends nothing for %s', async (_, webhook, detailType) => {
    const { deliver, posts } = await setUp([], webhook as StoredWebhook | undefined);
    expect(await deliver({ ...completed(), detailType })).toMatchObject({ outcome: 'skipped' });
    expect(posts).toHaveLength(0);
  });

  it('sends a delivered event once, however often the bus repeats it', async () => {
    const { deliver, posts } = await setUp([200], {
      url: 'https://hooks.example.com/in',
      events: ALL,
    });
    await deliver(completed());
    expect(await deliver(completed())).toMatchObject({ outcome: 'skipped' });
    expect(await deliver({ ...completed(), detailType: EVENT_FAILED })).toMatchObject({
      outcome: 'delivered',
    });
    expect(posts).toHaveLength(2);
  });
});
