/** Configuration of the webhook routes, each reading its own settings group once, at cold start. */
import { dynamoDb } from '#shared/aws/dynamodb.ts';
import { WebhookRouteSettings } from '#shared/contracts/environment.ts';
import { readSettings } from '#shared/contracts/setting.ts';
import { DeliveryLog } from '#shared/webhooks/deliveries.ts';
import { WebhookSecretStore } from '#shared/webhooks/secrets.ts';
import {
  type ListDeliveries,
  listDeliveries,
  type WebhookSecretRoutes,
  webhookSecretRoutes,
} from './use-cases/webhooks.ts';

/** GET /webhooks/secret and POST /webhooks/secret/rotate. */
export function webhookSecretRoutesFromEnv(
  env: NodeJS.ProcessEnv = process.env,
): WebhookSecretRoutes {
  const { apiKeysTable } = readSettings(WebhookRouteSettings.secret, env);
  return webhookSecretRoutes({ secrets: new WebhookSecretStore(dynamoDb(), apiKeysTable) });
}

/** GET /generations/{id}/deliveries. */
export function listDeliveriesFromEnv(env: NodeJS.ProcessEnv = process.env): ListDeliveries {
  const { generationsTable } = readSettings(WebhookRouteSettings.deliveries, env);
  return listDeliveries({ deliveries: new DeliveryLog(dynamoDb(), generationsTable) });
}
