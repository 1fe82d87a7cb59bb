import { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { describe, expect, it, vi } from 'vitest';
import { batchIdOfFile } from '#shared/batches/model.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';
import { workflowInputSchema } from '#shared/generation/workflow-input.ts';
import { PromptFileEventError, PromptFileReadError } from '#shared/prompt-files/errors.ts';
import { promptLineId } from '#shared/prompt-files/ids.ts';
import { processS3Event } from '#shared/prompt-files/processor.ts';
import { REQUEST_DEFAULTS } from '#shared/request/schema.ts';
import {
  awsError,
  BUCKET,
  memoryLedger,
  mockAws,
  STATE_MACHINE_ARN,
  s3Event,
  sdkBody,
  virtualClock,
} from './helpers.ts';

// Before the imports above run (vi.hoisted is lifted over them): Powertools reads these once.
vi.hoisted(() => {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
});

describe('processS3Event: starting generations', () => {
  it('starts one generation per prompt of a .txt file and writes its report', async () => {
    const aws = mockAws();
    const key = 'prompts/alice/batch.txt';
    aws.put(key, { content: '# cats\na red cat\n\na blue cat\n', etag: 'abc123' });

    const result = await processS3Event(s3Event({ key }), aws.deps());

    const ids = [2, 4].map((line) => promptLineId({ bucket: BUCKET, key, etag: '"abc123"' }, line));
    expect(aws.starts()).toEqual([
      {
        name: ids[0],
        stateMachineArn: STATE_MACHINE_ARN,
        input: {
          id: ids[0],
          request: { prompt: 'a red cat', ...REQUEST_DEFAULTS },
          source: 's3',
          sourceRef: `s3://${BUCKET}/${key}#2`,
          owner: 'alice',
          // A prompt file's lines have no webhook: their ends go to no queue.
          webhookEvents: [],
        },
      },
      expect.objectContaining({
        name: ids[1],
        input: expect.objectContaining({ sourceRef: `s3://${BUCKET}/${key}#4` }),
      }),
    ]);
    for (const start of aws.starts())
      expect(workflowInputSchema.parse(start.input)).toEqual(start.input);
    expect(aws.reportOf(key)).toEqual({
      bucket: BUCKET,
      key,
      etag: 'abc123',
      owner: 'alice',
      format: 'txt',
      batchId: batchIdOfFile({ bucket: BUCKET, key, etag: '"abc123"' }),
      createdAt: '2025-01-02T03:04:05.000Z',
      summary: { lines: 4, accepted: 2, rejected: 0, skipped: 2 },
      lines: [
        { line: 2, id: ids[0] },
        { line: 4, id: ids[1] },
      ],
    });
    expect(result.records).toEqual([
      {
        status: 'reported',
        bucket: BUCKET,
        key,
        reportKey: `reports/${key}.json`,
        summary: { lines: 4, accepted: 2, rejected: 0, skipped: 2 },
      },
    ]);
  });

  it('lists every invalid .jsonl line with its code and starts the valid ones', async () => {
    const aws = mockAws();
    const key = 'prompts/alice/x.jsonl';
    const content = [
      '{"prompt":"ok one","seed":42}',
      '{"prompt":"x","seed":"42"}',
      'not json',
      '',
      '{"prompt":"x","colour":"red"}',
      `{"prompt":"${'a'.repeat(130)}"}`,
    ].join('\r\n');
    aws.put(key, { content: `\uFEFF${content}` });

    await processS3Event(s3Event({ key }), aws.deps());

    const report = aws.reportOf(key);
    expect(report.summary).toEqual({ lines: 6, accepted: 2, rejected: 3, skipped: 1 });
    expect(report.lines).toEqual([
      { line: 1, id: expect.stringMatching(/^f_/) },
      { line: 2, error: { code: ErrorCodes.INVALID_SEED, message: expect.any(String) } },
      {
        line: 3,
        error: {
          code: ErrorCodes.PROMPT_LINE_NOT_JSON,
          message: expect.stringContaining('not valid JSON'),
        },
      },
      {
        line: 5,
        error: { code: ErrorCodes.UNKNOWN_FIELD, message: expect.stringContaining('colour') },
      },
      {
        line: 6,
        id: expect.any(String),
        warnings: [expect.objectContaining({ code: '090001901' })],
      },
    ]);
    expect(aws.starts().map((start) => start.input.request.prompt)).toEqual([
      'ok one',
      'a'.repeat(130),
    ]);
    expect(aws.starts()[0]?.input.request.seed).toBe(42);
  });

  it('merges the defaults of a .json {defaults, prompts} file under each prompt', async () => {
    const aws = mockAws();
    const key = 'prompts/alice/set.json';
    aws.put(key, {
      content: JSON.stringify({
        defaults: { width: 1664, height: 928, use_pre_llm: false },
        prompts: ['a wide field', { prompt: 'a tall tower', width: 928, height: 1664 }],
      }),
    });

    await processS3Event(s3Event({ key }), aws.deps());

    expect(aws.starts().map((start) => start.input.request)).toEqual([
      { prompt: 'a wide field', width: 1664, height: 928, use_pre_llm: false, seed: -1 },
      { prompt: 'a tall tower', width: 928, height: 1664, use_pre_llm: false, seed: -1 },
    ]);
    expect(aws.starts().map((start) => start.input.sourceRef)).toEqual([
      `s3://${BUCKET}/${key}#1`,
      `s3://${BUCKET}/${key}#2`,
    ]);
    expect(aws.reportOf(key)).toMatchObject({ format: 'json', summary: { lines: 2, accepted: 2 } });
  });

  it('gives a file directly under prompts/ to the default owner', async () => {
    const aws = mockAws();
    aws.put('prompts/x.txt', { content: 'a cat' });

    await processS3Event(s3Event({ key: 'prompts/x.txt' }), aws.deps({ defaultOwner: 'local' }));

    expect(aws.starts()[0]?.input.owner).toBe('local');
    expect(aws.reportOf('prompts/x.txt').owner).toBe('local');
  });

  it('decodes the URL-encoded key of the event', async () => {
    const aws = mockAws();
    const key = 'prompts/alice/my prompts (1).txt';
    aws.put(key, { content: 'a cat' });

    await processS3Event(s3Event({ key }), aws.deps());

    expect(aws.starts()[0]?.input.sourceRef).toBe(`s3://${BUCKET}/${key}#1`);
    expect(aws.reportOf(key).key).toBe(key);
  });
});

describe('processS3Event: identity and repeated deliveries', () => {
  it('derives the same ids from a repeated event and counts ExecutionAlreadyExists as started', async () => {
    const aws = mockAws();
    const key = 'prompts/alice/again.txt';
    aws.put(key, { content: 'one\ntwo\nthree\n' });
    const event = s3Event({ key });

    await processS3Event(event, aws.deps());
    const first = aws.reportOf(key);
    aws.sfnMock.on(StartExecutionCommand).rejects(awsError('ExecutionAlreadyExists', 400));
    const second = await processS3Event(event, aws.deps());

    const names = aws.starts().map((start) => start.name);
    expect(names).toHaveLength(6);
    expect(names.slice(3)).toEqual(names.slice(0, 3));
    expect(aws.reportOf(key)).toEqual(first);
    expect(second.records[0]).toMatchObject({
      status: 'reported',
      summary: { accepted: 3, rejected: 0 },
    });
  });

  it('processes a record repeated within one event once', async () => {
    const aws = mockAws();
    aws.put('prompts/x.txt', { content: 'a cat' });

    const result = await processS3Event(
      s3Event({ key: 'prompts/x.txt' }, { key: 'prompts/x.txt' }),
      aws.deps(),
    );

    expect(aws.starts()).toHaveLength(1);
    expect(result.records.map((record) => record.status)).toEqual(['reported', 'ignored']);
  });

  it('pins the version of a versioned bucket and derives the ids from it', async () => {
    const aws = mockAws();
    const key = 'prompts/alice/v.txt';
    aws.put(key, { content: 'a cat', versionId: 'version-7', etag: 'e7' });

    await processS3Event(s3Event({ key, versionId: 'version-7' }), aws.deps());

    expect(aws.s3Mock.commandCalls(HeadObjectCommand)[0]?.args[0].input).toEqual({
      Bucket: BUCKET,
      Key: key,
      VersionId: 'version-7',
    });
    expect(aws.s3Mock.commandCalls(GetObjectCommand)[0]?.args[0].input).toEqual({
      Bucket: BUCKET,
      Key: key,
      VersionId: 'version-7',
      IfMatch: '"e7"',
    });
    expect(aws.starts()[0]?.name).toBe(
      promptLineId({ bucket: BUCKET, key, versionId: 'version-7', etag: 'other' }, 1),
    );
    expect(aws.reportOf(key)).toMatchObject({ versionId: 'version-7', etag: 'e7' });
  });

  it('uses the ETag from HeadObject, never the event', async () => {
    const aws = mockAws();
    const key = 'prompts/alice/copied.txt';
    aws.put(key, { content: 'a cat', etag: 'head-etag', versionId: 'null' });

    await processS3Event(s3Event({ key, eventName: 'ObjectCreated:Copy' }), aws.deps());

    expect(aws.starts()[0]?.name).toBe(promptLineId({ bucket: BUCKET, key, etag: 'head-etag' }, 1));
    expect(aws.reportOf(key).versionId).toBeUndefined();
  });
});

describe('processS3Event: objects it leaves alone', () => {
  it.each([
    ['a report', 'reports/prompts/alice/x.txt.json', 'report'],
    ['a report named like a prompt file', 'reports/prompts/x.txt', 'report'],
    ['an object outside prompts/', 'images/x.txt', 'outside-prompts'],
    ['a folder placeholder', 'prompts/alice/', 'folder'],
  ])('ignores %s without reading or writing anything', async (_name, key, reason) => {
    const aws = mockAws();

    const result = await processS3Event(s3Event({ key }), aws.deps());

    expect(result.records).toEqual([{ status: 'ignored', bucket: BUCKET, key, reason }]);
    expect(aws.s3Mock.calls()).toHaveLength(0);
    expect(aws.sfnMock.calls()).toHaveLength(0);
  });

  it('ignores records that are not object creations, and an event without records', async () => {
    const aws = mockAws();

    const removed = await processS3Event(
      s3Event({ key: 'prompts/x.txt', eventName: 'ObjectRemoved:Delete' }),
      aws.deps(),
    );
    const test = await processS3Event({ Records: undefined } as never, aws.deps());

    expect(removed.records).toEqual([
      { status: 'ignored', bucket: BUCKET, key: 'prompts/x.txt', reason: 'not-created' },
    ]);
    expect(test.records).toEqual([]);
    expect(aws.s3Mock.calls()).toHaveLength(0);
  });
});

describe('processS3Event: files refused as a whole', () => {
  it.each([
    [
      'an unsupported extension',
      'prompts/alice/x.csv',
      { content: 'a,b' },
      ErrorCodes.PROMPT_FILE_UNSUPPORTED_TYPE,
    ],
    [
      'a folder that is not an owner',
      'prompts/Alice/x.txt',
      { content: 'a cat' },
      ErrorCodes.PROMPT_FILE_BAD_OWNER,
    ],
    ['an empty object', 'prompts/alice/x.txt', { content: '' }, ErrorCodes.PROMPT_FILE_EMPTY],
    [
      'comments only',
      'prompts/alice/x.txt',
      { content: '# nothing\n' },
      ErrorCodes.PROMPT_FILE_EMPTY,
    ],
    [
      'a binary file',
      'prompts/alice/x.txt',
      { content: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 13]) },
      ErrorCodes.PROMPT_FILE_NOT_TEXT,
    ],
    [
      'invalid UTF-8',
      'prompts/alice/x.jsonl',
      { content: Buffer.from('{"prompt":"caf\xe9"}', 'latin1') },
      ErrorCodes.PROMPT_FILE_NOT_TEXT,
    ],
    [
      'invalid JSON',
      'prompts/alice/x.json',
      { content: '{"prompts": [' },
      ErrorCodes.PROMPT_FILE_INVALID_JSON,
    ],
    [
      'a size over the limit',
      'prompts/alice/x.txt',
      { content: 'a cat', contentLength: 2048 },
      ErrorCodes.PROMPT_FILE_TOO_LARGE,
    ],
  ])(
    'writes a report with the file error for %s and starts nothing',
    async (_name, key, file, code) => {
      const aws = mockAws();
      aws.put(key, file);

      const result = await processS3Event(s3Event({ key }), aws.deps({ maxBytes: 1024 }));

      const report = aws.reportOf(key);
      expect(report.error).toEqual({ code, message: expect.any(String) });
      expect(report.lines).toEqual([]);
      expect(report.etag).toBe('etag-1');
      expect(aws.starts()).toHaveLength(0);
      expect(result.records[0]).toMatchObject({ status: 'reported', error: { code } });
    },
  );

  it('does not download a file whose HeadObject size is over the limit', async () => {
    const aws = mockAws();
    aws.put('prompts/big.txt', { content: 'a cat', contentLength: 60 * 1024 * 1024 });

    await processS3Event(s3Event({ key: 'prompts/big.txt' }), aws.deps());

    expect(aws.s3Mock.commandCalls(GetObjectCommand)).toHaveLength(0);
    expect(aws.reportOf('prompts/big.txt').error?.message).toContain('52428800');
  });

  it('names the format null and the folder as written in the report of a refused file', async () => {
    const aws = mockAws();
    aws.put('prompts/x.png', { content: 'x' });
    aws.put('prompts/Bad Owner/x.txt', { content: 'x' });

    await processS3Event(
      s3Event({ key: 'prompts/x.png' }, { key: 'prompts/Bad Owner/x.txt' }),
      aws.deps(),
    );

    expect(aws.reportOf('prompts/x.png')).toMatchObject({ format: null, owner: 'default' });
    expect(aws.reportOf('prompts/Bad Owner/x.txt')).toMatchObject({
      format: 'txt',
      owner: 'Bad Owner',
    });
  });

  it.each([
    ['HeadObject', 'NotFound', 404],
    ['HeadObject', 'Forbidden', 403],
    ['GetObject', 'NoSuchKey', 404],
    ['GetObject', 'InvalidObjectState', 403],
  ])(
    'reports a file that %s answers %s for as unreadable (090005010)',
    async (command, name, status) => {
      const aws = mockAws();
      const key = 'prompts/alice/gone.txt';
      aws.put(key, { content: 'a cat' });
      const Command = command === 'HeadObject' ? HeadObjectCommand : GetObjectCommand;
      aws.s3Mock
        .on(Command as typeof HeadObjectCommand, { Bucket: BUCKET, Key: key })
        .rejects(awsError(name, status));

      const result = await processS3Event(s3Event({ key }), aws.deps());

      expect(aws.reportOf(key).error).toEqual({
        code: ErrorCodes.PROMPT_FILE_UNREADABLE,
        message: expect.stringContaining(String(status)),
      });
      expect(aws.reportOf(key).etag === undefined).toBe(command === 'HeadObject');
      expect(result.records[0]).toMatchObject({ status: 'reported' });
    },
  );

  it('starts no line past the line limit and reports 090005002', async () => {
    const aws = mockAws();
    aws.put('prompts/x.txt', { content: 'one\ntwo\nthree\nfour\nfive\n' });

    await processS3Event(s3Event({ key: 'prompts/x.txt' }), aws.deps({ maxLines: 3 }));

    expect(aws.starts().map((start) => start.input.request.prompt)).toEqual([
      'one',
      'two',
      'three',
    ]);
    const report = aws.reportOf('prompts/x.txt');
    expect(report.summary).toEqual({ lines: 3, accepted: 3, rejected: 0, skipped: 0 });
    expect(report.error?.code).toBe(ErrorCodes.PROMPT_FILE_TOO_MANY_LINES);
  });

  it('keeps the lines started before bad bytes further in the file, and says where it stopped', async () => {
    const aws = mockAws();
    const content = Buffer.concat([Buffer.from('one\ntwo\n'), Buffer.from([0xc3, 0x28, 0x0a])]);
    aws.put('prompts/x.txt', { content, chunkSize: 4 });

    await processS3Event(s3Event({ key: 'prompts/x.txt' }), aws.deps());

    const report = aws.reportOf('prompts/x.txt');
    expect(report.summary.accepted).toBe(2);
    expect(report.error?.code).toBe(ErrorCodes.PROMPT_FILE_NOT_TEXT);
    expect(aws.starts()).toHaveLength(2);
  });
});

