import { appendFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PendingJournal } from '#local/runtime/journal.ts';

const fresh = () => join(mkdtempSync(join(tmpdir(), 'spark-t2i-journal-')), 'in-flight.jsonl');

describe('PendingJournal', () => {
  it('answers, at the next open, what started and never ended, in the order it started', () => {
    const file = fresh();
    const { journal, pending } = PendingJournal.open<string>(file);
    expect(pending).toEqual([]);
    journal.started('a', 'input a');
    journal.started('b', 'input b');
    journal.started('c', 'input c');
    journal.ended('b');

    expect(PendingJournal.open<string>(file).pending).toEqual([
      { id: 'a', value: 'input a' },
      { id: 'c', value: 'input c' },
    ]);
  });

  it('keeps the latest value of work started again, and forgets it once it ends', () => {
    const file = fresh();
    const first = PendingJournal.open<{ attempt: number }>(file).journal;
    first.started('a', { attempt: 1 });
    const second = PendingJournal.open<{ attempt: number }>(file);
    expect(second.pending).toEqual([{ id: 'a', value: { attempt: 1 } }]);
    second.journal.started('a', { attempt: 2 });
    expect(PendingJournal.open(file).pending).toEqual([{ id: 'a', value: { attempt: 2 } }]);

    PendingJournal.open(file).journal.ended('a');
    expect(PendingJournal.open(file).pending).toEqual([]);
  });

  it('skips a last line cut short by a kill', () => {
    const file = fresh();
    PendingJournal.open<string>(file).journal.started('a', 'input a');
    appendFileSync(file, '{"id":"b","start');

    expect(PendingJournal.open<string>(file).pending).toEqual([{ id: 'a', value: 'input a' }]);
  });

  it('rewrites the file with the pending work only, so it stays as small as what is in flight', () => {
    const file = fresh();
    const { journal } = PendingJournal.open<string>(file);
    for (let index = 0; index < 100; index++) {
      journal.started(`done-${index}`, 'x');
      journal.ended(`done-${index}`);
    }
    journal.started('left', 'y');

    PendingJournal.open<string>(file);
    expect(readFileSync(file, 'utf8')).toBe('{"id":"left","started":"y"}\n');
  });
});
