/**
 * The batch routes for real users, over real HTTP and S3 against `spark-t2i serve`: the file in
 * the body, the pre-signed upload, the refusals with their codes, owner isolation and pages.
 */
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '#shared/errors/codes.ts';
import { type ServedRuntime, serve, waitFor } from '../helpers/serve.ts';

const ALICE = 'sk_alice_0123456789abcdefghij';
const BOB = 'sk_bob_0123456789abcdefghijkl';
/** A key of its own, so the list tests count only their own batches. */
const CAROL = 'sk_carol_0123456789abcdefghi';
const MiB = 1024 * 1024;
/** A small prompt-file limit, so a too-large upload request is cheap to state. */
const PROMPT_FILE_MAX_BYTES = 8 * MiB;

let runtime: ServedRuntime;

interface Counts {
  lines: number;
  accepted: number;
  rejected: number;
  queued: number;
  running: number;
  completed: number;
  failed: number;
  cancelled: number;
}

interface Batch {
  id: string;
  status: string;
  source: { bucket: string; key: string };
  format: string;
  counts: Counts;
  links: { self: string; generations: string; report: string };
  upload?: { url: string; method: string; headers: Record<string, string>; expiresAt: string };
  [key: string]: unknown;
}

const call = async (
  path: string,
  key: string,
  init: { method?: string; body?: string | Buffer; type?: string; headers?: object } = {},
) => {
  const response = await fetch(`${runtime.endpoints.api}${path}`, {
    method: init.method ?? 'GET',
    headers: {
      authorization: `Bearer ${key}`,
      ...(init.type !== undefined && { 'content-type': init.type }),
      ...init.headers,
    },
    ...(init.body !== undefined && { body: init.body }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

const post = (key: string, body: string | Buffer, type: string, headers: object = {}) =>
  call('/batches', key, { method: 'POST', body, type, headers });

const jsonl = (prompts: string[]) =>
  prompts.map((prompt) => JSON.stringify({ prompt, width: 1024, height: 1024 })).join('\n');

async function objectText(bucket: string, key: string): Promise<string> {
  const object = await runtime.s3().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return (await object.Body?.transformToString('utf8')) ?? '';
}

beforeAll(async () => {
  runtime = await serve({
    env: { SPARK_T2I_API_KEYS: `alice:${ALICE},bob:${BOB},carol:${CAROL}` },
    config: { limits: { promptFileMaxBytes: PROMPT_FILE_MAX_BYTES } },
  });
}, 90_000);
afterAll(() => runtime?.stop());

describe('POST /batches with the file in the body', () => {
  it('answers 201 with the batch, puts the file at its key, and GET finds it', async () => {
    const file = jsonl(['a red kite', 'a blue boat']);
    const { status, body } = await post(ALICE, file, 'application/jsonl');
    expect(status).toBe(201);
    const batch = body as unknown as Batch;
    expect(batch).toMatchObject({
      id: expect.stringMatching(/^b_[0-9a-f]{40}$/),
      format: 'jsonl',
      source: {
        bucket: runtime.endpoints.s3.inputBucket,
        key: `prompts/alice/batches/${batch.id}.jsonl`,
      },
      counts: {
        lines: 0,
        accepted: 0,
        rejected: 0,
        queued: 0,
        running: 0,
        completed: 0,
        failed: 0,
        cancelled: 0,
      },
      costUsd: 0,
      links: {
        self: `/batches/${batch.id}`,
        generations: `/batches/${batch.id}/generations`,
        report: `/batches/${batch.id}/report`,
      },
    });
    expect(batch.upload).toBeUndefined();
    expect(await objectText(batch.source.bucket, batch.source.key)).toBe(file);
    const read = await call(`/batches/${batch.id}`, ALICE);
    expect(read.status).toBe(200);
    expect(read.body.id).toBe(batch.id);
  });

  it.each([
    ['application/x-ndjson', 'jsonl', jsonl(['x'])],
    ['text/plain; charset=utf-8', 'txt', 'a lighthouse\n# a comment\n'],
    ['application/json', 'json', JSON.stringify([{ prompt: 'a fox' }])],
  ])('takes %s as a .%s file', async (type, format, file) => {
    const { status, body } = await post(ALICE, file, type);
    expect(status).toBe(201);
    expect(body.format).toBe(format);
    const batch = body as unknown as Batch;
    expect(batch.source.key.endsWith(`.${format}`)).toBe(true);
    expect(await objectText(batch.source.bucket, batch.source.key)).toBe(file);
  });

  it('refuses an empty body with 400 090006004 and another media type with 415', async () => {
    expect(await post(ALICE, '', 'application/jsonl')).toEqual({
      status: 400,
      body: { error: { code: ErrorCodes.BATCH_EMPTY_BODY, message: expect.any(String) } },
    });
    for (const type of ['text/csv', 'multipart/form-data; boundary=x']) {
      expect(await post(ALICE, 'prompt', type)).toEqual({
        status: 415,
        body: {
          error: { code: ErrorCodes.API_UNSUPPORTED_MEDIA_TYPE, message: expect.any(String) },
        },
      });
    }
  });

  it('answers the same batch for the same Idempotency-Key and body, 409 for another body', async () => {
    const headers = { 'idempotency-key': 'batch-retry-1' };
    const first = await post(ALICE, jsonl(['one']), 'application/jsonl', headers);
    const again = await post(ALICE, jsonl(['one']), 'application/jsonl', headers);
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.body.id).toBe(first.body.id);
    const other = await post(ALICE, jsonl(['two']), 'application/jsonl', headers);
    expect(other.status).toBe(409);
    expect((other.body.error as { code: string }).code).toBe(ErrorCodes.API_IDEMPOTENCY_CONFLICT);
    // Another owner's key of the same name is its own.
    const bobs = await post(BOB, jsonl(['two']), 'application/jsonl', headers);
    expect(bobs.status).toBe(201);
    expect(bobs.body.id).not.toBe(first.body.id);
  });
});

describe('POST /batches with an upload request', () => {
  const uploadRequest = (upload: Record<string, unknown>, extra: object = {}) =>
    post(ALICE, JSON.stringify({ upload, ...extra }), 'application/json');

  it('answers a pre-signed PUT of that size to the batch key, which S3 takes', async () => {
    const file = Buffer.from(jsonl(['a', 'b', 'c']));
    const { status, body } = await uploadRequest(
      { format: 'jsonl', bytes: file.length },
      { metadata: { run: 7 } },
    );
    expect(status).toBe(201);
    const batch = body as unknown as Batch;
    expect(batch).toMatchObject({
      status: 'awaiting_upload',
      format: 'jsonl',
      metadata: { run: 7 },
    });
    expect(batch.upload).toMatchObject({
      method: 'PUT',
      url: expect.stringContaining(batch.source.key),
      headers: { 'content-type': 'application/jsonl', 'content-length': String(file.length) },
    });
    const upload = batch.upload as NonNullable<Batch['upload']>;
    expect(Date.parse(upload.expiresAt) - Date.now()).toBeGreaterThan(14 * 60 * 1000);
    const put = await fetch(upload.url, { method: 'PUT', headers: upload.headers, body: file });
    expect(put.status).toBe(200);
    expect(await objectText(batch.source.bucket, batch.source.key)).toBe(file.toString());
  });

  it('has S3 refuse a PUT of another size or type than the one signed', async () => {
    const { body } = await uploadRequest({ format: 'txt', bytes: 10 });
    const upload = (body as unknown as Batch).upload as NonNullable<Batch['upload']>;
    const longer = await fetch(upload.url, {
      method: 'PUT',
      headers: { 'content-type': 'text/plain' },
      body: 'eleven byte',
    });
    expect(longer.status).toBe(403);
    await longer.body?.cancel();
    const otherType = await fetch(upload.url, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: 'ten bytes!',
    });
    expect(otherType.status).toBe(403);
    await otherType.body?.cancel();
  });

  it.each([
    ['no size', { format: 'jsonl' }],
    ['a size of 0', { format: 'jsonl', bytes: 0 }],
    ['a size over the prompt-file limit', { format: 'jsonl', bytes: PROMPT_FILE_MAX_BYTES + 1 }],
    ['an unknown format', { format: 'csv', bytes: 10 }],
    ['a fractional size', { format: 'txt', bytes: 1.5 }],
  ])('refuses an upload request with %s: 400 090006003', async (_, upload) => {
    const { status, body } = await uploadRequest(upload);
    expect(status).toBe(400);
    expect((body.error as { code: string }).code).toBe(ErrorCodes.BATCH_INVALID_UPLOAD);
  });

  it('takes an upload up to the prompt-file limit', async () => {
    const { status } = await uploadRequest({ format: 'json', bytes: PROMPT_FILE_MAX_BYTES });
    expect(status).toBe(201);
  });
});

describe('owner isolation', () => {
  it('answers 404 to another owner for every route of a batch, and leaves it out of the list', async () => {
    const { body } = await post(ALICE, jsonl(['private']), 'application/jsonl');
    const id = body.id as string;
    for (const path of [`/batches/${id}`, `/batches/${id}/generations`, `/batches/${id}/report`]) {
      const answer = await call(path, BOB);
      expect(answer.status, path).toBe(404);
      expect((answer.body.error as { code: string }).code).toBe(ErrorCodes.API_NOT_FOUND);
    }
    const cancel = await call(`/batches/${id}`, BOB, { method: 'DELETE' });
    expect(cancel.status).toBe(404);
    const list = await call('/batches?limit=100', BOB);
    expect((list.body.items as Batch[]).map((batch) => batch.id)).not.toContain(id);
    // Still the owner's, untouched.
    expect((await call(`/batches/${id}`, ALICE)).body.status).not.toBe('cancelled');
  });

  it('answers 404 for an id that is not a batch id at all', async () => {
    expect((await call('/batches/not-an-id', ALICE)).status).toBe(404);
  });
});

describe('GET /batches', () => {
  it("pages the owner's batches newest first with a cursor bound to owner and query", async () => {
    const ids: string[] = [];
    for (const prompt of ['p1', 'p2', 'p3']) {
      ids.push((await post(CAROL, jsonl([prompt]), 'application/jsonl')).body.id as string);
    }
    const first = await call('/batches?limit=2', CAROL);
    expect(first.status).toBe(200);
    expect((first.body.items as Batch[]).map((batch) => batch.id)).toEqual([ids[2], ids[1]]);
    const cursor = encodeURIComponent(first.body.nextCursor as string);
    const second = await call(`/batches?limit=2&cursor=${cursor}`, CAROL);
    expect((second.body.items as Batch[]).map((batch) => batch.id)).toEqual([ids[0]]);
    expect(second.body.nextCursor).toBeUndefined();
    // Another owner, or another status filter, cannot use it.
    for (const [path, key] of [
      [`/batches?limit=2&cursor=${cursor}`, BOB],
      [`/batches?limit=2&status=validating&cursor=${cursor}`, CAROL],
    ] as const) {
      const refused = await call(path, key);
      expect(refused.status).toBe(400);
      expect((refused.body.error as { code: string }).code).toBe(ErrorCodes.API_INVALID_QUERY);
    }
  });

  it('filters by status and refuses an unknown status or limit with 400 090004008', async () => {
    const awaiting = await call('/batches?status=awaiting_upload&limit=100', ALICE);
    expect(awaiting.status).toBe(200);
    expect((awaiting.body.items as Batch[]).length).toBeGreaterThan(0);
    expect((awaiting.body.items as Batch[]).every((b) => b.status === 'awaiting_upload')).toBe(
      true,
    );
    for (const query of ['status=done', 'limit=0', 'limit=101']) {
      const refused = await call(`/batches?${query}`, ALICE);
      expect(refused.status, query).toBe(400);
      expect((refused.body.error as { code: string }).code).toBe(ErrorCodes.API_INVALID_QUERY);
    }
  });
});

describe('DELETE /batches/{id} before any line is read', () => {
  it('cancels a batch awaiting its upload, then answers 409 090006005', async () => {
    const { body } = await post(
      ALICE,
      JSON.stringify({ upload: { format: 'txt', bytes: 5 } }),
      'application/json',
    );
    const cancelled = await call(`/batches/${body.id}`, ALICE, { method: 'DELETE' });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ id: body.id, status: 'cancelled' });
    expect(cancelled.body.completedAt).toEqual(expect.any(String));
    const again = await call(`/batches/${body.id}`, ALICE, { method: 'DELETE' });
    expect(again.status).toBe(409);
    expect((again.body.error as { code: string }).code).toBe(ErrorCodes.BATCH_NOT_CANCELLABLE);
  });
});

