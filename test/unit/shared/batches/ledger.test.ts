/**
 * The batch ledger, repository and sweep over a real local DynamoDB (with transactions): counts
 * move once per line however often a step is repeated, a batch ends once and announces it once,
 * and the sweep counts what a lost delivery left uncounted.
 */
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it, vi } from 'vitest';
import { batchLedger } from '#shared/batches/ledger.ts';
import {
  BatchesTableSchema,
  type BatchHead,
  batchIdOfFile,
  EVENT_BATCH_COMPLETED,
} from '#shared/batches/model.ts';
import { countBatchLineEnd } from '#shared/batches/progress.ts';
import { BatchRepository } from '#shared/batches/repository.ts';
import { STALLED_AFTER_SECONDS, sweepBatches } from '#shared/batches/sweep.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';
import type { BusEvent } from '#shared/generation/events.ts';
import { GenerationsTableSchema } from '#shared/generation/model.ts';
import { GenerationRepository } from '#shared/generation/repository.ts';
import { READING_ABANDONED_AFTER_SECONDS } from '#shared/prompt-files/attempts.ts';
import { useLocalDynamoDb } from '../../../helpers/dynamodb.ts';

// Before the imports above run (vi.hoisted is lifted over them): Powertools reads it once.
vi.hoisted(() => {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
});

const dynamodb = useLocalDynamoDb();

const FILE = { bucket: 'input', key: 'prompts/alice/a.jsonl', etag: '"e1"' };

/** An API batch of alice's waiting for its file, as POST /batches without a body records it. */
function awaitingUpload(id: string, format: 'jsonl' | 'txt', at: string): BatchHead {
  return {
    id,
    owner: 'alice',
    status: 'awaiting_upload',
    ownerStatus: 'alice#awaiting_upload',
    source: { bucket: 'input', key: `prompts/alice/batches/${id}.${format}` },
    format,
    origin: 'api',
    lines: 0,
    rejected: 0,
    read: false,
    createdAt: at,
    updatedAt: at,
  };
}
const REQUEST = { prompt: 'a cat', use_pre_llm: true, seed: -1, width: 512, height: 512 };

async function setUp() {
  const n = dynamodb.tableNumber();
  const generationsTable = `generations-${n}`;
  const batchesTable = `batches-${n}`;
  await dynamodb.createTable(
    generationsTable,
    { id: 'HASH' },
    [GenerationsTableSchema.unfinishedIndex, GenerationsTableSchema.byBatchIndex],
    ['batchLine'],
  );
  await dynamodb.createTable(batchesTable, { id: 'HASH' }, [
    BatchesTableSchema.byOwnerIndex,
    BatchesTableSchema.outboxIndex,
    BatchesTableSchema.unfinishedIndex,
  ]);
  const generations = new GenerationRepository(dynamodb.documents, generationsTable, {
    batchesTable,
  });
  const batches = new BatchRepository(dynamodb.documents, batchesTable);
  const published: BusEvent[] = [];
  let failPublish = false;
  // The shards note the real time of their last move: the clock starts at it.
  let now = new Date();
  const deps = {
    generations,
    batches,
    publish: async (event: BusEvent) => {
      if (failPublish) throw new Error('EventBridge is down');
      published.push(event);
    },
    now: () => now,
  };
  const ledger = batchLedger(deps);
  const line = (batchId: string, n: number) => ({
    id: `f_line${n}`,
    request: REQUEST,
    source: 's3' as const,
    sourceRef: `s3://input/${FILE.key}#${n}`,
    owner: 'alice',
    batchId,
    line: n,
  });
  /** Ends a line's record as the workflow would (its status write), not yet counted. */
  const end = async (id: string, status: 'completed' | 'failed', costUsd = 0.04) => {
    await dynamodb.documents.send(
      new UpdateCommand({
        TableName: generationsTable,
        Key: { id },
        UpdateExpression: 'SET #status = :status, costUsd = :cost REMOVE unfinished',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':status': status, ':cost': costUsd },
      }),
    );
  };
  return {
    ledger,
    deps,
    generations,
    batches,
    published,
    line,
    end,
    setFailPublish: (fail: boolean) => {
      failPublish = fail;
    },
    advance: (seconds: number) => {
      now = new Date(now.getTime() + seconds * 1000);
    },
  };
}

