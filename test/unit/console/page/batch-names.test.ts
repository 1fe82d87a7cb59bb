/**
 * A batch's name on the console: the file a person chose in this tab, else one read from where
 * the file is kept.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { batchName, forgetBatchNames, rememberBatchName } from '#console/page/batch-names.ts';

describe('batchName', () => {
  const id = `b_${'a'.repeat(40)}`;
  let items: Map<string, string>;

  beforeEach(() => {
    items = new Map();
    // The page runs in a browser: the tab's sessionStorage, as a map.
    (globalThis as { sessionStorage?: unknown }).sessionStorage = {
      getItem: (name: string) => items.get(name) ?? null,
      setItem: (name: string, value: string) => items.set(name, value),
      removeItem: (name: string) => items.delete(name),
    };
  });
  afterEach(() => {
    delete (globalThis as { sessionStorage?: unknown }).sessionStorage;
  });

  const sentThroughApi = { id, source: { bucket: 'in', key: `prompts/local/batches/${id}.jsonl` } };

  it('is the name of the file this tab sent, until sign out forgets it', () => {
    rememberBatchName(id, 'lines.jsonl');
    expect(batchName(sentThroughApi)).toBe('lines.jsonl');
    forgetBatchNames();
    expect(batchName(sentThroughApi)).toBe('a .jsonl file sent through the API');
  });

  it('is the path under the owner’s folder for a file put straight in the bucket', () => {
    const source = (key: string) => ({ id, source: { bucket: 'in', key } });
    expect(batchName(source('prompts/alice/nightly/garden.txt'))).toBe('nightly/garden.txt');
    expect(batchName(source('prompts/alice/garden.txt'))).toBe('garden.txt');
    expect(batchName(source('prompts/garden.txt'))).toBe('garden.txt');
  });

  it('keeps the newest names only, and reads a spoilt record as none', () => {
    for (let n = 0; n < 60; n++) rememberBatchName(`b_${String(n).padStart(40, '0')}`, `${n}.txt`);
    const kept = JSON.parse(items.get('spark-t2i.batchNames') ?? '{}') as Record<string, string>;
    expect(Object.keys(kept)).toHaveLength(50);
    expect(Object.values(kept)).toContain('59.txt');
    expect(Object.values(kept)).not.toContain('9.txt');
    items.set('spark-t2i.batchNames', '{not json');
    expect(batchName(sentThroughApi)).toBe('a .jsonl file sent through the API');
  });
});
