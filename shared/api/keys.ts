/**
 * API keys. A key is random (`sk_` + 32 random bytes, base64url), shown once when it is made, and
 * stored only as its SHA-256 (hex) with its owner: the table cannot give a key back, and a key
 * is found by hashing what the caller sent.
 */
import { createHash, randomBytes } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { ownerSchema } from '#shared/generation/model.ts';

export const API_KEY_PREFIX = 'sk_';
const KEY_BYTES = 32;
/** Longest key looked up: anything longer is not a key of ours and costs no read. */
const MAX_KEY_LENGTH = 512;

/** The item of the API keys table (partition key `keyHash`). */
export interface ApiKeyItem {
  readonly keyHash: string;
  readonly owner: string;
  readonly createdAt: string;
  readonly revokedAt?: string;
}

export interface CreatedApiKey {
  /** The key itself: shown once, never stored. */
  readonly key: string;
  readonly keyHash: string;
  readonly owner: string;
  readonly createdAt: string;
}

/** The owner name is not one an API key may have (see `ownerSchema`). */
export class InvalidOwnerError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InvalidOwnerError';
  }
}

/** A new random API key. */
export function generateApiKey(): string {
  return `${API_KEY_PREFIX}${randomBytes(KEY_BYTES).toString('base64url')}`;
}

/** What the table stores for a key: its SHA-256, in hex. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export interface ApiKeyStoreOptions {
  readonly now?: () => Date;
}

export class ApiKeyStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #now: () => Date;

  constructor(client: DynamoDBDocumentClient, tableName: string, options: ApiKeyStoreOptions = {}) {
    this.#client = client;
    this.#tableName = tableName;
    this.#now = options.now ?? (() => new Date());
  }

  /** Makes a key for `owner`. The answer is the only time the key itself is seen. */
  async create(owner: string): Promise<CreatedApiKey> {
    return this.register(owner, generateApiKey());
  }

  /**
   * Stores a key chosen elsewhere (the local runtime's `SPARK_T2I_API_KEYS`), hashed like any
   * other. A key already registered is refused rather than silently given a new owner.
   */
  async register(owner: string, key: string): Promise<CreatedApiKey> {
    const parsedOwner = ownerSchema.safeParse(owner);
    if (!parsedOwner.success) {
      throw new InvalidOwnerError(
        'An owner is 1-63 characters of a-z, 0-9, _ and -, starting with a letter or digit',
        { cause: parsedOwner.error },
      );
    }
    if (key.length === 0 || key.length > MAX_KEY_LENGTH) {
      throw new RangeError(`An API key is 1-${MAX_KEY_LENGTH} characters`);
    }
    const item: ApiKeyItem = {
      keyHash: hashApiKey(key),
      owner: parsedOwner.data,
      createdAt: this.#now().toISOString(),
    };
    await this.#client.send(
      new PutCommand({
        TableName: this.#tableName,
        Item: item,
        ConditionExpression: 'attribute_not_exists(keyHash)',
      }),
    );
    return { key, ...item };
  }

  /** The owner of an active key; `undefined` for an unknown, revoked or malformed one. */
  async resolve(key: string): Promise<string | undefined> {
    const found = await this.find(key);
    if (found === undefined || found.revokedAt !== undefined) return undefined;
    const owner = ownerSchema.safeParse(found.owner);
    return owner.success ? owner.data : undefined;
  }

  /**
   * What the table holds for a key, revoked or not (`resolve` answers only an active key's
   * owner); `undefined` for an unknown or malformed one.
   */
  async find(key: string): Promise<{ owner: string; revokedAt?: string } | undefined> {
    if (key.length === 0 || key.length > MAX_KEY_LENGTH) return undefined;
    const { Item } = await this.#client.send(
      new GetCommand({
        TableName: this.#tableName,
        Key: { keyHash: hashApiKey(key) },
        ConsistentRead: true,
      }),
    );
    const item = Item as Partial<ApiKeyItem> | undefined;
    if (item === undefined || typeof item.owner !== 'string') return undefined;
    return {
      owner: item.owner,
      ...(item.revokedAt && { revokedAt: String(item.revokedAt) }),
    };
  }

  /**
   * Revokes a key by its hash. Answers whether a key was found. API Gateway may keep answering
   * from its authorizer cache for up to the cache TTL.
   */
  async revoke(keyHash: string): Promise<boolean> {
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: { keyHash },
          UpdateExpression: 'SET revokedAt = if_not_exists(revokedAt, :now)',
          ConditionExpression: 'attribute_exists(keyHash)',
          ExpressionAttributeValues: { ':now': this.#now().toISOString() },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}
