/**
 * Scheduler delivers at least once: the same firing of a schedule delivered twice — at once, and
 * again after its generation ended — makes one generation and one paid provider task, through
 * the synthesized state machine on the local runtime. Firing on demand is a new firing each time.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalRuntime, startLocalRuntime } from '#local/runtime/runtime.ts';
import { SHARED_CACHE_DIR } from '../helpers/serve.ts';

let runtime: LocalRuntime;
const SCHEDULE = 'daily-sample';

beforeAll(async () => {
  runtime = await startLocalRuntime({
    dataDir: mkdtempSync(join(tmpdir(), 'spark-t2i-schedules-')),
    cacheDir: SHARED_CACHE_DIR,
    port: 0,
    timeScale: 0.01,
    simLatencyMs: 100,
  });
}, 120_000);
afterAll(() => runtime?.close());

async function scheduledGenerations(): Promise<Array<Record<string, unknown>>> {
  const client = new DynamoDBClient({
    endpoint: runtime.endpoints.dynamodb.endpoint,
    region: runtime.endpoints.dynamodb.region,
    credentials: {
      accessKeyId: runtime.endpoints.s3.accessKeyId,
      secretAccessKey: runtime.endpoints.s3.secretAccessKey,
    },
  });
  try {
    const page = await DynamoDBDocumentClient.from(client).send(
      new ScanCommand({ TableName: runtime.endpoints.dynamodb.tableName }),
    );
    return (page.Items ?? []).filter((item) => item.source === 'schedule');
  } finally {
    client.destroy();
  }
}

async function tasksCreated(): Promise<number> {
  const stats = (await (await fetch(`${runtime.endpoints.spark.baseUrl}/__sim/stats`)).json()) as {
    tasksCreated: number;
  };
  return stats.tasksCreated;
}

describe('a schedule firing delivered more than once', () => {
  it('makes one generation and one provider task', async () => {
    const scheduledTime = new Date('2030-01-01T09:00:00Z');

    const [first, duplicate] = await Promise.all([
      runtime.fireScheduleAt(SCHEDULE, scheduledTime),
      runtime.fireScheduleAt(SCHEDULE, scheduledTime),
    ]);
    await runtime.engine.idle();
    const late = await runtime.fireScheduleAt(SCHEDULE, new Date(scheduledTime));
    await runtime.engine.idle();

    expect(duplicate.id).toBe(first.id);
    expect(late.id).toBe(first.id);
    expect(first.id).toBe('s_daily-sample_20300101T090000Z');
    const generations = await scheduledGenerations();
    expect(generations.map((item) => [item.id, item.status, item.sourceRef])).toEqual([
      [first.id, 'completed', `schedule:${SCHEDULE}`],
    ]);
    expect(runtime.engine.list().filter((execution) => execution.name === first.id)).toHaveLength(
      1,
    );
    expect(await tasksCreated()).toBe(1);
  }, 60_000);

  it('makes a generation per firing: another scheduled time, or each trigger on demand', async () => {
    const before = (await scheduledGenerations()).length;

    const next = await runtime.fireScheduleAt(SCHEDULE, new Date('2030-01-02T09:00:00Z'));
    const [one, two] = [
      await runtime.triggerSchedule(SCHEDULE),
      await runtime.triggerSchedule(SCHEDULE),
    ];
    await runtime.engine.idle();

    expect(new Set([next.id, one.id, two.id]).size).toBe(3);
    const generations = await scheduledGenerations();
    expect(generations).toHaveLength(before + 3);
    expect(
      generations.filter((item) => [next.id, one.id, two.id].includes(item.id as string)),
    ).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ status: 'completed' }),
        expect.objectContaining({ status: 'completed' }),
        expect.objectContaining({ status: 'completed' }),
      ]),
    );
  }, 60_000);
});
