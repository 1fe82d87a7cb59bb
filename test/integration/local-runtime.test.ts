/**
 * The embedded default end to end: `spark-t2i serve` as a child process running the synthesized
 * state machine, with every trigger driven through its real entrance and every outcome checked
 * where it lands (DynamoDB, S3, the events log, the simulator).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { signedFetch } from '#local/aws/signed-fetch.ts';
import { type PngSpec, renderPng } from '#local/simulator/index.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';
import {
  adminRoute,
  type ServedRuntime,
  scanGenerations,
  serve,
  submit,
  waitFor,
  waitForTerminal,
} from '../helpers/serve.ts';

const execFileAsync = promisify(execFile);

async function events(runtime: ServedRuntime): Promise<Array<Record<string, unknown>>> {
  const text = await readFile(join(runtime.dataDir, 'events.jsonl'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** The generation's item in DynamoDB, read directly (not through the API). */
async function storedRecord(runtime: ServedRuntime, id: string) {
  const { Item } = await runtime
    .dynamodb()
    .send(new GetCommand({ TableName: runtime.endpoints.dynamodb.tableName, Key: { id } }));
  return Item;
}

/** Ids of the generations with a `Generation Completed` event in the events log. */
async function completedEventIds(runtime: ServedRuntime): Promise<string[]> {
  return (await events(runtime))
    .filter((event) => event['detail-type'] === 'Generation Completed')
    .map((event) => (event.detail as { id?: string }).id as string);
}

interface PromptFileReport {
  summary: { accepted: number; rejected: number };
  lines: Array<{ line: number; id?: string; error?: { code: string } }>;
}

/** The report of the prompt file at `key` (it throws until the report exists). */
async function reportOf(runtime: ServedRuntime, key: string): Promise<PromptFileReport> {
  const object = await runtime.s3().send(
    new GetObjectCommand({
      Bucket: runtime.endpoints.s3.inputBucket,
      Key: `reports/${key}.json`,
    }),
  );
  return JSON.parse(
    await (object.Body as { transformToString(): Promise<string> }).transformToString(),
  ) as PromptFileReport;
}

async function controlUrl(runtime: ServedRuntime): Promise<string> {
  return (
    JSON.parse(await readFile(join(runtime.dataDir, 'runtime.json'), 'utf8')) as {
      control: string;
    }
  ).control;
}

interface ExecutionView {
  name: string;
  status: string;
  transitions: number;
  retries: Record<string, number>;
  [key: string]: unknown;
}

/** What the interpreter counted for a generation's execution, once it has ended. */
async function endedExecution(runtime: ServedRuntime, id: string): Promise<ExecutionView> {
  return waitFor(`execution ${id} to end`, async () => {
    const view = (await (
      await adminRoute(runtime, `/__local/executions/${id}`)
    ).json()) as ExecutionView;
    return view.status === 'RUNNING' ? undefined : view;
  });
}

/**
 * The deliveries of batch lines' end events (to the batch-progress rule's target) started and not
 * done, as the runtime's journal holds them (read as it is, not opened as the runtime opens it).
 */
async function lineEndsInFlight(
  dataDir: string,
): Promise<Array<{ id: string; generationId: string }>> {
  const text = await readFile(join(dataDir, 'event-deliveries-in-flight.jsonl'), 'utf8').catch(
    () => '',
  );
  const pending = new Map<string, unknown>();
  for (const raw of text.split('\n')) {
    try {
      const line = JSON.parse(raw) as { id: string; started?: { input?: unknown }; ended?: true };
      if (line.ended) pending.delete(line.id);
      else pending.set(line.id, line.started?.input);
    } catch {
      // an empty last line, or one cut short by the kill
    }
  }
  return [...pending].flatMap(([id, input]) => {
    const event = input as { source?: string; detail?: { id?: string } } | undefined;
    const generationId = event?.detail?.id;
    return event?.source === 'spark-t2i' && generationId?.startsWith('f_')
      ? [{ id, generationId }]
      : [];
  });
}

async function simulatorStats(runtime: ServedRuntime) {
  return (await (await fetch(`${runtime.endpoints.spark.baseUrl}/__sim/stats`)).json()) as {
    tasksCreated: number;
    requests: { create: number; poll: number; image: number };
  };
}

