/**
 * Secrets never land where people read: one full generation through `spark-t2i serve` with the
 * functions logging at DEBUG and every handler logging its incoming event (the authorizer's
 * `authorizationToken`, the submit route's `Authorization` header), then every line the runtime
 * printed, every event and every DynamoDB record is searched for the provider key, the caller's
 * API key and that key's SHA-256.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey, hashApiKey } from '#shared/api/keys.ts';
import { type ServedRuntime, serve, waitForTerminal } from '../helpers/serve.ts';

const sparkKey = `spark-${randomBytes(18).toString('hex')}`;
const apiKey = generateApiKey();
const keyHash = hashApiKey(apiKey);
const wrongKey = generateApiKey();
const secrets = { sparkKey, apiKey, keyHash, wrongKey, wrongKeyHash: hashApiKey(wrongKey) };

let runtime: ServedRuntime;
let id: string;

beforeAll(async () => {
  runtime = await serve({
    simLatencyMs: 100,
    env: {
      SPARK_API_KEY: sparkKey,
      SPARK_T2I_API_KEYS: `local:${apiKey}`,
      SPARK_T2I_FUNCTION_LOG_LEVEL: 'DEBUG',
      SPARK_T2I_FUNCTION_LOG_EVENT: 'true',
    },
  });
  const refused = await runtime.api('/generations', { key: wrongKey });
  expect(refused.status).toBe(401);
  const submitted = await runtime.api('/generations', {
    method: 'POST',
    headers: { 'idempotency-key': 'secrets-and-logs-1' },
    body: JSON.stringify({ prompt: 'a quiet harbour', width: 512, height: 512, seed: 3 }),
  });
  expect(submitted.status).toBe(202);
  ({ id } = (await submitted.json()) as { id: string });
  const record = await waitForTerminal(runtime, id);
  expect(record.status).toBe('completed');
}, 120_000);
afterAll(() => runtime?.stop());

function expectNoSecret(where: string, text: string) {
  for (const [name, secret] of Object.entries(secrets)) {
    expect(text.includes(secret), `${name} found in ${where}`).toBe(false);
  }
}

describe('secrets after a full generation', () => {
  it('reach no log line, though every function logged its events at DEBUG', () => {
    const output = runtime.output();
    // The capture is real: the functions' own entries, incoming events included, are in it.
    expect(output).toContain('"service": "spark-t2i"');
    expect(output).toContain('Authorization refused');
    expect(output).toContain('"authorizationToken": "[redacted]"');
    expect(output).toMatch(/"authorization": "\[redacted\]"/i);
    expect(output).toContain(id);
    expectNoSecret('the runtime output', output);
  });

  it('reach no event', async () => {
    const events = await readFile(join(runtime.dataDir, 'events.jsonl'), 'utf8');
    expect(events).toContain(id);
    expectNoSecret('events.jsonl', events);
  });

  it('reach no DynamoDB record, except the key hash as the key item itself', async () => {
    const { tables } = JSON.parse(
      await readFile(join(runtime.dataDir, 'runtime.json'), 'utf8'),
    ) as { tables: Record<string, string> };
    expect(Object.keys(tables).sort()).toEqual([
      'apiKeys',
      'batches',
      'generations',
      'idempotency',
    ]);
    const scanned: Record<string, Array<Record<string, unknown>>> = {};
    for (const [name, tableName] of Object.entries(tables)) {
      const page = await runtime.dynamodb().send(new ScanCommand({ TableName: tableName }));
      scanned[name] = page.Items ?? [];
    }
    expect(scanned.generations?.map((item) => item.id)).toContain(id);
    expect(scanned.idempotency).not.toHaveLength(0);
    // The keys table is keyed by the hash, by design; nothing else in it, or anywhere, may be.
    const keyItems = (scanned.apiKeys ?? []).map(({ keyHash: hash, ...rest }) => {
      expect(hash).toBe(keyHash);
      return rest;
    });
    expect(keyItems).toEqual([expect.objectContaining({ owner: 'local' })]);
    expectNoSecret('the generations table', JSON.stringify(scanned.generations));
    expectNoSecret('the idempotency table', JSON.stringify(scanned.idempotency));
    expectNoSecret('the batches table', JSON.stringify(scanned.batches));
    expectNoSecret('the API keys table (without its partition key)', JSON.stringify(keyItems));
  });
});
