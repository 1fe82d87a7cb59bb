import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { webhookBody, webhookIdOf } from '#shared/webhooks/body.ts';
import { newWebhookSecret } from '#shared/webhooks/secrets.ts';
import { signDelivery } from '#shared/webhooks/signing.ts';

describe('a signed delivery', () => {
  const sentAt = new Date();
  const body = webhookBody('generation.completed', new Date('2026-12-08T01:00:00Z'), {
    id: 'g1',
    status: 'completed',
  });
  const id = webhookIdOf('generation.completed', 'g1');

  it('verifies with the standardwebhooks package and the owner secret', () => {
    const secret = newWebhookSecret();
    const headers = signDelivery([secret], id, sentAt, body);
    expect(headers['webhook-id']).toBe(id);
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/=]+$/);
    expect(new Webhook(secret).verify(body, headers)).toEqual({
      type: 'generation.completed',
      timestamp: '2026-12-08T01:00:00.000Z',
      data: { id: 'g1', status: 'completed' },
    });
  });

  it('carries two signatures, space-separated, each verifying with its secret', () => {
    const [current, previous] = [newWebhookSecret(), newWebhookSecret()];
    const headers = signDelivery([current, previous], id, sentAt, body);
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(() => new Webhook(current).verify(body, headers)).not.toThrow();
    expect(() => new Webhook(previous).verify(body, headers)).not.toThrow();
    expect(() => new Webhook(newWebhookSecret()).verify(body, headers)).toThrow();
  });

  it('fails verification once a byte of the body changes', () => {
    const secret = newWebhookSecret();
    const headers = signDelivery([secret], id, sentAt, body);
    expect(() => new Webhook(secret).verify(body.replace('g1', 'g2'), headers)).toThrow();
  });

  it('names one event of one subject by one id, whatever the attempt', () => {
    expect(webhookIdOf('generation.completed', 'g1')).toBe(id);
    expect(webhookIdOf('generation.failed', 'g1')).not.toBe(id);
    expect(webhookIdOf('generation.completed', 'g2')).not.toBe(id);
    expect(id).toMatch(/^msg_[0-9a-f]{32}$/);
  });
});
