/**
 * The local SQS's durability: every change to every queue is a line appended (synchronously,
 * before the call that made it is answered) to one file in the data dir, and the queues are what
 * the lines replay to at the next start. A line cut short by a kill is skipped. The file is
 * rewritten with the live messages only at each start and whenever it has grown to many times
 * their number, so it stays about as large as the queues.
 */
import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { StoredMessage } from '#local/runtime/sqs/messages.ts';
import type { QueueChanges } from '#local/runtime/sqs/queue.ts';

/** In the data dir: the messages of the local queues. */
export const QUEUES_JOURNAL = 'sqs-queues.jsonl';

type JournalLine =
  | { readonly q: string; readonly put: StoredMessage }
  | { readonly q: string; readonly deleted: string };

/** Lines appended past this many, and past 4 per live message, make the file rewritten. */
const COMPACT_AFTER_LINES = 10_000;

export class QueueJournal implements QueueChanges {
  readonly #file: string;
  /** The live messages, by queue then id, as the last line about each left them. */
  readonly #state: Map<string, Map<string, StoredMessage>>;
  #lines = 0;

  private constructor(file: string, state: Map<string, Map<string, StoredMessage>>) {
    this.#file = file;
    this.#state = state;
  }

  /** Opens the journal at `file`, replays it and rewrites it with the live messages only. */
  static open(file: string): QueueJournal {
    const state = existsSync(file) ? replay(readFileSync(file, 'utf8')) : new Map();
    const journal = new QueueJournal(file, state);
    journal.#compact();
    return journal;
  }

  /** The messages a queue held when the journal was opened (then the queue owns them). */
  restored(queue: string): StoredMessage[] {
    return [...(this.#state.get(queue)?.values() ?? [])].map((message) => ({ ...message }));
  }

  sent(queue: string, message: StoredMessage): void {
    this.#put(queue, message);
  }

  updated(queue: string, message: StoredMessage): void {
    this.#put(queue, message);
  }

  deleted(queue: string, messageId: string): void {
    this.#append({ q: queue, deleted: messageId });
    this.#state.get(queue)?.delete(messageId);
  }

  #put(queue: string, message: StoredMessage): void {
    const snapshot = structuredClone(message);
    this.#append({ q: queue, put: snapshot });
    let messages = this.#state.get(queue);
    if (!messages) {
      messages = new Map();
      this.#state.set(queue, messages);
    }
    messages.set(message.id, snapshot);
  }

  #append(line: JournalLine): void {
    appendFileSync(this.#file, `${JSON.stringify(line)}\n`);
    this.#lines += 1;
    if (this.#lines > COMPACT_AFTER_LINES && this.#lines > 4 * this.#liveCount()) this.#compact();
  }

  #liveCount(): number {
    let count = 0;
    for (const messages of this.#state.values()) count += messages.size;
    return count;
  }

  /** Rewrites the file as one line per live message, renamed into place whole. */
  #compact(): void {
    const lines: string[] = [];
    for (const [q, messages] of this.#state) {
      for (const message of messages.values()) lines.push(JSON.stringify({ q, put: message }));
    }
    const compacted = `${this.#file}.compacting`;
    writeFileSync(compacted, lines.map((line) => `${line}\n`).join(''));
    renameSync(compacted, this.#file);
    this.#lines = lines.length;
  }
}

function replay(text: string): Map<string, Map<string, StoredMessage>> {
  const state = new Map<string, Map<string, StoredMessage>>();
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') continue;
    let line: JournalLine;
    try {
      line = JSON.parse(raw) as JournalLine;
    } catch {
      continue; // the last line of a killed process, cut short
    }
    if (typeof line?.q !== 'string') continue;
    let messages = state.get(line.q);
    if (!messages) {
      messages = new Map();
      state.set(line.q, messages);
    }
    if ('deleted' in line) messages.delete(line.deleted);
    else if (line.put && typeof line.put.id === 'string') messages.set(line.put.id, line.put);
  }
  return state;
}
