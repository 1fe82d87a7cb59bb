/**
 * The simulator's tasks: in memory, optionally appended to `<dataDir>/simulator-tasks.jsonl` so
 * a restarted simulator still answers polls for the tasks it created before (as a real provider
 * keeps its tasks while our side restarts).
 *
 * A task's whole life is decided when it is created (when it finishes, and how), so nothing runs
 * per task: its status is a function of the clock. The counters are kept exact without timers by
 * a min-heap of completion times, drained up to "now" whenever someone asks.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as z from 'zod';
import type { GenerationRequest } from '#shared/request/schema.ts';

/** The name of the task log inside the data directory. */
export const TASK_LOG_FILE = 'simulator-tasks.jsonl';

/** How a task ends; decided at creation. */
export type TaskOutcome =
  | { readonly status: 'completed'; readonly privateUrl: boolean }
  | { readonly status: 'failed'; readonly code: number; readonly message: string };

/** One generation task. Times are epoch milliseconds, so they survive a restart. */
export interface SimTask {
  readonly id: string;
  readonly request: GenerationRequest;
  readonly createdAt: number;
  /** When the task turns terminal; `createdAt` plus the (jittered) latency. */
  readonly completeAt: number;
  readonly outcome: TaskOutcome;
  /** Entropy for a seed -1 image, so one task's random image is the same on every download. */
  readonly nonce: string;
}

/** What the caller decides about a new task. */
export interface NewTask {
  readonly request: GenerationRequest;
  readonly durationMs: number;
  readonly outcome: TaskOutcome;
}

/** Task counters as docs/simulator.md names them. */
export interface TaskCounters {
  readonly tasksCreated: number;
  readonly tasksCompleted: number;
  readonly tasksFailed: number;
  readonly inFlight: number;
  readonly maxInFlight: number;
}

export interface TaskStoreOptions {
  /** Where to keep the task log; in memory only when absent. */
  readonly dataDir?: string;
}

/** The task log could not be read or written. */
export class TaskStoreError extends Error {
  override readonly name = 'TaskStoreError';

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

const storedTaskSchema = z.object({
  id: z.string().min(1),
  request: z.object({
    prompt: z.string(),
    use_pre_llm: z.boolean(),
    seed: z.int(),
    width: z.int().positive(),
    height: z.int().positive(),
  }),
  createdAt: z.number(),
  completeAt: z.number(),
  outcome: z.discriminatedUnion('status', [
    z.object({ status: z.literal('completed'), privateUrl: z.boolean() }),
    z.object({ status: z.literal('failed'), code: z.int(), message: z.string() }),
  ]),
  nonce: z.string(),
});

export class TaskStore {
  readonly #tasks = new Map<string, SimTask>();
  /** Unfinished tasks, earliest completion first. */
  readonly #pending = new MinHeap<SimTask>((a, b) => a.completeAt - b.completeAt);
  readonly #log: JsonLinesLog | undefined;
  #tasksCreated = 0;
  #tasksCompleted = 0;
  #tasksFailed = 0;
  #maxInFlight = 0;

  private constructor(log: JsonLinesLog | undefined) {
    this.#log = log;
  }

  /** Opens a store, reloading the task log of `dataDir` when one is given. */
  static async open(options: TaskStoreOptions = {}): Promise<TaskStore> {
    if (options.dataDir === undefined) return new TaskStore(undefined);
    const path = join(options.dataDir, TASK_LOG_FILE);
    const previous = await readTaskLog(path);
    const log = await JsonLinesLog.open(path);
    // A crash mid-write leaves a line without its newline; end it, or the next line joins it.
    if (previous.tornTail) await log.append('');
    const store = new TaskStore(log);
    const now = Date.now();
    for (const task of previous.tasks) store.#restore(task, now);
    // Tasks still running on the "provider" side count against its concurrency from the start.
    store.#maxInFlight = store.#pending.size;
    return store;
  }

  /**
   * Creates a task now. The returned promise settles once the task is on disk (at once without
   * a data dir), so a caller can hold the answer until a restart could no longer lose the task.
   */
  create(spec: NewTask): { readonly task: SimTask; readonly persisted: Promise<void> } {
    const now = Date.now();
    this.#drain(now);
    const task: SimTask = {
      id: randomUUID(),
      request: spec.request,
      createdAt: now,
      completeAt: now + Math.max(0, Math.round(spec.durationMs)),
      outcome: spec.outcome,
      nonce: randomBytes(16).toString('hex'),
    };
    this.#tasks.set(task.id, task);
    this.#tasksCreated++;
    this.#track(task, now);
    const persisted = this.#log ? this.#log.append(JSON.stringify(task)) : Promise.resolve();
    return { task, persisted };
  }

  get(id: string): SimTask | undefined {
    return this.#tasks.get(id);
  }

  /** Every task it knows, reloaded ones included, in creation order. */
  all(): SimTask[] {
    return [...this.#tasks.values()];
  }

  /** Tasks not yet finished at `now`. */
  inFlight(now = Date.now()): number {
    this.#drain(now);
    return this.#pending.size;
  }

  /** When the earliest unfinished task finishes, or undefined when none is running. */
  earliestCompletion(now = Date.now()): number | undefined {
    this.#drain(now);
    return this.#pending.peek()?.completeAt;
  }

  counters(now = Date.now()): TaskCounters {
    this.#drain(now);
    return {
      tasksCreated: this.#tasksCreated,
      tasksCompleted: this.#tasksCompleted,
      tasksFailed: this.#tasksFailed,
      inFlight: this.#pending.size,
      maxInFlight: this.#maxInFlight,
    };
  }

  /** Zeroes the counters; running tasks keep running, and the peak restarts from them. */
  resetCounters(now = Date.now()): void {
    this.#drain(now);
    this.#tasksCreated = 0;
    this.#tasksCompleted = 0;
    this.#tasksFailed = 0;
    this.#maxInFlight = this.#pending.size;
  }

  /** Flushes and closes the task log. */
  async close(): Promise<void> {
    await this.#log?.close();
  }

  #restore(task: SimTask, now: number): void {
    this.#tasks.set(task.id, task);
    if (task.completeAt > now) this.#pending.push(task);
  }