describe('the local runtime, every trigger end to end', () => {
  let runtime: ServedRuntime;

  beforeAll(async () => {
    runtime = await serve({ simLatencyMs: 300 });
  }, 90_000);
  afterAll(() => runtime?.stop());

  it('writes endpoints.json exactly as docs/local-runtime.md says, with no other key', () => {
    // toEqual, not toMatchObject: a key the contract does not name fails the test.
    expect(runtime.endpoints).toEqual({
      api: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
      s3: {
        endpoint: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
        region: 'us-east-1',
        accessKeyId: expect.any(String),
        secretAccessKey: expect.any(String),
        inputBucket: expect.any(String),
        outputBucket: expect.any(String),
      },
      dynamodb: {
        endpoint: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
        region: 'us-east-1',
        tableName: expect.any(String),
      },
      sqs: {
        endpoint: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
        region: 'us-east-1',
        queues: expect.any(Object),
      },
      spark: { baseUrl: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/), simulated: true },
      functions: { mode: 'bundles', assets: expect.any(String) },
      iam: 'enforced',
    });
  });

  it('keeps a generation in the unfinished index until it ends, and takes it out then', async () => {
    const id = await submit(runtime, { prompt: 'an indexed lighthouse', width: 512, height: 512 });
    const unfinished = async () =>
      (
        await runtime.dynamodb().send(
          new QueryCommand({
            TableName: runtime.endpoints.dynamodb.tableName,
            IndexName: 'unfinished',
            KeyConditionExpression: 'unfinished = :unfinished',
            ExpressionAttributeValues: { ':unfinished': 'unfinished' },
          }),
        )
      ).Items?.map((item) => item.id);
    // The simulator takes 300 ms; the record is queued or running meanwhile.
    expect(await unfinished()).toContain(id);

    expect((await waitForTerminal(runtime, id)).status).toBe('completed');
    expect(await unfinished()).not.toContain(id);
    const { Item } = await runtime
      .dynamodb()
      .send(new GetCommand({ TableName: runtime.endpoints.dynamodb.tableName, Key: { id } }));
    expect(Item).not.toHaveProperty('unfinished');
  });

  it('HTTP: POST, then GET until completed; the image is a PNG of the requested size, as served', async () => {
    const id = await submit(runtime, {
      prompt: 'a lighthouse at dawn',
      width: 1024,
      height: 768,
      seed: 7,
    });

    const record = await waitForTerminal(runtime, id);

    expect(record).toMatchObject({
      id,
      status: 'completed',
      source: 'http',
      polls: expect.any(Number),
    });
    expect(record.costUsd).toEqual(expect.any(Number));
    expect(record.images).toHaveLength(1);
    const [image] = record.images;
    const downloaded = Buffer.from(await (await fetch(image?.url as string)).arrayBuffer());
    const png = PNG.sync.read(downloaded);
    expect([png.width, png.height]).toEqual([1024, 768]);
    expect(image).toMatchObject({
      width: 1024,
      height: 768,
      contentType: 'image/png',
      size: downloaded.length,
    });
    // The stored copy is byte for byte what the simulator served: its PNG is a pure function of
    // prompt, seed and size for a positive seed, so rendering the same spec gives the same bytes.
    const served = await renderPng({
      prompt: 'a lighthouse at dawn',
      seed: 7,
      width: 1024,
      height: 768,
    });
    expect(downloaded.equals(served)).toBe(true);
    expect(image?.sha256).toBe(sha256(served));
    const item = await runtime
      .dynamodb()
      .send(new GetCommand({ TableName: runtime.endpoints.dynamodb.tableName, Key: { id } }));
    expect(item.Item).toMatchObject({
      status: 'completed',
      owner: 'local',
      ownerStatus: 'local#completed',
    });
    // The event is published after the record is written: wait for it a moment.
    await vi.waitFor(
      async () => {
        const completed = (await events(runtime)).find(
          (event) => (event.detail as { id?: string }).id === id,
        );
        expect(completed).toMatchObject({
          source: 'spark-t2i',
          'detail-type': 'Generation Completed',
        });
      },
      { timeout: 10_000, interval: 100 },
    );
    // Nine states for a success with one poll, three more (Wait, Poll, Choice) per further poll.
    const execution = await endedExecution(runtime, id);
    expect(execution).toMatchObject({ status: 'SUCCEEDED', retries: {} });
    expect(execution.transitions).toBe(6 + 3 * (record.polls as number));
  });

  it('S3: a prompt file uploaded with the SDK makes one generation per valid line and a report', async () => {
    const key = 'prompts/local/e2e.jsonl';
    const body = [
      JSON.stringify({ prompt: 'a red apple', width: 512, height: 512 }),
      JSON.stringify({ prompt: 'a green pear', width: 512, height: 512 }),
      JSON.stringify({ prompt: '', width: 512, height: 512 }),
    ].join('\n');
    await runtime
      .s3()
      .send(
        new PutObjectCommand({ Bucket: runtime.endpoints.s3.inputBucket, Key: key, Body: body }),
      );

    const report = await waitFor('the report', () => reportOf(runtime, key));

    expect(report.summary).toMatchObject({ accepted: 2, rejected: 1 });
    expect(report.lines.find((line) => line.line === 3)?.error?.code).toBe(
      ErrorCodes.INVALID_PROMPT_LENGTH,
    );
    const ids = report.lines.flatMap((line) => (line.id ? [line.id] : []));
    expect(ids).toHaveLength(2);
    for (const id of ids) {
      const record = await waitForTerminal(runtime, id);
      expect(record).toMatchObject({
        status: 'completed',
        source: 's3',
        sourceRef: expect.stringContaining(key),
      });
      expect(await storedRecord(runtime, id)).toMatchObject({
        status: 'completed',
        source: 's3',
        images: [expect.objectContaining({ sha256: expect.stringMatching(/^[0-9a-f]{64}$/) })],
      });
    }
    expect(await completedEventIds(runtime)).toEqual(expect.arrayContaining(ids));
  });

  it('schedule: a configured schedule fired makes a completed generation with source "schedule"', async () => {
    const response = await adminRoute(runtime, '/__local/schedules/daily-sample/trigger', {
      method: 'POST',
    });
    const { id } = (await response.json()) as { id: string };

    const record = await waitForTerminal(runtime, id);

    expect(record).toMatchObject({
      status: 'completed',
      source: 'schedule',
      sourceRef: 'schedule:daily-sample',
    });
    expect(record.images[0]).toMatchObject({ width: 1472, height: 1104 });
    // The schedule's request has a positive seed: its image is known in advance.
    const { schedules } = JSON.parse(
      await readFile(join(import.meta.dirname, '..', '..', 'spark-t2i.config.json'), 'utf8'),
    ) as { schedules: Array<{ name: string; request: PngSpec }> };
    const request = schedules.find((schedule) => schedule.name === 'daily-sample')?.request;
    const expected = sha256(await renderPng(request as PngSpec));
    expect(await storedRecord(runtime, id)).toMatchObject({
      status: 'completed',
      source: 'schedule',
      images: [expect.objectContaining({ sha256: expected })],
    });
    expect(await completedEventIds(runtime)).toContain(id);
  });
});

