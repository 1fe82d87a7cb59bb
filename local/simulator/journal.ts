/**
 * The simulator's request journal: one entry per provider request it answered (create, poll,
 * image), with the faults it injected into that answer. It is what lets a test tell which fault
 * hit which task (and which create attempt), so a failed generation's code can be checked
 * against the fault that caused it and a second task for one prompt against a lost answer.
 *
 * Kept in memory and, with a data dir, appended to `<dataDir>/simulator-requests.jsonl` before
 * the answer is sent: whatever a client may have seen is in the journal, across a crash too.
 */
import { join } from 'node:path';
import * as z from 'zod';
import { FAULT_KINDS, type FaultKind } from './faults.ts';
import { JsonLinesLog, readJsonLines } from './task-store.ts';

/** The name of the journal inside the data directory. */
export const JOURNAL_FILE = 'simulator-requests.jsonl';

/**
 * Entries kept in memory (the oldest go first past it); the file keeps them all. About 150 bytes
 * each, so the bound is tens of megabytes.
 */
const MAX_ENTRIES = 200_000;

export type JournalRequest = 'create' | 'poll' | 'image';

/** One answered provider request. */
export interface JournalEntry {
  /** When the answer was decided (epoch ms). */
  readonly at: number;
  readonly request: JournalRequest;
  /** The HTTP status of the answer (a held `slow` answer's status once it is sent). */
  readonly status: number;
  /** Faults injected into this answer; empty for a plain one. */
  readonly faults: readonly FaultKind[];
  /** The task asked about, or made by a create. */
  readonly taskId?: string;
  /** The prompt of a create, so attempts that made no task can still be told apart. */
  readonly prompt?: string;
  /** `busy`: a create refused by `--max-concurrent`; `rejected`: a create refused as invalid. */
  readonly refusal?: 'busy' | 'rejected';
  /** The task status a poll answered (`queued`, `running`, `completed`, `failed`). */
  readonly taskStatus?: string;
}

const entrySchema = z.object({
  at: z.number(),
  request: z.enum(['create', 'poll', 'image']),
  status: z.int(),
  faults: z.array(z.enum(FAULT_KINDS)),
  taskId: z.string().optional(),
  prompt: z.string().optional(),
  refusal: z.enum(['busy', 'rejected']).optional(),
  taskStatus: z.string().optional(),
});

export class RequestJournal {
  readonly #entries: JournalEntry[] = [];
  /** Faults by task, kept whole even when old entries are dropped. */
  readonly #faultsByTask = new Map<string, Partial<Record<FaultKind, number>>>();
  readonly #log: JsonLinesLog | undefined;

  private constructor(log: JsonLinesLog | undefined) {
    this.#log = log;
  }

  /** Opens a journal, reloading the one of `dataDir` when one is given. */
  static async open(options: { readonly dataDir?: string } = {}): Promise<RequestJournal> {
    if (options.dataDir === undefined) return new RequestJournal(undefined);
    const path = join(options.dataDir, JOURNAL_FILE);
    const previous = await readJsonLines(path, (value) => entrySchema.safeParse(value).data);
    const log = await JsonLinesLog.open(path);
    if (previous.tornTail) await log.append('');
    const journal = new RequestJournal(log);
    for (const entry of previous.items) journal.#remember(entry);
    return journal;
  }

  /** Records an answer; settles once it is on disk (at once without a data dir). */
  record(entry: JournalEntry): Promise<void> {
    this.#remember(entry);
    return this.#log ? this.#log.append(JSON.stringify(entry)) : Promise.resolve();
  }

  /** Every entry kept, oldest first. */
  entries(): readonly JournalEntry[] {
    return this.#entries;
  }

  /** Faults injected into answers about one task (its create's `slow` included), by kind. */
  faultsOf(taskId: string): Partial<Record<FaultKind, number>> {
    return { ...this.#faultsByTask.get(taskId) };
  }

  async close(): Promise<void> {
    await this.#log?.close();
  }

  #remember(entry: JournalEntry): void {
    this.#entries.push(entry);
    if (entry.taskId !== undefined && entry.faults.length > 0) {
      const counts = this.#faultsByTask.get(entry.taskId) ?? {};
      for (const kind of entry.faults) counts[kind] = (counts[kind] ?? 0) + 1;
      this.#faultsByTask.set(entry.taskId, counts);
    }
    if (this.#entries.length > MAX_ENTRIES)
      this.#entries.splice(0, this.#entries.length - MAX_ENTRIES);
  }
}