describe('processS3Event: failures a retry can fix', () => {
  it.each([
    ['HeadObject', awsError('InternalError', 500)],
    ['HeadObject', awsError('SlowDown', 503)],
    ['GetObject', awsError('PreconditionFailed', 412)],
    ['GetObject', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })],
  ])('throws when %s fails with %s, and writes no report', async (command, error) => {
    const aws = mockAws();
    aws.put('prompts/x.txt', { content: 'a cat' });
    const Command = command === 'HeadObject' ? HeadObjectCommand : GetObjectCommand;
    aws.s3Mock
      .on(Command as typeof HeadObjectCommand, { Bucket: BUCKET, Key: 'prompts/x.txt' })
      .rejects(error);

    const failure = await processS3Event(s3Event({ key: 'prompts/x.txt' }), aws.deps()).catch(
      (caught: unknown) => caught,
    );

    expect(failure).toBeInstanceOf(PromptFileEventError);
    expect((failure as Error).cause).toBeInstanceOf(PromptFileReadError);
    expect(aws.s3Mock.commandCalls(PutObjectCommand)).toHaveLength(0);
  });

  it('throws when the body fails part way, after letting the started lines finish', async () => {
    const aws = mockAws();
    aws.put('prompts/x.txt', { content: 'a cat' });
    aws.s3Mock
      .on(GetObjectCommand, { Bucket: BUCKET, Key: 'prompts/x.txt' })
      .callsFake(async () => {
        let sent = false;
        return {
          Body: new Readable({
            read() {
              if (sent) this.destroy(new Error('socket reset'));
              else this.push(Buffer.from('one\ntwo\n'));
              sent = true;
            },
          }),
        };
      });

    await expect(
      processS3Event(s3Event({ key: 'prompts/x.txt' }), aws.deps()),
    ).rejects.toMatchObject({
      name: 'PromptFileEventError',
      cause: { name: 'PromptFileReadError', cause: { message: 'socket reset' } },
    });
    expect(aws.starts()).toHaveLength(2);
  });

  it('throws when StartExecution stays throttled, and still finishes the other files of the event', async () => {
    const aws = mockAws();
    aws.put('prompts/a.txt', { content: 'throttled' });
    aws.put('prompts/b.txt', { content: 'fine' });
    aws.sfnMock.on(StartExecutionCommand).callsFake(async (input: { input: string }) => {
      if (input.input.includes('throttled')) throw awsError('ThrottlingException', 400);
      return { executionArn: 'arn', startDate: new Date() };
    });

    const failure = await processS3Event(
      s3Event({ key: 'prompts/a.txt' }, { key: 'prompts/b.txt' }),
      aws.deps({ retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 1 } }),
    ).catch((caught: unknown) => caught);

    expect(failure).toMatchObject({ name: 'PromptFileEventError', retryable: true });
    expect((failure as Error).cause).toMatchObject({
      name: 'GenerationStartError',
      retryable: true,
    });
    expect(aws.reports().has('reports/prompts/a.txt.json')).toBe(false);
    expect(aws.reportOf('prompts/b.txt').summary.accepted).toBe(1);
  });

  it('throws when the report cannot be written', async () => {
    const aws = mockAws();
    aws.put('prompts/x.txt', { content: 'a cat' });
    aws.s3Mock.on(PutObjectCommand).rejects(awsError('InternalError', 500));

    await expect(
      processS3Event(s3Event({ key: 'prompts/x.txt' }), aws.deps()),
    ).rejects.toMatchObject({
      cause: { name: 'PromptFileReportError' },
    });
  });
});