describe('the local runtime, what each execution cost', () => {
  let runtime: ServedRuntime;

  // The provider finishes well before the first poll (10 s scaled by 0.01): exactly one poll.
  beforeAll(async () => {
    runtime = await serve({ simLatencyMs: 10 });
  }, 90_000);
  afterAll(() => runtime?.stop());

  it('answers the 9 state transitions of a completed generation with one poll, and its dates', async () => {
    const id = await submit(runtime, { prompt: 'a counted lighthouse', width: 512, height: 512 });
    const record = await waitForTerminal(runtime, id);
    expect(record).toMatchObject({ status: 'completed', polls: 1 });

    const execution = await endedExecution(runtime, id);

    expect(execution).toEqual({
      name: id,
      executionArn: expect.stringMatching(new RegExp(`:execution:[^:]+:${id}$`)),
      status: 'SUCCEEDED',
      startDate: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      stopDate: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      // RecordQueued, AcquireSlot, CreateTask, WaitForTask, PollTask, IsTaskDone, CopyImages,
      // RecordSuccess, PublishCompleted (docs/decisions.md D7).
      transitions: 9,
      retries: {},
      currentState: 'PublishCompleted',
    });
    expect(Date.parse(execution.stopDate as string)).toBeGreaterThanOrEqual(
      Date.parse(execution.startDate as string),
    );
    const all = (await (
      await adminRoute(runtime, '/__local/executions')
    ).json()) as ExecutionView[];
    expect(all).toContainEqual(execution);
  });

  it('answers 404 for an execution it never ran', async () => {
    const response = await adminRoute(runtime, '/__local/executions/no-such-id');
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: { code: 'UNKNOWN_EXECUTION' } });
  });

  it('refuses its admin routes and the AWS APIs to an unsigned or wrongly signed caller', async () => {
    const control = await controlUrl(runtime);
    const unsigned = await fetch(`${control}/__local/executions`);
    expect(unsigned.status).toBe(400);
    expect(await unsigned.json()).toMatchObject({
      __type: expect.stringMatching(/#MissingAuthenticationTokenException$/),
    });
    const wrongSecret = await signedFetch(`${control}/__local/executions`, {
      credentials: { accessKeyId: runtime.endpoints.s3.accessKeyId, secretAccessKey: 'guessed' },
    });
    expect(await wrongSecret.json()).toMatchObject({
      __type: expect.stringMatching(/#InvalidSignatureException$/),
    });
    // The provider key is never handed to a caller who cannot sign.
    const secret = await fetch(control, {
      method: 'POST',
      headers: {
        'x-amz-target': 'secretsmanager.GetSecretValue',
        'content-type': 'application/x-amz-json-1.1',
      },
      body: JSON.stringify({ SecretId: 'anything' }),
    });
    expect(await secret.text()).not.toContain('SecretString');
    const s3 = await fetch(
      `${runtime.endpoints.s3.endpoint}/${runtime.endpoints.s3.inputBucket}/x`,
    );
    expect(s3.status).toBe(403);
    expect(await s3.text()).toContain('<Code>AccessDenied</Code>');
  });
});

