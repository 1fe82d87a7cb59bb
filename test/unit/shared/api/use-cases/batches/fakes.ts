/**
 * In-memory stand-ins for the repositories the batch use cases read and write: only the methods
 * the use cases call, with the answers the DynamoDB-backed repositories give.
 */
import { type Batch, batchOwnerStatusKey, countsOf } from '#shared/batches/model.ts';
import type { OwingBatch } from '#shared/batches/reads.ts';
import type { BatchRepository } from '#shared/batches/repository.ts';
import type { GenerationError } from '#shared/generation/model.ts';
import type {
  GenerationRepository,
  OwingRecord,
  StoredRecord,
} from '#shared/generation/repository.ts';

export const ALICE = 'alice';
export const BOB = 'bob';
export const CURSOR_SECRET = 'Yq3vN8tR2wK7mP4sX9zB6cH1jL5dF0gA';

export function batchId(n: number): string {
  return `b_${n.toString(16).padStart(40, '0')}`;
}

export function batch(n: number, overrides: Partial<Batch> = {}): Batch {
  const id = batchId(n);
  const head = {
    id,
    owner: ALICE,
    status: 'in_progress' as const,
    ownerStatus: batchOwnerStatusKey(ALICE, 'in_progress'),
    source: { bucket: 'input', key: `prompts/alice/batches/${id}.jsonl`, etag: 'etag-1' },
    format: 'jsonl' as const,
    origin: 'api' as const,
    rejected: 1,
    lines: 4,
    read: true,
    pinned: 'e:etag-1',
    createdAt: `2026-12-07T10:00:${String(n).padStart(2, '0')}.000Z`,
    updatedAt: '2026-12-07T10:01:00.000Z',
    expiresAt: 1_900_000_000,
  };
  return { ...head, ...countsOf(head, [{ id, accepted: 3, completed: 1 }]), ...overrides };
}

export function lineRecord(line: number, overrides: Partial<StoredRecord> = {}): StoredRecord {
  return {
    id: `line-${line}`,
    owner: ALICE,
    status: 'queued',
    request: { prompt: `prompt ${line}`, use_pre_llm: true, seed: 1, width: 1024, height: 1024 },
    source: 's3',
    polls: 0,
    images: [],
    createdAt: '2026-12-07T10:00:00.000Z',
    updatedAt: '2026-12-07T10:00:00.000Z',
    batchId: batchId(1),
    batchLine: line,
    ...overrides,
  } as StoredRecord;
}

/** The batch repository's reads and the owner's cancel, over a map of batches. */
export function fakeBatches(batches: Batch[]) {
  const byId = new Map(batches.map((b) => [b.id, b]));
  const pages: Array<{ owner: string; status?: string; limit: number; startKey?: unknown }> = [];
  const published: string[] = [];
  const repository = {
    pages,
    published,
    byId,
    async get(id: string) {
      return byId.get(id);
    },
    async getHead(id: string) {
      return byId.get(id);
    },
    async pageByOwner(query: {
      owner: string;
      status?: string;
      limit: number;
      startKey?: unknown;
    }) {
      pages.push(query);
      const items = [...byId.values()]
        .filter((b) => b.owner === query.owner && (!query.status || b.status === query.status))
        .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
      const start = query.startKey as { createdAt?: string } | undefined;
      const after = start?.createdAt
        ? items.filter((b) => b.createdAt < (start.createdAt as string))
        : items;
      return { items: after.slice(0, query.limit + 1) };
    },
    async cancel(id: string, owner: string, now: Date) {
      const found = byId.get(id);
      if (found === undefined || found.owner !== owner) return undefined;
      if (['completed', 'cancelled', 'failed'].includes(found.status)) return 'final' as const;
      const at = now.toISOString();
      const ended: OwingBatch = {
        ...found,
        status: 'cancelled',
        completedAt: at,
        pendingEvent: { detailType: 'Batch Completed', at },
      };
      byId.set(id, ended);
      return ended;
    },
    async eventPublished(owing: OwingBatch) {
      published.push(owing.id);
    },
  };
  return repository as typeof repository & BatchRepository;
}

/** The generation repository's batch reads and its cancel, over a list of line records. */
export function fakeGenerations(records: StoredRecord[]) {
  const byId = new Map(records.map((r) => [r.id, r]));
  const cancelled: string[] = [];
  const repository = {
    cancelled,
    byId,
    async *unfinishedOfBatch(id: string) {
      for (const record of byId.values()) {
        if (record.batchId === id && ['queued', 'running'].includes(record.status)) yield record;
      }
    },
    async pageByBatch(query: {
      batchId: string;
      limit: number;
      startKey?: Record<string, unknown>;
    }) {
      const lines = [...byId.values()]
        .filter((r) => r.batchId === query.batchId)
        .sort((a, b) => Number(a.batchLine) - Number(b.batchLine));
      const after = query.startKey
        ? lines.filter((r) => Number(r.batchLine) > Number(query.startKey?.batchLine))
        : lines;
      return { items: after.slice(0, query.limit + 1) };
    },
    async cancel(
      owner: string,
      record: Pick<StoredRecord, 'id' | 'createdAt'>,
      error: GenerationError,
      now: Date,
    ): Promise<OwingRecord | undefined> {
      const found = byId.get(record.id);
      if (found === undefined || found.owner !== owner) return undefined;
      if (!['queued', 'running'].includes(found.status)) return undefined;
      const at = now.toISOString();
      const ended: OwingRecord = {
        ...found,
        status: 'cancelled',
        error,
        pendingEvent: { detailType: 'Generation Cancelled', at },
      };
      byId.set(record.id, ended);
      cancelled.push(record.id);
      return ended;
    },
    async eventPublished() {},
  };
  return repository as unknown as typeof repository & GenerationRepository;
}
