/**
 * Batches on the local runtime, the processing side: a prompt file put straight in S3 is a batch
 * whose counts end exact across a SIGKILL of the runtime, and a cancelled batch pays for nothing
 * after its cancel. (Exact counts under repeated S3 deliveries: prompt-files.test.ts.) Everything is
 * read the way the product reads it (the batch repository over the local DynamoDB).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Batch, isFinalBatchStatus } from '#shared/batches/model.ts';
import { BatchRepository } from '#shared/batches/repository.ts';
import { type ServedRuntime, serve } from '../helpers/serve.ts';

const CAP = 4;
let runtime: ServedRuntime;

beforeAll(async () => {
  runtime = await serve({
    simLatencyMs: 100,
    simMaxConcurrent: CAP,
    config: { maxConcurrentTasks: CAP },
  });
}, 90_000);
afterAll(() => runtime?.stop());

async function batches(): Promise<BatchRepository> {
  const { tables } = JSON.parse(await readFile(join(runtime.dataDir, 'runtime.json'), 'utf8')) as {
    tables: { batches: string };
  };
  return new BatchRepository(runtime.dynamodb(), tables.batches);
}

function promptFile(lines: number, bad: ReadonlySet<number> = new Set()): string {
  return `${Array.from({ length: lines }, (_, index) =>
    bad.has(index + 1)
      ? JSON.stringify({ prompt: '' })
      : JSON.stringify({ prompt: `batch prompt ${index + 1}`, width: 512, height: 512 }),
  ).join('\n')}\n`;
}

async function upload(key: string, body: string): Promise<void> {
  await runtime
    .s3()
    .send(new PutObjectCommand({ Bucket: runtime.endpoints.s3.inputBucket, Key: key, Body: body }));
}

/** The batch id the file's report carries (the report is written once the file is read). */
async function batchIdOf(key: string, timeoutMs = 120_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const object = await runtime.s3().send(
        new GetObjectCommand({
          Bucket: runtime.endpoints.s3.inputBucket,
          Key: `reports/${key}.json`,
        }),
      );
      const report = JSON.parse(
        await (object.Body as { transformToString(): Promise<string> }).transformToString(),
      ) as { batchId: string };
      return report.batchId;
    } catch (error) {
      if (Date.now() > deadline) {
        throw new Error(
          `No report of ${key}; the runtime said:\n${runtime.output().slice(-4000)}`,
          {
            cause: error,
          },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

async function until(
  what: string,
  probe: () => Promise<Batch | undefined>,
  done: (batch: Batch) => boolean,
  timeoutMs: number,
): Promise<Batch> {
  const deadline = Date.now() + timeoutMs;
  let last: Batch | undefined;
  for (;;) {
    last = await probe();
    if (last !== undefined && done(last)) return last;
    if (Date.now() > deadline) {
      throw new Error(`${what}: last seen ${JSON.stringify(last?.counts)} ${last?.status}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function tasksCreated(): Promise<number> {
  const stats = (await (await fetch(`${runtime.endpoints.spark.baseUrl}/__sim/stats`)).json()) as {
    tasksCreated: number;
  };
  return stats.tasksCreated;
}

/** The batch of the file at `key` (it exists as soon as its file is opened), once it has completed `lines`. */
async function batchWithCompleted(
  repository: BatchRepository,
  key: string,
  lines: number,
): Promise<string> {
  // Found in the owner's page once, then read by its id: one head and its shards a probe.
  const { id } = await until(
    `the batch of ${key}`,
    async () => {
      const page = await repository.pageByOwner({ owner: 'local', limit: 20 });
      return page.items.find((item) => item.source.key === key);
    },
    () => true,
    120_000,
  );
  await until(
    `${lines} lines of ${key} to complete`,
    () => repository.get(id),
    (batch) => batch.counts.completed >= lines,
    120_000,
  );
  return id;
}

describe('batches on the local runtime', () => {
  it('pays for nothing after a cancel, and its counts settle', async () => {
    const key = 'prompts/cancelled.jsonl';
    await upload(key, promptFile(400));
    const repository = await batches();
    const id = await batchWithCompleted(repository, key, 8);

    const cancelled = await runtime.api(`/batches/${id}`, { method: 'DELETE' });
    const createdAtCancel = await tasksCreated();
    expect(cancelled.status).toBe(200);
    expect(((await cancelled.json()) as { status: string }).status).toBe('cancelled');

    const settled = await until(
      'the counts to settle',
      () => repository.get(id),
      (batch) =>
        batch.counts.queued === 0 &&
        batch.counts.running === 0 &&
        batch.counts.completed + batch.counts.failed + batch.counts.cancelled ===
          batch.counts.accepted,
      120_000,
    );

    expect(settled.status).toBe('cancelled');
    expect(settled.counts.accepted).toBeLessThan(400);
    expect(settled.counts.cancelled).toBeGreaterThan(0);
    // At most the lines that had passed the check when the cancel came (one per slot).
    expect((await tasksCreated()) - createdAtCancel).toBeLessThanOrEqual(CAP);
    expect((await batchIdOf(key)) === id).toBe(true);
    // Its end announced once, as cancelled.
    const announced = (await readFile(join(runtime.dataDir, 'events.jsonl'), 'utf8'))
      .split('\n')
      .filter((line) => line.includes('Batch Completed') && line.includes(id));
    expect(announced).toHaveLength(1);
    expect(announced[0]).toContain('"status":"cancelled"');
  }, 240_000);
});

describe('batches across a SIGKILL of the runtime', () => {
  it('ends with exact counts when the runtime is killed mid-batch and started again', async () => {
    const key = 'prompts/killed.jsonl';
    // Enough lines that most are still queued when the runtime is killed (CAP run at a time).
    await upload(key, promptFile(60, new Set([5])));
    const repository = await batches();
    const id = await batchWithCompleted(repository, key, 10);

    await runtime.kill();
    runtime = await serve({
      dataDir: runtime.dataDir,
      simLatencyMs: 100,
      simMaxConcurrent: CAP,
      config: { maxConcurrentTasks: CAP },
    });
    const restarted = await batches();

    const ended = await until(
      'the batch to complete after the restart',
      () => restarted.get(id),
      (batch) => isFinalBatchStatus(batch.status),
      180_000,
    );
    expect(ended.status).toBe('completed');
    expect(ended.counts).toMatchObject({
      lines: 60,
      accepted: 59,
      rejected: 1,
      queued: 0,
      running: 0,
      completed: 59,
    });
  }, 300_000);
});