describe('the local runtime, failure paths through the real state machine', () => {
  it.concurrent.each([
    [
      'the provider fails the task',
      { simFaults: 'taskFailed=1' },
      'failed',
      ErrorCodes.INTERNAL_GENERATION_ERROR,
      1,
    ],
    [
      'every poll answer is malformed',
      { simFaults: 'pollMalformed=1' },
      'failed',
      ErrorCodes.RESULT_PARSING_ERROR,
      0,
    ],
    [
      'the image URL answers 404',
      { simFaults: 'image404=1' },
      'failed',
      ErrorCodes.IMAGE_DOWNLOAD_FAILED,
      1,
    ],
    [
      "the image URL points inside the network (privateUrl), although the simulator's origin is exempt",
      { simFaults: 'privateUrl=1' },
      'failed',
      ErrorCodes.IMAGE_URL_REFUSED,
      1,
    ],
    [
      'the provider throttles and errors, then answers',
      { simFaults: 'create429=0.5,poll5xx=0.3,poll429=0.2', simFaultSeed: 3 },
      'completed',
      undefined,
      1,
    ],
    [
      'the task outlives the polling bounds',
      {
        simLatencyMs: 60_000,
        config: { polling: { maxPolls: 2, expectedGenerationSeconds: 1, intervalSeconds: 1 } },
      },
      'failed',
      ErrorCodes.GENERATION_TIMED_OUT,
      2,
    ],
  ] as const)(
    'ends %s as %s with its code, and the polls it had',
    async (_name, options, status, code, polls) => {
      const runtime = await serve({ simLatencyMs: 100, ...options });
      try {
        const id = await submit(runtime, { prompt: 'a stormy sea', width: 512, height: 512 });
        const record = await waitForTerminal(runtime, id, 60_000);
        expect(record.status).toBe(status);
        if (code) expect(record.error?.code).toBe(code);
        else expect(record.images).toHaveLength(1);
        // Every poll that answered is counted in the record, whatever came after it.
        expect(record.polls).toBe(polls);
        // The event is published after the record is written: wait for it a moment.
        await vi.waitFor(
          async () => {
            const event = (await events(runtime)).find(
              (candidate) => (candidate.detail as { id?: string }).id === id,
            );
            expect(event?.['detail-type']).toBe(
              status === 'completed' ? 'Generation Completed' : 'Generation Failed',
            );
          },
          { timeout: 10_000, interval: 100 },
        );
      } finally {
        await runtime.stop();
      }
    },
    120_000,
  );
});

