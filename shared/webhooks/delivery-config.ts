/** Configuration of the webhook delivery function, read once at cold start. */
import { s3Presigner } from '#shared/api/presign.ts';
import { toBatchView } from '#shared/api/use-cases/batches/view.ts';
import { toApiView } from '#shared/api/use-cases/view.ts';
import { dynamoDb } from '#shared/aws/dynamodb.ts';
import { lazyS3 } from '#shared/aws/lazy.ts';
import { BatchRepository } from '#shared/batches/repository.ts';
import { WebhookDeliverySettings } from '#shared/contracts/environment.ts';
import { readSettings } from '#shared/contracts/setting.ts';
import { GenerationRepository } from '#shared/generation/repository.ts';
import { type DeliverWebhook, deliverWebhook } from './deliver.ts';
import { DeliveryLog } from './deliveries.ts';
import { WebhookSecretStore } from './secrets.ts';
import { webhookPolicyFromEnv } from './settings.ts';
import { guardedPost } from './target.ts';

export interface DeliveryConfig {
  readonly deliver: DeliverWebhook;
  readonly queueUrl: string;
  readonly deadLetterQueueUrl: string;
}

export function deliveryFromEnv(env: NodeJS.ProcessEnv = process.env): DeliveryConfig {
  const settings = readSettings(WebhookDeliverySettings, env);
  const generations = new GenerationRepository(dynamoDb(), settings.generationsTable);
  const batches = new BatchRepository(dynamoDb(), settings.batchesTable);
  const presign = s3Presigner(lazyS3, settings.presignedUrlTtlSeconds);
  const deliver = deliverWebhook({
    stores: {
      generation: new DeliveryLog(dynamoDb(), settings.generationsTable),
      batch: new DeliveryLog(dynamoDb(), settings.batchesTable),
    },
    views: {
      generation: async (id) => {
        const record = await generations.read(id);
        return record === undefined ? undefined : toApiView(record, presign);
      },
      batch: async (id) => {
        const batch = await batches.get(id);
        return batch === undefined ? undefined : toBatchView(batch);
      },
    },
    secrets: new WebhookSecretStore(dynamoDb(), settings.apiKeysTable),
    post: guardedPost({ policy: webhookPolicyFromEnv(env), timeoutMs: 10_000 }),
    now: () => new Date(),
    retry: { random: Math.random },
  });
  return {
    deliver,
    queueUrl: settings.queueUrl,
    deadLetterQueueUrl: settings.deadLetterQueueUrl,
  };
}
