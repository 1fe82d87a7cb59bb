/**
 * Prompt files on the local runtime: uploaded with the AWS SDK to the local S3, delivered to the
 * prompt-file function as S3 would (and again, as S3's at-least-once delivery may), every line
 * accounted for in the report, and each valid line generated exactly once under the
 * provider-wide cap.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyStore } from '#shared/api/keys.ts';
import { EVENT_BATCH_COMPLETED } from '#shared/batches/model.ts';
import { BatchRepository } from '#shared/batches/repository.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';
import {
  adminRoute,
  type ServedRuntime,
  scanGenerations,
  serve,
  waitFor,
} from '../helpers/serve.ts';

const CAP = 10;
/** The size of the bulk file: thousands of prompts, as users drop them. */
const LINES = 2000;
let runtime: ServedRuntime;
let tables: Record<string, string>;

/** An owner other than the default one, with an API key: its folder is accepted. */
const KEY_OWNER = 'variants';

beforeAll(async () => {
  runtime = await serve({
    simLatencyMs: 50,
    simMaxConcurrent: CAP,
    config: { maxConcurrentTasks: CAP },
  });
  ({ tables } = JSON.parse(await readFile(join(runtime.dataDir, 'runtime.json'), 'utf8')) as {
    tables: Record<string, string>;
  });
  await new ApiKeyStore(runtime.dynamodb(), tables.apiKeys ?? '').create(KEY_OWNER);
}, 90_000);
afterAll(() => runtime?.stop());

interface Report {
  summary: { lines: number; accepted: number; rejected: number; skipped: number };
  lines: Array<{ line: number; id?: string; error?: { code: string } }>;
  error?: { code: string };
}

async function upload(key: string, body: string | Uint8Array): Promise<void> {
  await runtime
    .s3()
    .send(new PutObjectCommand({ Bucket: runtime.endpoints.s3.inputBucket, Key: key, Body: body }));
}

async function report(key: string, timeoutMs = 60_000): Promise<Report> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const object = await runtime.s3().send(
        new GetObjectCommand({
          Bucket: runtime.endpoints.s3.inputBucket,
          Key: `reports/${key}.json`,
        }),
      );
      return JSON.parse(
        await (object.Body as { transformToString(): Promise<string> }).transformToString(),
      ) as Report;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/** Every generation record of one prompt file, by its sourceRef. */
async function generationsOf(key: string) {
  const prefix = `s3://${runtime.endpoints.s3.inputBucket}/${key}#`;
  return scanGenerations(runtime, {
    FilterExpression: 'begins_with(sourceRef, :prefix)',
    ExpressionAttributeValues: { ':prefix': prefix },
  });
}