/** The clock's time at each StartExecution call, in order. */
function startTimes(aws: ReturnType<typeof mockAws>, clock: { now(): number }): number[] {
  const times: number[] = [];
  aws.sfnMock.on(StartExecutionCommand).callsFake(async () => {
    times.push(clock.now());
    return { executionArn: 'arn', startDate: new Date() };
  });
  return times;
}

describe('processS3Event: volume', () => {
  it('starts a 10,000-line file with a bounded number of StartExecution calls in flight', async () => {
    const aws = mockAws();
    const lines = Array.from({ length: 10_000 }, (_, index) => `prompt number ${index + 1}`);
    aws.put('prompts/alice/big.txt', { content: `${lines.join('\n')}\n`, chunkSize: 64 * 1024 });
    let inFlight = 0;
    let peak = 0;
    aws.sfnMock.on(StartExecutionCommand).callsFake(async () => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      inFlight--;
      return { executionArn: 'arn', startDate: new Date() };
    });

    const started = Date.now();
    await processS3Event(s3Event({ key: 'prompts/alice/big.txt' }), aws.deps({ concurrency: 12 }));

    expect(Date.now() - started).toBeLessThan(20_000);
    const names = aws.starts().map((start) => start.name);
    expect(names).toHaveLength(10_000);
    expect(new Set(names).size).toBe(10_000);
    expect(peak).toBe(12);
    const report = aws.reportOf('prompts/alice/big.txt');
    expect(report.summary).toEqual({ lines: 10_000, accepted: 10_000, rejected: 0, skipped: 0 });
    expect(report.lines.map((line) => line.line)).toEqual(lines.map((_, index) => index + 1));
  });

  it('starts at its configured pace, a second of starts at once and then evenly', async () => {
    const aws = mockAws();
    const lines = Array.from({ length: 100 }, (_, index) => `paced prompt ${index + 1}`);
    aws.put('prompts/paced.txt', { content: `${lines.join('\n')}\n` });
    const clock = virtualClock();
    const startedAt = startTimes(aws, clock);

    await processS3Event(
      s3Event({ key: 'prompts/paced.txt' }),
      aws.deps({
        startsPerSecond: 20,
        clock: clock.now,
        sleep: clock.sleep,
        remainingMs: () => 900_000,
      }),
    );

    expect(startedAt).toHaveLength(100);
    expect(startedAt.filter((time) => time === 0)).toHaveLength(20);
    // The other 80 at 50 ms intervals: the last at 4 s.
    expect(startedAt.at(-1)).toBe(4000);
    expect(aws.reportOf('prompts/paced.txt').summary.accepted).toBe(100);
  });

  it('starts faster than its pace when the rest of the file would not start in the time left', async () => {
    const aws = mockAws();
    const lines = Array.from({ length: 5000 }, (_, index) => `hurried prompt ${index + 1}`);
    aws.put('prompts/hurried.txt', { content: `${lines.join('\n')}\n`, chunkSize: 4096 });
    const clock = virtualClock();
    const startedAt = startTimes(aws, clock);
    // 100 s left, 60 s of them kept back: 40 s for 5,000 lines that would take 200 s at 25/s.
    const invocationEndsAt = 100_000;

    await processS3Event(
      s3Event({ key: 'prompts/hurried.txt' }),
      aws.deps({
        startsPerSecond: 25,
        clock: clock.now,
        sleep: clock.sleep,
        remainingMs: () => invocationEndsAt - clock.now(),
      }),
    );

    expect(aws.starts()).toHaveLength(5000);
    const lastStartAt = startedAt.at(-1) ?? 0;
    // Not rushed from the start, and done about when the reserve begins (the estimate of lines
    // left lags by the chunk read ahead), far from the invocation's end.
    expect(lastStartAt).toBeGreaterThan(30_000);
    expect(lastStartAt).toBeLessThan(41_000);
  });

  it('reads the body through the SDK stream mixin as well as a plain Readable', async () => {
    const aws = mockAws();
    aws.s3Mock.on(HeadObjectCommand).resolves({ ETag: '"e"', ContentLength: 5 });
    aws.s3Mock.on(GetObjectCommand).resolves({ Body: sdkBody('a cat') });

    await processS3Event(s3Event({ key: 'prompts/x.txt' }), aws.deps());

    expect(aws.starts()).toHaveLength(1);
  });
});