describe('a batch processed by the prompt-file trigger', () => {
  const settled = (id: string) =>
    waitFor(
      `batch ${id} to end`,
      async () => {
        const { body } = await call(`/batches/${id}`, ALICE);
        return ['completed', 'failed', 'cancelled'].includes(body.status as string)
          ? (body as unknown as Batch)
          : undefined;
      },
      45_000,
    );

  it('counts its lines exactly, lists its generations in line order and answers its report', async () => {
    const file = `${jsonl(['one', 'two', 'three'])}\n{"prompt":""}\n`;
    const { body } = await post(ALICE, file, 'application/jsonl');
    const batch = await settled(body.id as string);
    expect(batch.status).toBe('completed');
    expect(batch.counts).toEqual({
      lines: 4,
      accepted: 3,
      rejected: 1,
      queued: 0,
      running: 0,
      completed: 3,
      failed: 0,
      cancelled: 0,
    });
    const page = await call(`/batches/${batch.id}/generations?limit=2`, ALICE);
    const items = page.body.items as Array<{ request: { prompt: string } }>;
    expect(items.map((item) => item.request.prompt)).toEqual(['one', 'two']);
    const rest = await call(
      `/batches/${batch.id}/generations?cursor=${encodeURIComponent(page.body.nextCursor as string)}`,
      ALICE,
    );
    expect((rest.body.items as typeof items).map((item) => item.request.prompt)).toEqual(['three']);
    const report = await call(`/batches/${batch.id}/report`, ALICE);
    expect(report.status).toBe(200);
    expect(report.body.summary).toMatchObject({ accepted: 3, rejected: 1 });
  });

  it('stops a batch mid-way: nothing started after the cancel, counts settle', async () => {
    const prompts = Array.from({ length: 40 }, (_, line) => `line ${line}`);
    const { body } = await post(ALICE, jsonl(prompts), 'application/jsonl');
    const id = body.id as string;
    await waitFor('a line to run', async () => {
      const { body: batch } = await call(`/batches/${id}`, ALICE);
      return (batch.counts as Counts).running > 0 ? true : undefined;
    });
    const cancelled = await call(`/batches/${id}`, ALICE, { method: 'DELETE' });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('cancelled');
    const atCancel = cancelled.body.counts as Counts;
    const counts = await waitFor('the counts to settle', async () => {
      const { body: batch } = await call(`/batches/${id}`, ALICE);
      const c = batch.counts as Counts;
      return c.queued === 0 && c.running === 0 ? c : undefined;
    });
    expect(counts.completed + counts.failed + counts.cancelled).toBe(counts.accepted);
    // No line that had not started by the cancel ended any other way than cancelled.
    expect(counts.completed + counts.failed).toBeLessThanOrEqual(
      atCancel.completed + atCancel.failed + atCancel.running,
    );
    expect(counts.cancelled).toBeGreaterThanOrEqual(atCancel.queued);
    expect(counts.cancelled).toBeGreaterThan(0);
  });
});
