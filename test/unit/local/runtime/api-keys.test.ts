/**
 * The keys the local runtime registers at each start, against a real DynamoDB-compatible table:
 * a start is one `provisionApiKeys` call, a restart the next one on the same table and data dir.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ApiKeyListError, provisionApiKeys } from '#local/runtime/api-keys.ts';
import { ApiKeyStore, hashApiKey } from '#shared/api/keys.ts';
import { type LocalDynamoDb, startDynamoDb } from '../../../helpers/dynamodb.ts';

const ALICE = 'alice-key-0123456789';
const BOB = 'bob-key-0123456789';

let dynamodb: LocalDynamoDb;
let store: ApiKeyStore;
let dataDir: string;
let warnings: string[];
let table = 0;

beforeAll(async () => {
  dynamodb = await startDynamoDb();
});
afterAll(() => dynamodb.close());

beforeEach(async () => {
  table += 1;
  await dynamodb.createTable(`keys-${table}`, { keyHash: 'HASH' });
  store = new ApiKeyStore(dynamodb.documents, `keys-${table}`);
  dataDir = await mkdtemp(join(tmpdir(), 'spark-t2i-keys-'));
  warnings = [];
});
afterEach(() => rm(dataDir, { recursive: true, force: true }));

const start = (configured: string | undefined) =>
  provisionApiKeys(store, dataDir, configured, (line) => warnings.push(line));

describe('the API keys of a local start', () => {
  it('keeps a revoked key revoked when it is listed again, warns once naming its owner, and starts', async () => {
    // Prepare: a first start registers both keys; then bob's is revoked.
    await start(`alice:${ALICE},bob:${BOB}`);
    expect(await store.revoke(hashApiKey(BOB))).toBe(true);

    // Act: a restart with the same list.
    const key = await start(`alice:${ALICE},bob:${BOB}`);

    // Assess
    expect(key).toEqual({ key: ALICE, owner: 'alice', created: false });
    expect(await store.resolve(BOB)).toBeUndefined();
    expect(await store.resolve(ALICE)).toBe('alice');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/revoked/);
    expect(warnings[0]).toContain('"bob"');
    expect(warnings[0]).not.toContain(BOB);
    expect(warnings[0]).not.toMatch(/another owner/);
  });

  it('hands the CLI the first key that still works when the first listed is revoked', async () => {
    // Prepare
    await start(`bob:${BOB},alice:${ALICE}`);
    await store.revoke(hashApiKey(BOB));

    // Act
    const key = await start(`bob:${BOB},alice:${ALICE}`);

    // Assess
    expect(key.key).toBe(ALICE);
    expect((await readFile(join(dataDir, 'local-api-key'), 'utf8')).trim()).toBe(ALICE);
  });

  it('still refuses an active key listed for another owner than the one it has', async () => {
    // Prepare
    await start(`alice:${ALICE}`);

    // Act
    const restart = start(`bob:${ALICE}`);

    // Assess
    await expect(restart).rejects.toThrow(ApiKeyListError);
    await expect(restart).rejects.toThrow(/registered to another owner than "bob"/);
  });

  it('registers nothing again and warns about nothing on a plain restart', async () => {
    // Prepare
    await start(`alice:${ALICE},bob:${BOB}`);

    // Act
    const key = await start(`alice:${ALICE},bob:${BOB}`);

    // Assess
    expect(key).toEqual({ key: ALICE, owner: 'alice', created: false });
    expect(warnings).toEqual([]);
    expect(await store.resolve(BOB)).toBe('bob');
  });
});