async function untilAllEnded(key: string, count: number, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const items = await generationsOf(key);
    const ended = items.filter((item) =>
      ['completed', 'failed', 'cancelled'].includes(String(item.status)),
    );
    if (items.length >= count && ended.length === items.length) return items;
    if (Date.now() > deadline) {
      throw new Error(`${ended.length}/${items.length} of ${count} generations of ${key} ended`);
    }
    // A scan of thousands of records is work for the runtime too: look every 2 s.
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

async function redeliver(key: string): Promise<void> {
  const response = await adminRoute(runtime, '/__local/s3/redeliver', {
    method: 'POST',
    body: JSON.stringify({ bucket: runtime.endpoints.s3.inputBucket, key }),
  });
  expect(response.status).toBe(200);
}

async function simulatorStats() {
  return (await (await fetch(`${runtime.endpoints.spark.baseUrl}/__sim/stats`)).json()) as {
    tasksCreated: number;
    maxInFlight: number;
    requests: { create: number };
  };
}

describe('prompt files on the local runtime', () => {
  it('makes exactly 1,997 generations of a 2,000-line file with 3 bad lines, delivered three times', async () => {
    const key = 'prompts/bulk.jsonl';
    const bad = new Map([
      [500, { line: JSON.stringify({ prompt: '' }), code: ErrorCodes.INVALID_PROMPT_LENGTH }],
      [
        1000,
        {
          line: JSON.stringify({ prompt: 'x', width: 4000, height: 10 }),
          code: ErrorCodes.INVALID_ASPECT_RATIO,
        },
      ],
      [1500, { line: '{not json', code: ErrorCodes.PROMPT_LINE_NOT_JSON }],
    ]);
    const lines = Array.from(
      { length: LINES },
      (_, index) =>
        bad.get(index + 1)?.line ??
        JSON.stringify({
          prompt: `bulk prompt ${index + 1}`,
          width: 512,
          height: 512,
          seed: index + 1,
        }),
    );
    const before = await simulatorStats();
    await upload(key, `${lines.join('\n')}\n`);
    // Written once every line is started, at Step Functions' StartExecution rate.
    const first = await report(key, 300_000);
    await redeliver(key);
    await redeliver(key);

    const items = await untilAllEnded(key, LINES - 3, 480_000);
    const byLine = new Map<string, string[]>();
    for (const item of items) {
      const ref = String(item.sourceRef);
      byLine.set(ref, [...(byLine.get(ref) ?? []), String(item.id)]);
    }
    expect([...byLine].filter(([, ids]) => ids.length > 1)).toEqual([]);
    const badRefs = [...bad.keys()].map(
      (line) => `s3://${runtime.endpoints.s3.inputBucket}/${key}#${line}`,
    );
    expect(items.filter((item) => badRefs.includes(String(item.sourceRef)))).toEqual([]);
    expect(
      items
        .map((item) => ({ ref: String(item.sourceRef), id: item.id, source: item.source }))
        .filter(({ ref }) => {
          const line = Number(/#(\d+)$/.exec(ref)?.[1]);
          return !(Number.isInteger(line) && line >= 1 && line <= LINES);
        }),
    ).toEqual([]);
    expect(items).toHaveLength(LINES - 3);
    const outcomes = items.map(
      (item) => `${item.status}${item.error ? ` ${JSON.stringify(item.error)}` : ''}`,
    );
    expect(new Set(outcomes)).toEqual(new Set(['completed']));

    const final = await report(key);
    expect(final.summary).toEqual({ lines: LINES, accepted: LINES - 3, rejected: 3, skipped: 0 });
    expect(final.lines).toHaveLength(LINES);
    for (const [line, { code }] of bad) {
      expect(final.lines.find((entry) => entry.line === line)?.error?.code).toBe(code);
    }
    // The repeated deliveries named the same generations.
    expect(final.lines.map((entry) => entry.id)).toEqual(first.lines.map((entry) => entry.id));

    const after = await simulatorStats();
    expect(after.tasksCreated - before.tasksCreated).toBe(LINES - 3);
    expect(after.maxInFlight).toBeLessThanOrEqual(CAP);
    expect(after.requests.create - before.requests.create).toBe(LINES - 3);

    // The file is one batch, whose counts came out exact despite the repeated deliveries, and
    // whose end was announced once.
    const batchId = String((final as unknown as { batchId: string }).batchId);
    expect((first as unknown as { batchId: string }).batchId).toBe(batchId);
    const batches = new BatchRepository(runtime.dynamodb(), tables.batches ?? '');
    const batch = await waitFor('the batch to end', async () => {
      const read = await batches.get(batchId);
      return read?.status === 'completed' ? read : undefined;
    });
    expect(batch.counts).toEqual({
      lines: LINES,
      accepted: LINES - 3,
      rejected: 3,
      queued: 0,
      running: 0,
      completed: LINES - 3,
      failed: 0,
      cancelled: 0,
    });
    expect(batch.costUsd).toBeGreaterThan(0);
    const announced = (await readFile(join(runtime.dataDir, 'events.jsonl'), 'utf8'))
      .split('\n')
      .filter((line) => line.includes(EVENT_BATCH_COMPLETED) && line.includes(batchId));
    expect(announced).toHaveLength(1);
  }, 600_000);

  it.each([
    [
      'a .txt file with comments and blank lines',
      'prompts/variants/a.txt',
      '# header\na red kite\n\na blue heron\n',
      2,
    ],
    [
      'a .json file with defaults',
      'prompts/variants/b.json',
      JSON.stringify({
        defaults: { width: 512, height: 512 },
        prompts: ['an owl', { prompt: 'a fox', seed: 3 }],
      }),
      2,
    ],
    [
      'a .jsonl file with a BOM and CRLF line ends',
      'prompts/variants/c.jsonl',
      `\uFEFF${JSON.stringify({ prompt: 'a wren' })}\r\n${JSON.stringify({ prompt: 'a lark' })}\r\n`,
      2,
    ],
  ])(
    'generates every line of %s',
    async (_name, key, body, count) => {
      await upload(key, body);
      const answer = await report(key);
      expect(answer.summary.accepted).toBe(count);
      expect(answer.error).toBeUndefined();
      const items = await untilAllEnded(key, count, 60_000);
      expect(items.map((item) => item.status)).toEqual(Array(count).fill('completed'));
    },
    90_000,
  );

  it.each([
    [
      'a binary file',
      'prompts/variants/photo.txt',
      new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0, 0xff, 0xfe]),
      ErrorCodes.PROMPT_FILE_NOT_TEXT,
    ],
    ['an empty file', 'prompts/variants/empty.jsonl', '', ErrorCodes.PROMPT_FILE_EMPTY],
  ])('reports %s with an error and starts nothing', async (_name, key, body, code) => {
    await upload(key, body);
    const answer = await report(key);
    expect(answer.error?.code).toBe(code);
    expect(answer.summary.accepted).toBe(0);
    expect(await generationsOf(key)).toEqual([]);
  });

  // S3 sends an event's key URL-encoded (a space as `+`); the function decodes it exactly once,
  // so each of these is read, generated and reported under its own key.
  it.each([
    ['a plus sign', 'prompts/variants/a+b.txt'],
    ['a space', 'prompts/variants/two words.txt'],
    ['a percent sign', 'prompts/variants/100%.txt'],
    ['an encoded slash', 'prompts/variants/..%2fescape.txt'],
    ['encoded escapes', 'prompts/variants/%2B%20%25.txt'],
    ['unicode', 'prompts/variants/ünïcödé 灯 😀.txt'],
  ])(
    'generates and reports a file whose key holds %s under that key',
    async (_name, key) => {
      await upload(key, 'a red kite\na blue heron\n');
      const answer = await report(key);
      expect(answer.error).toBeUndefined();
      expect(answer.summary).toEqual({ lines: 2, accepted: 2, rejected: 0, skipped: 0 });
      const items = await untilAllEnded(key, 2, 60_000);
      expect(items.map((item) => item.sourceRef).sort()).toEqual([
        `s3://${runtime.endpoints.s3.inputBucket}/${key}#1`,
        `s3://${runtime.endpoints.s3.inputBucket}/${key}#2`,
      ]);
      expect(items.map((item) => item.status)).toEqual(['completed', 'completed']);
    },
    90_000,
  );

  it('refuses a folder whose owner has no API key, and starts nothing', async () => {
    const key = 'prompts/nobody/a.txt';
    await upload(key, 'a red kite\n');
    const answer = await report(key);
    expect(answer.error?.code).toBe(ErrorCodes.PROMPT_FILE_BAD_OWNER);
    expect(answer.summary.accepted).toBe(0);
    expect(await generationsOf(key)).toEqual([]);
  });
});
