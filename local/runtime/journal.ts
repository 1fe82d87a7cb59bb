/**
 * Work in flight, written down in the data dir so a restarted runtime can carry it on: a line is
 * appended when a piece of work starts and another when it ends, and what started but never
 * ended is pending at the next start. On AWS the services keep this state themselves (Step
 * Functions its executions, Lambda its asynchronous invocations and their retries); locally they
 * live in memory, and this is what survives the process.
 *
 * Lines are appended synchronously: once `started` returns, the line is in the file even if the
 * process is killed the next instant (a machine crash may still lose the page cache's last
 * writes). A line cut short by a kill is skipped when the journal is read.
 */
import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

type JournalLine<T> =
  | { readonly id: string; readonly started: T }
  | { readonly id: string; readonly ended: true };

export interface PendingWork<T> {
  readonly id: string;
  readonly value: T;
}

export class PendingJournal<T> {
  readonly #file: string;

  private constructor(file: string) {
    this.#file = file;
  }

  /**
   * Opens the journal at `file` and answers the work it holds as pending (oldest first). The file
   * is rewritten with those entries only, so it stays as small as the work in flight.
   */
  static open<T>(file: string): { journal: PendingJournal<T>; pending: PendingWork<T>[] } {
    const pending = existsSync(file) ? pendingIn<T>(readFileSync(file, 'utf8')) : [];
    const compacted = `${file}.compacting`;
    writeFileSync(
      compacted,
      pending.map((work) => `${JSON.stringify({ id: work.id, started: work.value })}\n`).join(''),
    );
    renameSync(compacted, file);
    return { journal: new PendingJournal<T>(file), pending };
  }

  started(id: string, value: T): void {
    this.#append({ id, started: value });
  }

  ended(id: string): void {
    this.#append({ id, ended: true });
  }

  #append(line: JournalLine<T>): void {
    appendFileSync(this.#file, `${JSON.stringify(line)}\n`);
  }
}

/** Started and not ended since, in the order first started; a later start replaces the value. */
function pendingIn<T>(text: string): PendingWork<T>[] {
  const pending = new Map<string, T>();
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') continue;
    let line: JournalLine<T>;
    try {
      line = JSON.parse(raw) as JournalLine<T>;
    } catch {
      continue; // the last line of a killed process, cut short
    }
    if (typeof line?.id !== 'string') continue;
    if ('ended' in line) pending.delete(line.id);
    else pending.set(line.id, line.started);
  }
  return [...pending].map(([id, value]) => ({ id, value }));
}
