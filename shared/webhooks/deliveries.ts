/**
 * The attempts of a subject's webhook deliveries, kept on its own item (the generation record, or
 * a batch's head) as the list `webhookDeliveries`, and the final failure as `webhookFailure`.
 * Both tables are keyed by the id alone, so the attempts sit where one GetItem reads them; the
 * schedule bounds them (at most about a dozen attempts per event in its 24 h, three events a
 * generation), far inside an item's 400 KB. Nothing secret is written: no signature, no header.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { StoredWebhook, WebhookEventType } from './event-types.ts';

/** One attempt: what GET /generations/{id}/deliveries lists. */
export interface DeliveryAttempt {
  /** When the request was sent. */
  readonly at: string;
  readonly event: WebhookEventType;
  readonly webhookId: string;
  /** 1 for the first attempt of the event. */
  readonly attempt: number;
  /** The receiver's HTTP status, when it answered. */
  readonly statusCode?: number;
  /** Why there was no answer (refused target, timeout, connection error). */
  readonly error?: string;
  readonly durationMs: number;
}

/** The delivery given up on: kept on the record (and the message goes to the dead-letter queue). */
export interface DeliveryFailure {
  readonly at: string;
  readonly event: WebhookEventType;
  readonly webhookId: string;
  readonly attempts: number;
  readonly code: string;
  readonly message: string;
}

/** What the delivery needs of its subject's item. */
export interface DeliverySubject {
  readonly id: string;
  readonly owner: string;
  readonly webhook?: StoredWebhook;
  readonly attempts: readonly DeliveryAttempt[];
  readonly failure?: DeliveryFailure;
}

export const DELIVERY_ATTRIBUTES = {
  webhook: 'webhook',
  attempts: 'webhookDeliveries',
  failure: 'webhookFailure',
} as const;

export class DeliveryLog {
  readonly #client: Pick<DynamoDBDocumentClient, 'send'>;
  readonly #tableName: string;

  constructor(client: Pick<DynamoDBDocumentClient, 'send'>, tableName: string) {
    this.#client = client;
    this.#tableName = tableName;
  }

  /** The webhook, attempts and failure of an item; undefined when there is no such item. */
  async read(id: string): Promise<DeliverySubject | undefined> {
    const { Item } = await this.#client.send(
      new GetCommand({
        TableName: this.#tableName,
        Key: { id },
        ConsistentRead: true,
        ProjectionExpression: '#id, #owner, #webhook, #attempts, #failure',
        ExpressionAttributeNames: {
          '#id': 'id',
          '#owner': 'owner',
          '#webhook': DELIVERY_ATTRIBUTES.webhook,
          '#attempts': DELIVERY_ATTRIBUTES.attempts,
          '#failure': DELIVERY_ATTRIBUTES.failure,
        },
      }),
    );
    if (Item === undefined) return undefined;
    return {
      id: String(Item.id),
      owner: String(Item.owner),
      ...(Item.webhook !== undefined && Item.webhook !== null && { webhook: Item.webhook }),
      attempts: (Item[DELIVERY_ATTRIBUTES.attempts] as DeliveryAttempt[] | undefined) ?? [],
      ...(Item[DELIVERY_ATTRIBUTES.failure] !== undefined && {
        failure: Item[DELIVERY_ATTRIBUTES.failure] as DeliveryFailure,
      }),
    };
  }

  /** Appends an attempt; false when the item is gone (expired or never written). */
  async append(id: string, attempt: DeliveryAttempt): Promise<boolean> {
    return this.#update(
      id,
      'SET #attempts = list_append(if_not_exists(#attempts, :none), :one)',
      {
        '#attempts': DELIVERY_ATTRIBUTES.attempts,
      },
      { ':none': [], ':one': [attempt] },
    );
  }

  /** Keeps the final failure of a delivery on the item. */
  async recordFailure(id: string, failure: DeliveryFailure): Promise<boolean> {
    return this.#update(
      id,
      'SET #failure = :failure',
      { '#failure': DELIVERY_ATTRIBUTES.failure },
      { ':failure': failure },
    );
  }

  async #update(
    id: string,
    expression: string,
    names: Record<string, string>,
    values: Record<string, unknown>,
  ): Promise<boolean> {
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: { id },
          UpdateExpression: expression,
          ConditionExpression: 'attribute_exists(id)',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}
