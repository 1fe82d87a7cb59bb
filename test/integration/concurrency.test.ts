/**
 * The provider-wide concurrency cap on the local runtime: HTTP and prompt-file generations share
 * `maxConcurrentTasks` slots; the simulator, limited to the same number, never sees more tasks in
 * flight and never has to answer 429. After a SIGKILL in the middle of a batch, every line still
 * ends completed, no slot leaks, and nothing is created twice.
 */
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { GetCommand, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { type ServedRuntime, serve, submit, waitForTerminal } from '../helpers/serve.ts';

const CAP = 3;

interface SimulatorStats {
  tasksCreated: number;
  maxInFlight: number;
  requests: { create: number };
}

async function simulatorStats(runtime: ServedRuntime): Promise<SimulatorStats> {
  return (await (
    await fetch(`${runtime.endpoints.spark.baseUrl}/__sim/stats`)
  ).json()) as SimulatorStats;
}

async function slotsTable(runtime: ServedRuntime): Promise<string> {
  const { TableNames = [] } = await runtime.dynamodb().send(new ListTablesCommand({}));
  const name = TableNames.find((table) => table.includes('Slots'));
  if (!name) throw new Error(`no slots table among ${TableNames.join(', ')}`);
  return name;
}

/** Who holds a slot, and who waits for one, as stored. */
async function slotState(runtime: ServedRuntime) {
  const table = await slotsTable(runtime);
  const { Item } = await runtime
    .dynamodb()
    .send(new GetCommand({ TableName: table, Key: { pk: 'semaphore', sk: 'provider' } }));
  const { Items = [] } = await runtime.dynamodb().send(
    new QueryCommand({
      TableName: table,
      KeyConditionExpression: 'pk = :waiter',
      ExpressionAttributeValues: { ':waiter': 'waiter' },
    }),
  );
  return { holders: [...((Item?.holders as Set<string>) ?? [])], waiters: Items.length };
}

async function uploadPromptFile(runtime: ServedRuntime, key: string, lines: string[]) {
  await runtime.s3().send(
    new PutObjectCommand({
      Bucket: runtime.endpoints.s3.inputBucket,
      Key: key,
      Body: `${lines.join('\n')}\n`,
    }),
  );
}

/** The generations of a prompt file, once its report lists them. */
async function fileGenerationIds(runtime: ServedRuntime, sourceRefPrefix: string, count: number) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const { Items = [] } = await runtime.dynamodb().send(
      new ScanCommand({
        TableName: runtime.endpoints.dynamodb.tableName,
        FilterExpression: 'begins_with(sourceRef, :prefix)',
        ExpressionAttributeValues: { ':prefix': sourceRefPrefix },
      }),
    );
    if (Items.length >= count) return Items.map((item) => String(item.id));
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`the prompt file did not start ${count} generations`);
}

const capConfig = { maxConcurrentTasks: CAP };

