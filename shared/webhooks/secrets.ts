/**
 * The signing secret of each owner, kept in the API keys table beside the owner's keys (the
 * table of per-owner data), under the key `webhook-secret#<owner>`. That key is never a key's
 * SHA-256, so no API key can find it, and the item has no `owner` attribute, so the owner index
 * (which says whether an owner has an active key) never sees it.
 *
 * A rotation keeps the previous secret for 24 h: deliveries are signed with both meanwhile, so a
 * receiver can move to the new secret at its own pace. Secrets are never logged or put in an
 * event or a generation record.
 */
import { randomBytes } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';

export const SECRET_PREFIX = 'whsec_';
/** How long a rotated-out secret still signs. */
export const PREVIOUS_SECRET_SECONDS = 86_400;
const SECRET_BYTES = 32;

/** The item of an owner's secret in the keys table. */
interface SecretItem {
  readonly keyHash: string;
  readonly secret: string;
  readonly createdAt: string;
  readonly previousSecret?: string;
  readonly previousUntil?: string;
}

export function newWebhookSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(SECRET_BYTES).toString('base64')}`;
}

export function secretItemKey(owner: string): string {
  return `webhook-secret#${owner}`;
}

export interface WebhookSecretStoreOptions {
  readonly now?: () => Date;
  readonly generate?: () => string;
}

export class WebhookSecretStore {
  readonly #client: Pick<DynamoDBDocumentClient, 'send'>;
  readonly #tableName: string;
  readonly #now: () => Date;
  readonly #generate: () => string;

  constructor(
    client: Pick<DynamoDBDocumentClient, 'send'>,
    tableName: string,
    options: WebhookSecretStoreOptions = {},
  ) {
    this.#client = client;
    this.#tableName = tableName;
    this.#now = options.now ?? (() => new Date());
    this.#generate = options.generate ?? newWebhookSecret;
  }

  /** The owner's current secret, made on the first read (two first reads agree on one). */
  async current(owner: string): Promise<string> {
    return (await this.#readOrCreate(owner)).secret;
  }

  /**
   * A new current secret; the one it replaces keeps signing for 24 h. Answers the new secret.
   * Two rotations at once: one wins, the other tries again on what it won.
   */
  async rotate(owner: string): Promise<string> {
    for (;;) {
      const item = await this.#readOrCreate(owner);
      const now = this.#now();
      const secret = this.#generate();
      try {
        await this.#client.send(
          new UpdateCommand({
            TableName: this.#tableName,
            Key: { keyHash: secretItemKey(owner) },
            UpdateExpression:
              'SET secret = :secret, previousSecret = :previous, previousUntil = :until, rotatedAt = :now',
            ConditionExpression: 'secret = :previous',
            ExpressionAttributeValues: {
              ':secret': secret,
              ':previous': item.secret,
              ':until': new Date(now.getTime() + PREVIOUS_SECRET_SECONDS * 1000).toISOString(),
              ':now': now.toISOString(),
            },
          }),
        );
        return secret;
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
    }
  }

  /**
   * The secrets a delivery is signed with: the current one first, and the previous one while its
   * 24 h last. The owner's secret is made if it was never read (a webhook can fire before its
   * owner ever asked for the secret).
   */
  async signingSecrets(owner: string): Promise<[string, ...string[]]> {
    const item = await this.#readOrCreate(owner);
    const stillValid =
      item.previousSecret !== undefined &&
      item.previousUntil !== undefined &&
      Date.parse(item.previousUntil) > this.#now().getTime();
    return stillValid ? [item.secret, item.previousSecret as string] : [item.secret];
  }

  async #readOrCreate(owner: string): Promise<SecretItem> {
    const key = { keyHash: secretItemKey(owner) };
    const { Item } = await this.#client.send(
      new GetCommand({ TableName: this.#tableName, Key: key, ConsistentRead: true }),
    );
    if (Item !== undefined && typeof Item.secret === 'string') return Item as SecretItem;
    const item: SecretItem = {
      ...key,
      secret: this.#generate(),
      createdAt: this.#now().toISOString(),
    };
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#tableName,
          Item: item,
          ConditionExpression: 'attribute_not_exists(keyHash)',
        }),
      );
      return item;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      // Another first read made it a moment ago: that one is the secret.
      return this.#readOrCreate(owner);
    }
  }
}
