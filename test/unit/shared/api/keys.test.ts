import '../../functions/api/env.ts';
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { beforeEach, describe, expect, it } from 'vitest';
import { ApiKeyStore, generateApiKey, hashApiKey, InvalidOwnerError } from '#shared/api/keys.ts';

const documents = mockClient(DynamoDBDocumentClient);
const TABLE = 'api-keys';
const NOW = new Date('2024-06-01T12:00:00.000Z');
const store = new ApiKeyStore(DynamoDBDocumentClient.from(new DynamoDBClient({})), TABLE, {
  now: () => NOW,
});

beforeEach(() => {
  documents.reset();
  documents.on(PutCommand).resolves({});
  documents.on(GetCommand).resolves({});
  documents.on(UpdateCommand).resolves({});
});

describe('API keys', () => {
  it('are sk_ and 32 random bytes in base64url, never twice the same', () => {
    // Act
    const keys = Array.from({ length: 50 }, () => generateApiKey());

    // Assess
    for (const key of keys) expect(key).toMatch(/^sk_[A-Za-z0-9_-]{43}$/);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('hash to their SHA-256 in hex', () => {
    // Act
    const hash = hashApiKey('abc');

    // Assess
    expect(hash).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('are stored only as their hash, with the owner and creation time', async () => {
    // Act
    const created = await store.create('alice');

    // Assess
    expect(created).toEqual({
      key: expect.stringMatching(/^sk_/),
      keyHash: hashApiKey(created.key),
      owner: 'alice',
      createdAt: NOW.toISOString(),
    });
    expect(documents).toHaveReceivedCommandWith(PutCommand, {
      TableName: TABLE,
      Item: { keyHash: created.keyHash, owner: 'alice', createdAt: NOW.toISOString() },
      ConditionExpression: 'attribute_not_exists(keyHash)',
    });
    const stored = JSON.stringify(documents.commandCalls(PutCommand)[0]?.args[0].input);
    expect(stored).not.toContain(created.key);
  });

  it.each(['Alice', '', '-alice', 'a/b', 'a'.repeat(64)])(
    'are refused for the owner "%s"',
    async (owner) => {
      // Act
      const attempt = store.create(owner);

      // Assess
      await expect(attempt).rejects.toBeInstanceOf(InvalidOwnerError);
      expect(documents).not.toHaveReceivedAnyCommand();
    },
  );

  it('register a key chosen elsewhere by its hash', async () => {
    // Act
    const registered = await store.register('local', 'local-dev-key-123456');

    // Assess
    expect(registered.keyHash).toBe(hashApiKey('local-dev-key-123456'));
    expect(documents).toHaveReceivedCommandWith(PutCommand, {
      Item: {
        keyHash: hashApiKey('local-dev-key-123456'),
        owner: 'local',
        createdAt: NOW.toISOString(),
      },
    });
  });

  it('resolve to the owner of an active key', async () => {
    // Prepare
    documents.on(GetCommand, { Key: { keyHash: hashApiKey('sk_good') } }).resolves({
      Item: { keyHash: hashApiKey('sk_good'), owner: 'alice', createdAt: NOW.toISOString() },
    });

    // Act
    const owner = await store.resolve('sk_good');

    // Assess
    expect(owner).toBe('alice');
    expect(documents).toHaveReceivedCommandWith(GetCommand, {
      TableName: TABLE,
      Key: { keyHash: hashApiKey('sk_good') },
      ConsistentRead: true,
    });
  });

  it('resolve to nothing for an unknown, revoked or empty key', async () => {
    // Prepare
    documents.on(GetCommand, { Key: { keyHash: hashApiKey('sk_revoked') } }).resolves({
      Item: { keyHash: hashApiKey('sk_revoked'), owner: 'alice', createdAt: 'x', revokedAt: 'y' },
    });

    // Act
    const unknown = await store.resolve('sk_unknown');
    const revoked = await store.resolve('sk_revoked');
    const empty = await store.resolve('');

    // Assess
    expect([unknown, revoked, empty]).toEqual([undefined, undefined, undefined]);
    expect(documents).toHaveReceivedCommandTimes(GetCommand, 2);
  });

  it('are revoked by their hash, keeping the first revocation time', async () => {
    // Act
    const revoked = await store.revoke('abc123');

    // Assess
    expect(revoked).toBe(true);
    expect(documents).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: TABLE,
      Key: { keyHash: 'abc123' },
      UpdateExpression: 'SET revokedAt = if_not_exists(revokedAt, :now)',
      ConditionExpression: 'attribute_exists(keyHash)',
      ExpressionAttributeValues: { ':now': NOW.toISOString() },
    });
  });

  it('answer false when revoking an unknown hash', async () => {
    // Prepare
    documents.on(UpdateCommand).rejects(
      new ConditionalCheckFailedException({
        message: 'The conditional request failed',
        $metadata: {},
      }),
    );

    // Act
    const revoked = await store.revoke('nope');

    // Assess
    expect(revoked).toBe(false);
  });
});