describe('the local runtime, restarted', () => {
  it('carries a prompt file on after a SIGKILL in the middle of it: every line once, and its report', async () => {
    // Ten starts a second: the 60 lines take the function about 5 s, and the kill comes early.
    const config = { limits: { promptFileStartsPerSecond: 10 } };
    const first = await serve({ simLatencyMs: 300, config });
    const key = 'prompts/local/killed-midway.txt';
    const lines = Array.from({ length: 60 }, (_, index) => `a line cut off by a kill ${index}`);
    await first.s3().send(
      new PutObjectCommand({
        Bucket: first.endpoints.s3.inputBucket,
        Key: key,
        Body: lines.join('\n'),
      }),
    );
    const generationsOf = async (runtime: ServedRuntime) =>
      (
        await scanGenerations(runtime, {
          FilterExpression: 'contains(sourceRef, :key)',
          ExpressionAttributeValues: { ':key': key },
        })
      ).map((item) => item.id as string);
    await waitFor('the first generations of the file', async () =>
      (await generationsOf(first)).length >= 5 ? true : undefined,
    );
    const startedBeforeKill = (await generationsOf(first)).length;
    await first.kill();
    expect(startedBeforeKill).toBeLessThan(lines.length);

    const second = await serve({ dataDir: first.dataDir, simLatencyMs: 300, config });
    try {
      const report = await waitFor('the report', () => reportOf(second, key), 60_000);
      expect(report.summary.accepted).toBe(lines.length);
      const ids = report.lines.map((line) => line.id as string);
      expect(new Set(ids).size).toBe(lines.length);
      const records = await Promise.all(ids.map((id) => waitForTerminal(second, id, 60_000)));
      expect(records.every((record) => record.status === 'completed')).toBe(true);
      // One generation a line: the lines started before the kill were met again, not doubled.
      expect((await generationsOf(second)).sort()).toEqual([...ids].sort());
    } finally {
      await second.stop();
    }
  }, 120_000);

  it('delivers again, after a SIGKILL, the events a rule’s target had not taken: every cut-off line end counted', async () => {
    const first = await serve({ simLatencyMs: 100 });
    const key = 'prompts/local/events-cut-off.txt';
    const lines = Array.from({ length: 6 }, (_, index) => `a line whose end is cut off ${index}`);
    await first.s3().send(
      new PutObjectCommand({
        Bucket: first.endpoints.s3.inputBucket,
        Key: key,
        Body: lines.join('\n'),
      }),
    );
    // Killed the moment a line's end is on its way to batch progress (the rule on the pipeline's
    // bus), polled closely: waitFor's pace could miss a delivery that takes tens of milliseconds.
    const deadline = Date.now() + 30_000;
    while ((await lineEndsInFlight(first.dataDir)).length === 0) {
      if (Date.now() > deadline) throw new Error('no line end was ever on its way');
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await first.kill();
    const cutOff = await lineEndsInFlight(first.dataDir);
    expect(cutOff.length).toBeGreaterThan(0);

    const second = await serve({ dataDir: first.dataDir, simLatencyMs: 100 });
    try {
      // Each delivery the kill cut off is done in the second run (without the journal it would
      // never be tried again), and its line's end is counted in its batch.
      await waitFor('the cut-off deliveries to be done', async () => {
        const pending = new Set(
          (await lineEndsInFlight(second.dataDir)).map((delivery) => delivery.id),
        );
        return cutOff.every((delivery) => !pending.has(delivery.id)) ? true : undefined;
      });
      for (const { generationId } of cutOff) {
        expect(await storedRecord(second, generationId)).toMatchObject({
          status: 'completed',
          batchCounted: 'completed',
        });
      }
    } finally {
      await second.stop();
    }
  }, 90_000);

  it('carries every generation on after a SIGKILL, creating no Spark task twice', async () => {
    const first = await serve({ simLatencyMs: 2000 });
    const ids = await Promise.all(
      Array.from({ length: 4 }, (_, index) =>
        submit(first, { prompt: `restart ${index}`, width: 512, height: 512 }),
      ),
    );
    // Kill while they are polling: every task created and recorded, none finished.
    await waitFor('every task recorded', async () => {
      const items = await Promise.all(
        ids.map((id) =>
          first
            .dynamodb()
            .send(new GetCommand({ TableName: first.endpoints.dynamodb.tableName, Key: { id } })),
        ),
      );
      return items.every((item) => item.Item?.sparkTaskId && item.Item.status === 'running')
        ? true
        : undefined;
    });
    await first.kill();

    const second = await serve({ dataDir: first.dataDir, simLatencyMs: 2000 });
    try {
      const records = await Promise.all(ids.map((id) => waitForTerminal(second, id, 60_000)));
      expect(records.map((record) => record.status)).toEqual([
        'completed',
        'completed',
        'completed',
        'completed',
      ]);
      // The restarted simulator counts from zero: it created nothing new for these generations.
      expect((await simulatorStats(second)).tasksCreated).toBe(0);
      expect(second.output()).toMatch(/Resumed\s+4/);
      // On a restart the key is not printed: the curl examples read it from the data dir by an
      // absolute path, so they work as printed from any directory.
      const examples = second
        .output()
        .split('\n')
        .filter((line) => line.trimStart().startsWith('curl '))
        .map((line) => line.trim());
      expect(examples).toHaveLength(2);
      for (const example of examples) {
        expect(example).toContain(`$(cat ${join(first.dataDir, 'local-api-key')})`);
        const { stdout } = await execFileAsync('sh', ['-c', `${example} -w '\n%{http_code}'`], {
          cwd: tmpdir(),
        });
        const status = stdout.trim().split('\n').pop();
        expect(status).toMatch(example.includes('-X POST') ? /^202$/ : /^200$/);
      }
    } finally {
      await second.stop();
    }
  }, 120_000);
});