describe('the provider-wide concurrency cap', () => {
  it('keeps HTTP and prompt-file generations together within the cap, with no 429 at the provider', async () => {
    // Tasks long enough that the cap fills even while the functions' first environments start,
    // and creates come seconds apart on a loaded machine.
    const runtime = await serve({ simLatencyMs: 4000, simMaxConcurrent: CAP, config: capConfig });
    try {
      const httpIds = await Promise.all(
        Array.from({ length: 6 }, (_, index) =>
          submit(runtime, { prompt: `capped http ${index}`, width: 512, height: 512 }),
        ),
      );
      await uploadPromptFile(
        runtime,
        'prompts/capped.txt',
        Array.from({ length: 6 }, (_, index) => `capped file ${index}`),
      );
      const fileIds = await fileGenerationIds(runtime, 's3://', 6);
      const records = await Promise.all(
        [...httpIds, ...fileIds].map((id) => waitForTerminal(runtime, id, 90_000)),
      );
      expect(records.map((record) => record.status)).toEqual(Array(12).fill('completed'));

      const stats = await simulatorStats(runtime);
      expect(stats.tasksCreated).toBe(12);
      // The cap was used, and never exceeded.
      expect(stats.maxInFlight).toBe(CAP);
      // Every create request made a task: none was refused with 429.
      expect(stats.requests.create).toBe(stats.tasksCreated);
      expect(await slotState(runtime)).toEqual({ holders: [], waiters: 0 });
    } finally {
      await runtime.stop();
    }
  }, 150_000);

  it('loses no slot and creates nothing twice when killed in the middle of a batch', async () => {
    const lines = Array.from({ length: 10 }, (_, index) => `batch line ${index}`);
    // Tasks that outlast the seconds between creates on a loaded machine, so that the cap is
    // full whenever a slot is free to fill it: a lost slot then shows as fewer tasks at once.
    const first = await serve({ simLatencyMs: 4000, simMaxConcurrent: CAP, config: capConfig });
    let ids: string[] = [];
    let createdBeforeKill = 0;
    try {
      await uploadPromptFile(first, 'prompts/killed.txt', lines);
      ids = await fileGenerationIds(first, 's3://', lines.length);
      // Kill while the cap is full, every slot holder's task is created and recorded (no create
      // answer in flight), and the rest wait for a slot.
      const deadline = Date.now() + 30_000;
      for (;;) {
        const { holders, waiters } = await slotState(first);
        const recorded = await Promise.all(
          ids.map(async (id) => {
            const { Item } = await first
              .dynamodb()
              .send(new GetCommand({ TableName: first.endpoints.dynamodb.tableName, Key: { id } }));
            return Item?.sparkTaskId !== undefined;
          }),
        );
        createdBeforeKill = recorded.filter(Boolean).length;
        const { tasksCreated } = await simulatorStats(first);
        // Slots are taken before their tasks are created, so a full cap alone can hold zero tasks.
        const holdersCreated = createdBeforeKill >= CAP && createdBeforeKill === tasksCreated;
        if (holders.length === CAP && waiters > 0 && holdersCreated) break;
        if (Date.now() > deadline)
          throw new Error(
            `the cap was never full with waiters ${JSON.stringify({ holders, waiters, createdBeforeKill, tasksCreated })}`,
          );
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    } finally {
      await first.kill();
    }
    expect(createdBeforeKill).toBeGreaterThanOrEqual(CAP);
    expect(createdBeforeKill).toBeLessThan(lines.length);

    const second = await serve({
      dataDir: first.dataDir,
      simLatencyMs: 4000,
      simMaxConcurrent: CAP,
      config: capConfig,
    });
    try {
      const records = await Promise.all(ids.map((id) => waitForTerminal(second, id, 120_000)));
      expect(records.map((record) => record.status)).toEqual(Array(lines.length).fill('completed'));
      const stats = await simulatorStats(second);
      // Tasks recorded before the kill were polled again, not created again.
      expect(stats.tasksCreated).toBe(lines.length - createdBeforeKill);
      expect(stats.requests.create).toBe(stats.tasksCreated);
      // The cap was reached again after the restart: no slot was lost with the old process.
      expect(stats.maxInFlight).toBe(CAP);
      expect(await slotState(second)).toEqual({ holders: [], waiters: 0 });
    } finally {
      await second.stop();
    }
  }, 240_000);
});

describe('a create the provider throttles with Retry-After', () => {
  it('is asked again once the wait it names is over, not sooner: one 429, then the task', async () => {
    // A provider that takes one task at a time, a cap that lets two through, and real time: the
    // second create meets a 429 whose Retry-After is when the first task ends (3 s away). The
    // workflow's own backoff (2 s, full jitter) would ask again sooner, and be refused again.
    const runtime = await serve({
      simLatencyMs: 3000,
      simMaxConcurrent: 1,
      timeScale: 1,
      config: { maxConcurrentTasks: 2, polling: { expectedGenerationSeconds: 3 } },
    });
    try {
      const ids = await Promise.all(
        ['first in', 'second in'].map((prompt) =>
          submit(runtime, { prompt, width: 512, height: 512 }),
        ),
      );
      const records = await Promise.all(ids.map((id) => waitForTerminal(runtime, id, 60_000)));
      expect(records.map((record) => record.status)).toEqual(['completed', 'completed']);

      const stats = await simulatorStats(runtime);
      expect(stats.tasksCreated).toBe(2);
      expect(stats.requests.create - stats.tasksCreated).toBe(1);
    } finally {
      await runtime.stop();
    }
  }, 90_000);
});