describe('the batch of a file', () => {
  it('opens once per file version, and counts each line once however often it is recorded', async () => {
    const { ledger, batches, line } = await setUp();

    const opened = await ledger.open({ file: FILE, owner: 'alice', format: 'jsonl' });
    const again = await ledger.open({ file: FILE, owner: 'alice', format: 'jsonl' });
    if ('refused' in opened) throw new Error('refused');
    expect(opened).toEqual({ batchId: batchIdOfFile(FILE), status: 'validating' });
    expect(again).toEqual(opened);

    expect(await ledger.lineAccepted(line(opened.batchId, 1))).toBe(true);
    expect(await ledger.lineAccepted(line(opened.batchId, 2))).toBe(true);
    expect(await ledger.lineAccepted(line(opened.batchId, 1))).toBe(false);
    expect(await ledger.progress(opened.batchId, { lines: 3, rejected: 1, read: false })).toBe(
      'in_progress',
    );

    const batch = await batches.get(opened.batchId);
    expect(batch?.counts).toEqual({
      lines: 3,
      accepted: 2,
      rejected: 1,
      queued: 2,
      running: 0,
      completed: 0,
      failed: 0,
      cancelled: 0,
    });
  });

  it('moves a line running with its task, and to its end once, then ends the batch and announces it once', async () => {
    const { ledger, deps, generations, batches, published, line, end } = await setUp();
    const opened = await ledger.open({ file: FILE, owner: 'alice', format: 'jsonl' });
    if ('refused' in opened) throw new Error('refused');
    const { batchId } = opened;
    await ledger.lineAccepted(line(batchId, 1));
    await ledger.lineAccepted(line(batchId, 2));
    await ledger.finish(batchId, { lines: 2, rejected: 0 });

    const record = await generations.get('f_line1');
    if (!record) throw new Error('no record');
    await generations.recordTaskCreated(record, 'task-1', new Date());
    await expect(generations.recordTaskCreated(record, 'task-2', new Date())).rejects.toThrow();
    expect((await batches.get(batchId))?.counts).toMatchObject({ queued: 1, running: 1 });

    await end('f_line1', 'completed', 0.04);
    await end('f_line2', 'failed', 0);
    // The bus delivers at least once: each event twice.
    for (const id of ['f_line1', 'f_line2', 'f_line1', 'f_line2']) {
      await countBatchLineEnd({ id }, deps);
    }

    const ended = await batches.get(batchId);
    expect(ended?.status).toBe('completed');
    expect(ended?.counts).toEqual({
      lines: 2,
      accepted: 2,
      rejected: 0,
      queued: 0,
      running: 0,
      completed: 1,
      failed: 1,
      cancelled: 0,
    });
    expect(ended?.costUsd).toBe(0.04);
    expect(ended?.pendingEvent).toBeUndefined();
    expect(published.map((event) => event.detailType)).toEqual([EVENT_BATCH_COMPLETED]);
    expect(published[0]?.detail).toMatchObject({ id: batchId, status: 'completed' });
  });

  it('fails a batch whose file was refused with nothing accepted', async () => {
    const { ledger, batches, published } = await setUp();
    const opened = await ledger.open({ file: FILE, owner: 'alice', format: 'jsonl' });
    if ('refused' in opened) throw new Error('refused');
    const error = { code: ErrorCodes.PROMPT_FILE_EMPTY, message: 'The file is empty' };

    await ledger.finish(opened.batchId, { lines: 0, rejected: 0, error });

    const batch = await batches.get(opened.batchId);
    expect(batch?.status).toBe('failed');
    expect(batch?.error).toEqual(error);
    expect(published).toHaveLength(1);
  });

  it('pins an API batch to the first file uploaded for it, and refuses a second', async () => {
    const { ledger, batches } = await setUp();
    const id = 'b_0123456789abcdef0123456789abcdef01234567';
    const key = `prompts/alice/batches/${id}.jsonl`;
    const at = '2026-12-07T09:00:00.000Z';
    await batches.create(awaitingUpload(id, 'jsonl', at));

    const first = await ledger.open({ file: { ...FILE, key }, owner: 'alice', format: 'jsonl' });
    const repeated = await ledger.open({ file: { ...FILE, key }, owner: 'alice', format: 'jsonl' });
    const second = await ledger.open({
      file: { ...FILE, key, etag: '"e2"' },
      owner: 'alice',
      format: 'jsonl',
    });
    const otherOwner = await ledger.open({ file: { ...FILE, key }, owner: 'bob', format: 'jsonl' });

    expect(first).toEqual({ batchId: id, status: 'awaiting_upload' });
    expect(repeated).toEqual(first);
    expect(second).toEqual({
      refused: { code: ErrorCodes.BATCH_FILE_REPLACED, message: expect.any(String) },
    });
    // Not that owner's batch: the file is a batch of its own, as any other.
    expect(otherOwner).toEqual({
      batchId: batchIdOfFile({ ...FILE, key }),
      status: 'validating',
    });
  });

  it('cancels once, and answers a cancel of an ended batch as final', async () => {
    const { ledger, batches, line } = await setUp();
    const opened = await ledger.open({ file: FILE, owner: 'alice', format: 'jsonl' });
    if ('refused' in opened) throw new Error('refused');
    await ledger.lineAccepted(line(opened.batchId, 1));

    expect(await batches.cancel(opened.batchId, 'bob', new Date())).toBeUndefined();
    const cancelled = await batches.cancel(opened.batchId, 'alice', new Date());
    expect(cancelled).toMatchObject({ status: 'cancelled', pendingEvent: expect.any(Object) });
    expect(await batches.cancel(opened.batchId, 'alice', new Date())).toBe('final');
    expect(await ledger.progress(opened.batchId, { lines: 5, rejected: 0, read: false })).toBe(
      'cancelled',
    );
  });
});

