import { describe, expect, it } from 'vitest';
import { batchViewSchema } from '#shared/api/batch-schemas.ts';
import { CursorCodec } from '#shared/api/cursor.ts';
import { BadRequestError, NotFoundError } from '#shared/api/errors.ts';
import { readBatches } from '#shared/api/use-cases/batches/read.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';
import {
  ALICE,
  BOB,
  batch,
  batchId,
  CURSOR_SECRET,
  fakeBatches,
  fakeGenerations,
  lineRecord,
} from './fakes.ts';

function setUp(options: { reports?: Record<string, unknown> } = {}) {
  const batches = fakeBatches([
    batch(1),
    batch(2),
    batch(3, { status: 'completed' }),
    batch(4, { owner: BOB }),
  ]);
  const generations = fakeGenerations([3, 1, 2].map((line) => lineRecord(line)));
  const reads: string[] = [];
  const routes = readBatches({
    batches,
    generations,
    presign: async (image) => `https://signed/${image.key}`,
    cursors: new CursorCodec(CURSOR_SECRET),
    readObject: async ({ key }) => {
      reads.push(key);
      const report = options.reports?.[key];
      return report === undefined ? undefined : JSON.stringify(report);
    },
  });
  return { batches, generations, reads, routes };
}

const codeOf = (promise: Promise<unknown>) =>
  promise.then(
    () => 'no error',
    (error: { code?: string }) => error.code,
  );

describe('GET /batches/{id}', () => {
  it('answers the batch with its counts, links and no internal attribute', async () => {
    const { routes } = setUp();

    const view = await routes.get(ALICE, batchId(1));

    expect(batchViewSchema.parse(view)).toEqual(view);
    expect(view.counts).toEqual({
      lines: 4,
      accepted: 3,
      rejected: 1,
      queued: 2,
      running: 0,
      completed: 1,
      failed: 0,
      cancelled: 0,
    });
    expect(view.links).toEqual({
      self: `/batches/${batchId(1)}`,
      generations: `/batches/${batchId(1)}/generations`,
      report: `/batches/${batchId(1)}/report`,
    });
    for (const internal of ['owner', 'ownerStatus', 'pinned', 'expiresAt', 'origin', 'read']) {
      expect(view).not.toHaveProperty(internal);
    }
    expect(view.source).toEqual({
      bucket: 'input',
      key: `prompts/alice/batches/${batchId(1)}.jsonl`,
    });
  });

  it("answers 404 for another owner's batch, a missing one and a malformed id alike", async () => {
    const { routes } = setUp();
    for (const [owner, id] of [
      [BOB, batchId(1)],
      [ALICE, batchId(4)],
      [ALICE, batchId(99)],
      [ALICE, 'gen-1'],
    ] as const) {
      await expect(routes.get(owner, id)).rejects.toBeInstanceOf(NotFoundError);
    }
  });
});

describe('GET /batches', () => {
  it("pages the owner's batches newest first, with a cursor to the next page and none on the last", async () => {
    const { routes, batches } = setUp();

    const first = await routes.list(ALICE, { limit: '2' });
    const second = await routes.list(ALICE, { limit: '2', cursor: first.nextCursor as string });

    expect(first.items.map((b) => b.id)).toEqual([batchId(3), batchId(2)]);
    expect(second.items.map((b) => b.id)).toEqual([batchId(1)]);
    expect(second.nextCursor).toBeUndefined();
    expect(batches.pages[1]?.startKey).toEqual({
      id: batchId(2),
      owner: ALICE,
      createdAt: batch(2).createdAt,
    });
  });

  it('reads one status from the owner/status index', async () => {
    const { routes, batches } = setUp();
    const page = await routes.list(ALICE, { status: 'completed' });
    expect(page.items.map((b) => b.id)).toEqual([batchId(3)]);
    expect(batches.pages[0]).toMatchObject({ owner: ALICE, status: 'completed', limit: 20 });
  });

  it('refuses a cursor of another owner or another status filter, and a bad status or limit', async () => {
    const { routes } = setUp();
    const { nextCursor } = await routes.list(ALICE, { limit: '1' });
    for (const [owner, query] of [
      [BOB, { cursor: nextCursor }],
      [ALICE, { status: 'completed', cursor: nextCursor }],
      [ALICE, { cursor: `${nextCursor}x` }],
      [ALICE, { status: 'done' }],
      [ALICE, { limit: '0' }],
      [ALICE, { limit: '101' }],
    ] as const) {
      expect(await codeOf(routes.list(owner, query))).toBe(ErrorCodes.API_INVALID_QUERY);
    }
  });

  it('refuses a signed cursor that is not a position of the index read', async () => {
    const { routes } = setUp();
    const forged = new CursorCodec(CURSOR_SECRET).encode(ALICE, 'batches:*', {
      id: batchId(1),
      owner: BOB,
      createdAt: 'x',
    });
    await expect(routes.list(ALICE, { cursor: forged })).rejects.toBeInstanceOf(BadRequestError);
  });
});

