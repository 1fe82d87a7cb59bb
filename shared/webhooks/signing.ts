/**
 * Standard Webhooks signatures: `webhook-signature` is `v1,<base64 HMAC-SHA256 of
 * id.timestamp.body>`, one per signing secret, space-separated (the current secret's, and for a
 * day after a rotation the previous one's, so a receiver still holding the old secret verifies).
 * Signed by the `standardwebhooks` package, the one receivers verify with.
 */
import { Webhook } from 'standardwebhooks';

export type SignedHeaders = {
  readonly 'webhook-id': string;
  readonly 'webhook-timestamp': string;
  readonly 'webhook-signature': string;
};

/**
 * The three headers of one attempt. `secrets` holds one or two `whsec_…` secrets, the current
 * first; `sentAt` is the attempt's time (receivers refuse stale timestamps, so each attempt is
 * signed afresh).
 */
export function signDelivery(
  secrets: readonly [string, ...string[]],
  webhookId: string,
  sentAt: Date,
  body: string,
): SignedHeaders {
  const signatures = secrets.map((secret) => new Webhook(secret).sign(webhookId, sentAt, body));
  return {
    'webhook-id': webhookId,
    'webhook-timestamp': String(Math.floor(sentAt.getTime() / 1000)),
    'webhook-signature': signatures.join(' '),
  };
}