describe('processS3Event: the file is a batch', () => {
  it('records each accepted line in its batch before starting it, and the final figures', async () => {
    const aws = mockAws();
    const ledger = memoryLedger();
    const key = 'prompts/alice/three.jsonl';
    aws.put(key, { content: '{"prompt":"a"}\n{"prompt":""}\n{"prompt":"c"}\n' });

    await processS3Event(s3Event({ key }), aws.deps({ ledger }));

    const batchId = batchIdOfFile({ bucket: BUCKET, key, etag: '"etag-1"' });
    const batch = ledger.batches.get(batchId);
    expect(batch?.lines.map((line) => [line.line, line.batchId, line.owner])).toEqual([
      [1, batchId, 'alice'],
      [3, batchId, 'alice'],
    ]);
    expect(batch?.lines.map((line) => line.id)).toEqual(aws.starts().map((start) => start.name));
    expect(batch?.finished).toEqual({ lines: 3, rejected: 1 });
    expect(aws.reportOf(key)?.batchId).toBe(batchId);
  });

  it('records a file refused as a whole on its batch, with the error', async () => {
    const aws = mockAws();
    const ledger = memoryLedger();
    const key = 'prompts/alice/empty.txt';
    aws.put(key, { content: '' });

    await processS3Event(s3Event({ key }), aws.deps({ ledger }));

    const [batch] = ledger.batches.values();
    expect(batch?.finished).toEqual({
      lines: 0,
      rejected: 0,
      error: { code: ErrorCodes.PROMPT_FILE_EMPTY, message: expect.any(String) },
    });
    expect(aws.starts()).toEqual([]);
  });

  it('starts no line after its batch is cancelled, and says so in the report', async () => {
    const aws = mockAws();
    const ledger = memoryLedger();
    ledger.cancelAfterLines = 3;
    let now = 0;
    const key = 'prompts/alice/many.txt';
    aws.put(key, { content: Array.from({ length: 50 }, (_, i) => `prompt ${i + 1}`).join('\n') });

    // Each start takes a second of the clock, so the batch is asked at every line.
    await processS3Event(
      s3Event({ key }),
      aws.deps({ ledger, concurrency: 1, clock: () => (now += 1000) }),
    );

    const [batch] = ledger.batches.values();
    expect(batch?.lines).toHaveLength(3);
    expect(aws.starts()).toHaveLength(3);
    expect(aws.reportOf(key)?.error?.code).toBe(ErrorCodes.BATCH_CANCELLED);
  });

  it('reads nothing of a batch cancelled before its file came', async () => {
    const aws = mockAws();
    const ledger = memoryLedger();
    const key = 'prompts/alice/late.txt';
    aws.put(key, { content: 'a cat\n' });
    const batchId = batchIdOfFile({ bucket: BUCKET, key, etag: '"etag-1"' });
    ledger.batches.set(batchId, { status: 'cancelled', lines: [], progress: [] });

    await processS3Event(s3Event({ key }), aws.deps({ ledger }));

    expect(aws.starts()).toEqual([]);
    expect(aws.reportOf(key)?.error?.code).toBe(ErrorCodes.BATCH_CANCELLED);
  });

  it.each(['completed', 'failed'] as const)(
    'reads nothing again of a batch that has %s (its event again, or redriven from the dead-letter queue)',
    async (status) => {
      const aws = mockAws();
      const ledger = memoryLedger();
      const key = 'prompts/alice/again.txt';
      aws.put(key, { content: 'a cat\n' });
      const batchId = batchIdOfFile({ bucket: BUCKET, key, etag: '"etag-1"' });
      ledger.batches.set(batchId, { status, lines: [], progress: [] });

      const result = await processS3Event(s3Event({ key }), aws.deps({ ledger }));

      expect(result.records).toEqual([
        { status: 'ignored', bucket: BUCKET, key, reason: 'batch-ended' },
      ]);
      expect(aws.starts()).toEqual([]);
      expect(aws.reports().has(`reports/${key}.json`)).toBe(false);
    },
  );

  it('leaves alone a second file uploaded for a batch that has one, writing no report', async () => {
    const aws = mockAws();
    const key = 'prompts/alice/batches/b_0123456789abcdef0123456789abcdef01234567.txt';
    aws.put(key, { content: 'a cat\n' });
    const refused = { code: ErrorCodes.BATCH_FILE_REPLACED, message: 'another file' };

    const result = await processS3Event(
      s3Event({ key }),
      aws.deps({ ledger: memoryLedger({ refuse: refused }) }),
    );

    expect(result.records).toEqual([
      { status: 'ignored', bucket: BUCKET, key, reason: 'batch-file-replaced' },
    ]);
    expect(aws.starts()).toEqual([]);
    expect(aws.reports().has(`reports/${key}.json`)).toBe(false);
  });
});