describe('the batch sweep', () => {
  it('counts the ends a lost delivery left uncounted, once the counts stand still, and ends the batch', async () => {
    const { ledger, deps, batches, published, line, end, advance } = await setUp();
    const opened = await ledger.open({ file: FILE, owner: 'alice', format: 'jsonl' });
    if ('refused' in opened) throw new Error('refused');
    await ledger.lineAccepted(line(opened.batchId, 1));
    await ledger.finish(opened.batchId, { lines: 1, rejected: 0 });
    await end('f_line1', 'completed');

    // Not yet: the batch is too recent for the counts to be called stalled.
    expect(await sweepBatches(deps)).toEqual({
      published: 0,
      recounted: 0,
      abandoned: 0,
      ended: 0,
    });
    advance(STALLED_AFTER_SECONDS + 60);
    expect(await sweepBatches(deps)).toEqual({
      published: 0,
      recounted: 1,
      abandoned: 0,
      ended: 1,
    });
    expect((await batches.get(opened.batchId))?.counts.completed).toBe(1);
    expect(published).toHaveLength(1);
    expect(await sweepBatches(deps)).toEqual({
      published: 0,
      recounted: 0,
      abandoned: 0,
      ended: 0,
    });
  });

  it('ends a batch whose reading stopped for good, with the lines it started, once no attempt could still move it', async () => {
    const { ledger, deps, batches, published, line, end, advance } = await setUp();
    const opened = await ledger.open({ file: FILE, owner: 'alice', format: 'jsonl' });
    if ('refused' in opened) throw new Error('refused');
    await ledger.lineAccepted(line(opened.batchId, 1));
    await ledger.lineAccepted(line(opened.batchId, 2));
    await ledger.progress(opened.batchId, { lines: 2, rejected: 0, read: false });
    await end('f_line1', 'completed');

    // A reading that moved within the limit is left alone, however old the batch.
    advance(READING_ABANDONED_AFTER_SECONDS - 60);
    await ledger.progress(opened.batchId, { lines: 2, rejected: 0, read: false });
    advance(120);
    expect((await sweepBatches(deps)).abandoned).toBe(0);

    advance(READING_ABANDONED_AFTER_SECONDS);
    expect(await sweepBatches(deps)).toMatchObject({ abandoned: 1, ended: 0 });
    const marked = await batches.get(opened.batchId);
    expect(marked).toMatchObject({ status: 'in_progress', read: true, lines: 2 });
    expect(marked?.error?.code).toBe(ErrorCodes.BATCH_READING_ABANDONED);

    // Its second line ends: the batch ends with both, and announces it once.
    await end('f_line2', 'failed');
    expect(await sweepBatches(deps)).toMatchObject({ abandoned: 0, recounted: 2, ended: 1 });
    const batch = await batches.get(opened.batchId);
    expect(batch?.status).toBe('completed');
    expect(batch?.counts).toMatchObject({ completed: 1, failed: 1 });
    expect(batch?.error?.code).toBe(ErrorCodes.BATCH_READING_ABANDONED);
    expect(published).toHaveLength(1);
    expect(await sweepBatches(deps)).toEqual({
      published: 0,
      recounted: 0,
      abandoned: 0,
      ended: 0,
    });
  });

  it('fails a batch whose file never came once its upload URL expired', async () => {
    const { deps, batches, published, advance } = await setUp();
    const at = new Date().toISOString();
    const id = 'b_00000000000000000000000000000000000000aa';
    await batches.create({
      ...awaitingUpload(id, 'txt', at),
      uploadExpiresAt: new Date(Date.parse(at) + 900_000).toISOString(),
      unfinished: 'unfinished',
    });

    advance(60);
    expect((await sweepBatches(deps)).ended).toBe(0);
    advance(900);
    expect((await sweepBatches(deps)).ended).toBe(1);

    const batch = await batches.get(id);
    expect(batch?.status).toBe('failed');
    expect(batch?.error?.code).toBe(ErrorCodes.BATCH_UPLOAD_NOT_RECEIVED);
    expect(published.map((event) => (event.detail as { status: string }).status)).toEqual([
      'failed',
    ]);
  });

  it('publishes a batch event EventBridge did not take, after the grace', async () => {
    const { ledger, deps, batches, published, setFailPublish, advance } = await setUp();
    const opened = await ledger.open({ file: FILE, owner: 'alice', format: 'jsonl' });
    if ('refused' in opened) throw new Error('refused');
    setFailPublish(true);
    await ledger.finish(opened.batchId, { lines: 0, rejected: 0 });
    expect((await batches.get(opened.batchId))?.pendingEvent).toBeDefined();
    setFailPublish(false);

    advance(180);
    expect((await sweepBatches(deps)).published).toBe(1);
    expect(published).toHaveLength(1);
    expect((await batches.get(opened.batchId))?.pendingEvent).toBeUndefined();
  });
});
