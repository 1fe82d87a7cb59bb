/**
 * The webhook routes: the owner's signing secret (read, made on first read; rotated) and a
 * generation's delivery attempts. Another owner's generation is answered as a missing one (404).
 */
import { NotFoundError } from '#shared/api/errors.ts';
import type { DeliveriesView } from '#shared/api/webhook-schemas.ts';
import { generationIdSchema } from '#shared/generation/model.ts';
import type { DeliverySubject } from '#shared/webhooks/deliveries.ts';

export interface WebhookSecretDeps {
  readonly secrets: {
    current(owner: string): Promise<string>;
    rotate(owner: string): Promise<string>;
  };
}

export interface WebhookSecretRoutes {
  /** GET /webhooks/secret. */
  read(owner: string): Promise<{ secret: string }>;
  /** POST /webhooks/secret/rotate: the new secret; the previous one signs for 24 h more. */
  rotate(owner: string): Promise<{ secret: string }>;
}

export function webhookSecretRoutes(deps: WebhookSecretDeps): WebhookSecretRoutes {
  return {
    read: async (owner) => ({ secret: await deps.secrets.current(owner) }),
    rotate: async (owner) => ({ secret: await deps.secrets.rotate(owner) }),
  };
}

export interface ListDeliveriesDeps {
  readonly deliveries: { read(id: string): Promise<DeliverySubject | undefined> };
}

export type ListDeliveries = (owner: string, id: string) => Promise<DeliveriesView>;

/** GET /generations/{id}/deliveries. */
export function listDeliveries(deps: ListDeliveriesDeps): ListDeliveries {
  return async (owner, id) => {
    if (!generationIdSchema.safeParse(id).success) throw new NotFoundError();
    const subject = await deps.deliveries.read(id);
    if (subject === undefined || subject.owner !== owner) throw new NotFoundError();
    return {
      items: subject.attempts as DeliveriesView['items'],
      ...(subject.failure !== undefined && {
        failure: subject.failure as NonNullable<DeliveriesView['failure']>,
      }),
    };
  };
}
