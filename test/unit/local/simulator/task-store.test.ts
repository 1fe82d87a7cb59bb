import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { type NewTask, TASK_LOG_FILE, TaskStore } from '#local/simulator/task-store.ts';
import type { GenerationRequest } from '#shared/request/schema.ts';

const request: GenerationRequest = {
  prompt: 'a red fox',
  use_pre_llm: true,
  seed: 5,
  width: 512,
  height: 512,
};
const completed = (durationMs: number): NewTask => ({
  request,
  durationMs,
  outcome: { status: 'completed', privateUrl: false },
});
const failed = (durationMs: number): NewTask => ({
  request,
  durationMs,
  outcome: { status: 'failed', code: 3001095, message: 'Internal generation error' },
});

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sim-store-'));
  dirs.push(dir);
  return dir;
}

describe('TaskStore counters', () => {
  it('counts a task in flight from creation until its completion time, then by outcome', async () => {
    const store = await TaskStore.open();
    const done = store.create(completed(1000)).task;
    store.create(failed(2000));
    const now = done.createdAt;

    expect(store.counters(now)).toEqual({
      tasksCreated: 2,
      tasksCompleted: 0,
      tasksFailed: 0,
      inFlight: 2,
      maxInFlight: 2,
    });
    expect(store.counters(now + 1000)).toMatchObject({ tasksCompleted: 1, inFlight: 1 });
    expect(store.counters(now + 5000)).toMatchObject({
      tasksCompleted: 1,
      tasksFailed: 1,
      inFlight: 0,
      maxInFlight: 2,
    });
  });

  it('answers the earliest unfinished completion, whatever the creation order', async () => {
    const store = await TaskStore.open();
    const late = store.create(completed(3000)).task;
    const early = store.create(completed(1000)).task;
    store.create(completed(2000));

    expect(store.earliestCompletion(late.createdAt)).toBe(early.completeAt);
    expect(store.earliestCompletion(late.createdAt + 10_000)).toBeUndefined();
  });

  it('never counts a zero-latency task as in flight', async () => {
    const store = await TaskStore.open();
    store.create(completed(0));

    expect(store.counters()).toMatchObject({ tasksCompleted: 1, inFlight: 0, maxInFlight: 0 });
  });

  it('zeroes the counters on reset but keeps running tasks, and restarts the peak from them', async () => {
    const store = await TaskStore.open();
    const first = store.create(completed(1000)).task;
    store.create(completed(1000));
    store.create(completed(0));
    store.resetCounters(first.createdAt);

    expect(store.counters(first.createdAt)).toEqual({
      tasksCreated: 0,
      tasksCompleted: 0,
      tasksFailed: 0,
      inFlight: 2,
      maxInFlight: 2,
    });
    expect(store.counters(first.createdAt + 2000)).toMatchObject({
      tasksCompleted: 2,
      inFlight: 0,
    });
  });
});

describe('TaskStore persistence', () => {
  it('reloads the tasks of its data dir, still in flight if they have not finished', async () => {
    const dataDir = await tempDir();
    const before = await TaskStore.open({ dataDir });
    const created = before.create(completed(60_000));
    await created.persisted;
    await before.close();

    const after = await TaskStore.open({ dataDir });

    expect(after.get(created.task.id)).toEqual(created.task);
    expect(after.counters()).toMatchObject({ tasksCreated: 0, inFlight: 1, maxInFlight: 1 });
    await after.close();
  });

  it('writes many concurrent creations as whole lines', async () => {
    const dataDir = await tempDir();
    const store = await TaskStore.open({ dataDir });
    const created = Array.from({ length: 300 }, () => store.create(completed(10)));
    await Promise.all(created.map((entry) => entry.persisted));
    await store.close();
    const lines = (await readFile(join(dataDir, TASK_LOG_FILE), 'utf8')).trim().split('\n');

    expect(lines).toHaveLength(300);
    expect(lines.map((line) => JSON.parse(line).id)).toEqual(created.map((entry) => entry.task.id));
  });

  it('skips a torn last line and foreign lines when reloading, and appends after them safely', async () => {
    const dataDir = await tempDir();
    const store = await TaskStore.open({ dataDir });
    const { task, persisted } = store.create(completed(5));
    await persisted;
    await store.close();
    await writeFile(join(dataDir, TASK_LOG_FILE), '{"not":"a task"}\n{"id":"torn', { flag: 'a' });
    await sleep(10);

    const reopened = await TaskStore.open({ dataDir });
    const next = reopened.create(completed(5));
    await next.persisted;
    await reopened.close();
    const third = await TaskStore.open({ dataDir });

    expect(reopened.get(task.id)?.id).toBe(task.id);
    expect(third.get(task.id)?.id).toBe(task.id);
    expect(third.get(next.task.id)).toEqual(next.task);
    await third.close();
  });
});