describe('GET /batches/{id}/generations', () => {
  it('answers the records in line order, a page at a time, as GET /generations/{id} shows them', async () => {
    const { routes } = setUp();

    const first = await routes.generations(ALICE, batchId(1), { limit: '2' });
    const rest = await routes.generations(ALICE, batchId(1), {
      cursor: first.nextCursor as string,
    });

    expect(first.items.map((item) => item.request.prompt)).toEqual(['prompt 1', 'prompt 2']);
    expect(rest.items.map((item) => item.request.prompt)).toEqual(['prompt 3']);
    expect(rest.nextCursor).toBeUndefined();
    expect(first.items[0]).not.toHaveProperty('batchLine');
  });

  it("answers 404 for another owner's batch before reading a line, and binds cursors to the batch", async () => {
    const { routes } = setUp();
    await expect(routes.generations(BOB, batchId(1))).rejects.toBeInstanceOf(NotFoundError);
    const { nextCursor } = await routes.generations(ALICE, batchId(1), { limit: '1' });
    expect(await codeOf(routes.generations(ALICE, batchId(2), { cursor: nextCursor }))).toBe(
      ErrorCodes.API_INVALID_QUERY,
    );
  });
});

describe('GET /batches/{id}/report', () => {
  const reportKey = `reports/prompts/alice/batches/${batchId(1)}.jsonl.json`;

  it("answers the report of the batch's own file", async () => {
    const report = { key: 'k', etag: 'etag-1', summary: { lines: 4 }, lines: [] };
    const { routes, reads } = setUp({ reports: { [reportKey]: report } });
    expect(await routes.report(ALICE, batchId(1))).toEqual(report);
    expect(reads).toEqual([reportKey]);
  });

  it('answers a report naming the batch, and 404 for one naming another batch of the same key', async () => {
    const report = { batchId: batchId(1), etag: 'etag-2', lines: [] };
    expect(
      await setUp({ reports: { [reportKey]: report } }).routes.report(ALICE, batchId(1)),
    ).toEqual(report);
    const other = { batchId: batchId(7), etag: 'etag-1', lines: [] };
    await expect(
      setUp({ reports: { [reportKey]: other } }).routes.report(ALICE, batchId(1)),
    ).rejects.toBeInstanceOf(NotFoundError);
  });

  it('answers 404 with a clear message while the report is not written, or is of another upload', async () => {
    for (const reports of [{}, { [reportKey]: { etag: 'etag-of-another-upload', lines: [] } }]) {
      const { routes } = setUp({ reports });
      const error = await routes.report(ALICE, batchId(1)).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(NotFoundError);
      expect((error as Error).message).toMatch(/report .* is not written yet/);
    }
  });

  it("answers 404 for another owner's batch without reading the bucket", async () => {
    const { routes, reads } = setUp();
    await expect(routes.report(BOB, batchId(1))).rejects.toBeInstanceOf(NotFoundError);
    expect(reads).toEqual([]);
  });
});
