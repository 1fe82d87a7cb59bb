/** The owners' signing secrets over a real local DynamoDB: made once, rotated, the old kept 24 h. */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { ownerHasActiveKey } from '#shared/api/key-owners.ts';
import { API_KEYS_BY_OWNER_INDEX } from '#shared/api/key-table.ts';
import { ApiKeyStore } from '#shared/api/keys.ts';
import { secretItemKey, WebhookSecretStore } from '#shared/webhooks/secrets.ts';
import { useLocalDynamoDb } from '../../../helpers/dynamodb.ts';

const dynamodb = useLocalDynamoDb();

async function setUp() {
  const table = `keys-${dynamodb.tableNumber()}`;
  await dynamodb.createTable(table, { keyHash: 'HASH' }, [
    { name: API_KEYS_BY_OWNER_INDEX.name, partitionKey: 'owner', sortKey: 'keyHash' },
  ]);
  let now = new Date('2026-12-08T00:00:00Z');
  const clock = {
    now: () => now,
    advance: (seconds: number) => {
      now = new Date(now.getTime() + seconds * 1000);
    },
  };
  const store = new WebhookSecretStore(dynamodb.documents, table, { now: clock.now });
  return { table, store, clock };
}

describe('the webhook secret store', () => {
  it('makes an owner secret on the first read and answers the same one after', async () => {
    const { store } = await setUp();
    const first = await store.current('alice');
    expect(first).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(await store.current('alice')).toBe(first);
    expect(await store.current('bob')).not.toBe(first);
  });

  it('agrees on one secret when first reads race', async () => {
    const { store } = await setUp();
    const secrets = await Promise.all(Array.from({ length: 8 }, () => store.current('alice')));
    expect(new Set(secrets).size).toBe(1);
  });

  it('signs with the new and the previous secret for 24 h after a rotation, then the new only', async () => {
    const { store, clock } = await setUp();
    const old = await store.current('alice');
    const rotated = await store.rotate('alice');
    expect(rotated).not.toBe(old);
    expect(await store.current('alice')).toBe(rotated);
    expect(await store.signingSecrets('alice')).toEqual([rotated, old]);
    clock.advance(86_399);
    expect(await store.signingSecrets('alice')).toEqual([rotated, old]);
    clock.advance(1);
    expect(await store.signingSecrets('alice')).toEqual([rotated]);
  });

  it('is neither an API key nor counted as one of the owner', async () => {
    const { store, table } = await setUp();
    const secret = await store.current('carol');
    const keys = new ApiKeyStore(dynamodb.documents, table);
    expect(await keys.resolve(secretItemKey('carol'))).toBeUndefined();
    expect(await keys.resolve(secret)).toBeUndefined();
    expect(
      await ownerHasActiveKey('carol', { tableName: table, client: async () => dynamodb.client }),
    ).toBe(false);
    const { Item } = await dynamodb.documents.send(
      new GetCommand({ TableName: table, Key: { keyHash: secretItemKey('carol') } }),
    );
    expect(Item).not.toHaveProperty('owner');
  });
});