  #track(task: SimTask, now: number): void {
    if (task.completeAt > now) {
      this.#pending.push(task);
    } else {
      // A zero-latency task is born finished; it never counts as in flight.
      this.#countFinished(task);
    }
    this.#maxInFlight = Math.max(this.#maxInFlight, this.#pending.size);
  }

  /** Moves every task finished by `now` from "in flight" to its terminal counter. */
  #drain(now: number): void {
    for (
      let next = this.#pending.peek();
      next && next.completeAt <= now;
      next = this.#pending.peek()
    ) {
      this.#pending.pop();
      this.#countFinished(next);
    }
  }

  #countFinished(task: SimTask): void {
    if (task.outcome.status === 'completed') this.#tasksCompleted++;
    else this.#tasksFailed++;
  }
}

/** Reads the task log; a torn last line (a crash mid-write) or a foreign line is skipped. */
async function readTaskLog(path: string): Promise<{ tasks: SimTask[]; tornTail: boolean }> {
  const { items, tornTail } = await readJsonLines(
    path,
    (value) => storedTaskSchema.safeParse(value).data,
  );
  return { tasks: items, tornTail };
}

/**
 * Reads a JSON-lines file written by {@link JsonLinesLog}: each line that parses and that `accept`
 * turns into an item, in order; a torn last line (a crash mid-write) or a foreign line is
 * skipped. A missing file is empty.
 */
export async function readJsonLines<T>(
  path: string,
  accept: (value: unknown) => T | undefined,
): Promise<{ items: T[]; tornTail: boolean }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { items: [], tornTail: false };
    throw new TaskStoreError(`Cannot read the simulator log ${path}`, { cause: error });
  }
  const items: T[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const item = accept(JSON.parse(line));
      if (item !== undefined) items.push(item);
    } catch {
      // Not JSON: a torn or foreign line.
    }
  }
  return { items, tornTail: text.length > 0 && !text.endsWith('\n') };
}

/**
 * An append-only JSON-lines file with group commit: lines appended while a write is under way
 * go out together in the next write, so hundreds of concurrent creates cost a few writes.
 */
export class JsonLinesLog {
  readonly #handle: FileHandle;
  readonly #path: string;
  #queue: { line: string; resolve: () => void; reject: (error: unknown) => void }[] = [];
  #flushing: Promise<void> | undefined;
  #closed = false;

  private constructor(handle: FileHandle, path: string) {
    this.#handle = handle;
    this.#path = path;
  }

  static async open(path: string): Promise<JsonLinesLog> {
    try {
      await mkdir(dirname(path), { recursive: true });
      return new JsonLinesLog(await open(path, 'a'), path);
    } catch (error) {
      throw new TaskStoreError(`Cannot open the simulator log ${path}`, { cause: error });
    }
  }

  append(line: string): Promise<void> {
    if (this.#closed) {
      return Promise.reject(new TaskStoreError(`The log ${this.#path} is closed`));
    }
    const written = new Promise<void>((resolve, reject) => {
      this.#queue.push({ line: `${line}\n`, resolve, reject });
    });
    this.#flushing ??= this.#flush();
    return written;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#flushing;
    await this.#handle.close();
  }

  async #flush(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue;
      this.#queue = [];
      try {
        await this.#handle.appendFile(batch.map((entry) => entry.line).join(''));
        for (const entry of batch) entry.resolve();
      } catch (error) {
        const failure = new TaskStoreError(`Cannot append to ${this.#path}`, { cause: error });
        for (const entry of batch) entry.reject(failure);
      }
    }
    this.#flushing = undefined;
  }
}

/** A binary min-heap; enough for "which task finishes next" at any load. */
class MinHeap<T> {
  readonly #items: T[] = [];
  readonly #compare: (a: T, b: T) => number;

  constructor(compare: (a: T, b: T) => number) {
    this.#compare = compare;
  }

  get size(): number {
    return this.#items.length;
  }

  peek(): T | undefined {
    return this.#items[0];
  }

  push(item: T): void {
    const items = this.#items;
    items.push(item);
    let index = items.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (this.#compare(items[index] as T, items[parent] as T) >= 0) break;
      this.#swap(index, parent);
      index = parent;
    }
  }

  pop(): T | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      items[0] = last;
      this.#siftDown(0);
    }
    return top;
  }

  #siftDown(start: number): void {
    const items = this.#items;
    let index = start;
    for (;;) {
      const left = 2 * index + 1;
      const right = left + 1;
      let smallest = index;
      if (left < items.length && this.#compare(items[left] as T, items[smallest] as T) < 0) {
        smallest = left;
      }
      if (right < items.length && this.#compare(items[right] as T, items[smallest] as T) < 0) {
        smallest = right;
      }
      if (smallest === index) return;
      this.#swap(index, smallest);
      index = smallest;
    }
  }

  #swap(a: number, b: number): void {
    const items = this.#items;
    [items[a], items[b]] = [items[b] as T, items[a] as T];
  }
}
