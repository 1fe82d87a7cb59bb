import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PNG } from 'pngjs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  FAULT_KINDS,
  type FaultKind,
  type RunningSimulator,
  type SimulatorOptions,
  SimulatorOptionsError,
  startSimulator,
} from '#local/simulator/index.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';

// The simulator's own codes (090009xxx in the code table), as integers on the wire.
const SIM_UNSUPPORTED_MODEL = Number(ErrorCodes.SIM_UNSUPPORTED_MODEL);
const SIM_BODY_NOT_JSON = Number(ErrorCodes.SIM_BODY_NOT_JSON);
const SIM_UNAUTHORIZED = Number(ErrorCodes.SIM_UNAUTHORIZED);
const SIM_TASK_NOT_FOUND = Number(ErrorCodes.SIM_TASK_NOT_FOUND);
const SIM_NOT_FOUND = Number(ErrorCodes.SIM_NOT_FOUND);
const SIM_TOO_MANY_TASKS = Number(ErrorCodes.SIM_TOO_MANY_TASKS);
const SIM_METHOD_NOT_ALLOWED = Number(ErrorCodes.SIM_METHOD_NOT_ALLOWED);
const SIM_IMAGE_URL_EXPIRED = Number(ErrorCodes.SIM_IMAGE_URL_EXPIRED);

const KEY = 'test-key';
const MODEL = 'spark_t2i_3_0';
const SMALL = { width: 512, height: 512 };

interface PollBody {
  id: string;
  status: string;
  output?: { content: { type: string; url: string; size: number; jobId: string }[] }[];
  usage?: {
    cost: string;
    discount: number;
    input_tokens: number;
    output_tokens: number;
    total_tokens: number;
  };
  error?: { code: number; error_message: string };
}

/** Anything with a base URL: a simulator in this thread or in a worker thread. */
type Reachable = Pick<RunningSimulator, 'url'>;

const running: Pick<RunningSimulator, 'close'>[] = [];
const dirs: string[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((sim) => sim.close()));
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function simulator(options: SimulatorOptions = {}): Promise<RunningSimulator> {
  const sim = await startSimulator({ latencyMs: 100, ...options });
  running.push(sim);
  return sim;
}

function authHeaders(key = KEY): Record<string, string> {
  return { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
}

function createTask(
  sim: Reachable,
  body: unknown = { model: MODEL, prompt: 'a red fox', ...SMALL },
  headers: Record<string, string> = authHeaders(),
): Promise<Response> {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return fetch(`${sim.url}/v1/images/generations`, { method: 'POST', headers, body: text });
}

async function createId(sim: Reachable, body?: unknown): Promise<string> {
  const res = await createTask(sim, body);
  expect(res.status).toBe(200);
  return ((await res.json()) as { id: string }).id;
}

function pollTask(sim: Reachable, id: string, headers = authHeaders()): Promise<Response> {
  return fetch(`${sim.url}/v1/tasks/${encodeURIComponent(id)}`, { headers });
}

/** Polls every 10 ms until the task is terminal. */
async function waitForTerminal(sim: Reachable, id: string): Promise<PollBody> {
  for (;;) {
    const res = await pollTask(sim, id);
    const body = (await res.json()) as PollBody;
    if (body.status === 'completed' || body.status === 'failed') return body;
    await sleep(10);
  }
}

function imageOf(body: PollBody): { type: string; url: string; size: number; jobId: string } {
  const image = body.output?.[0]?.content[0];
  if (!image) throw new Error(`no image in ${JSON.stringify(body)}`);
  return image;
}

async function errorCode(res: Response): Promise<unknown> {
  return ((await res.json()) as { error: { code: unknown } }).error.code;
}

async function statsOf(sim: Reachable): Promise<Record<string, unknown>> {
  return (await (await fetch(`${sim.url}/__sim/stats`)).json()) as Record<string, unknown>;
}

describe('simulator auth', () => {
  it('answers 401 with code 90009003 to a create or poll without a Bearer key', async () => {
    const sim = await simulator();
    const id = await createId(sim);

    const create = await createTask(sim, undefined, { 'content-type': 'application/json' });
    const poll = await pollTask(sim, id, {});
    const basic = await pollTask(sim, id, { authorization: 'Basic dTpw' });

    expect(create.status).toBe(401);
    expect(await errorCode(create)).toBe(SIM_UNAUTHORIZED);
    expect(poll.status).toBe(401);
    expect(await errorCode(poll)).toBe(SIM_UNAUTHORIZED);
    expect(basic.status).toBe(401);
  });

  it('accepts only the configured key when one is set', async () => {
    const sim = await simulator({ apiKey: 'right' });

    const wrong = await createTask(sim, undefined, authHeaders('wrong'));
    const right = await createTask(sim, undefined, authHeaders('right'));
    const { id } = (await right.json()) as { id: string };
    const wrongPoll = await pollTask(sim, id, authHeaders('wrong'));

    expect(wrong.status).toBe(401);
    expect(await errorCode(wrong)).toBe(SIM_UNAUTHORIZED);
    expect(right.status).toBe(200);
    expect(wrongPoll.status).toBe(401);
  });

  it('needs no key for image URLs or /__sim/stats', async () => {
    const sim = await simulator({ apiKey: 'right', latencyMs: 20 });
    const id = await createTask(sim, undefined, authHeaders('right'))
      .then((res) => res.json() as Promise<{ id: string }>)
      .then((body) => body.id);
    await sleep(30);
    const body = (await (await pollTask(sim, id, authHeaders('right'))).json()) as PollBody;

    expect((await fetch(imageOf(body).url)).status).toBe(200);
    expect((await fetch(`${sim.url}/__sim/stats`)).status).toBe(200);
  });
});

describe('simulator create validation', () => {
  const valid = { model: MODEL, prompt: 'a red fox' };

  it.each([
    ['prompt is missing', { model: MODEL }, 3001001],
    ['prompt is null', { model: MODEL, prompt: null }, 3001001],
    ['prompt is empty', { ...valid, prompt: '   ' }, 3001002],
    ['prompt is not a string', { ...valid, prompt: 5 }, 3001002],
    ['prompt is over 800 characters', { ...valid, prompt: 'a'.repeat(801) }, 3001002],
    ['use_pre_llm is a string', { ...valid, use_pre_llm: 'yes' }, 3001003],
    ['seed is 0', { ...valid, seed: 0 }, 3001004],
    ['seed is fractional', { ...valid, seed: 1.5 }, 3001004],
    ['width is zero', { ...valid, width: 0, height: 512 }, 3001005],
    ['the aspect ratio is 4:1', { ...valid, width: 2048, height: 512 }, 3001006],
    ['only width is given', { ...valid, width: 1024 }, 3001007],
    ['width is not an integer', { ...valid, width: 512.5, height: 512 }, 3001008],
    ['the image is under 512x512 pixels', { ...valid, width: 256, height: 256 }, 3001009],
    ['a field is unknown', { ...valid, steps: 30 }, 90001002],
    ['the body is a JSON array', [valid], 90001001],
    ['model is missing', { prompt: 'a red fox' }, SIM_UNSUPPORTED_MODEL],
    ['model is another model', { ...valid, model: 'spark_t2i_2_0' }, SIM_UNSUPPORTED_MODEL],
    ['the body is not JSON', '{"model":', SIM_BODY_NOT_JSON],
    ['the body is empty', '', SIM_BODY_NOT_JSON],
  ])('answers 400 with the integer code when %s', async (_name, body, code) => {
    const sim = await simulator();

    const res = await createTask(sim, body);
    const answer = (await res.json()) as { error: { code: unknown; error_message: unknown } };

    expect(res.status).toBe(400);
    expect(answer.error.code).toBe(code);
    expect(typeof answer.error.error_message).toBe('string');
  });

  it('checks the model before the request rules', async () => {
    const sim = await simulator();

    const res = await createTask(sim, { model: 'other' });

    expect(await errorCode(res)).toBe(SIM_UNSUPPORTED_MODEL);
  });

  it('answers 413 to a body over 1 MiB', async () => {
    const sim = await simulator();

    const res = await createTask(sim, { ...valid, prompt: 'a'.repeat(1_100_000) });

    expect(res.status).toBe(413);
    expect(await errorCode(res)).toBe(SIM_BODY_NOT_JSON);
  });
});

describe('simulator task life', () => {
  it('answers a task id, reports it unfinished, then completed after the latency with a real PNG', async () => {
    const sim = await simulator({ latencyMs: 200 });
    const started = Date.now();

    const res = await createTask(sim, {
      model: MODEL,
      prompt: 'a red fox',
      width: 640,
      height: 512,
    });
    const created = (await res.json()) as { id: string; status: string };
    const early = (await (await pollTask(sim, created.id)).json()) as PollBody;
    await sleep(200 - (Date.now() - started) - 40);
    const late = (await (await pollTask(sim, created.id)).json()) as PollBody;
    const done = await waitForTerminal(sim, created.id);
    const image = imageOf(done);
    const download = await fetch(image.url);
    const bytes = Buffer.from(await download.arrayBuffer());
    const png = PNG.sync.read(bytes);

    expect(res.status).toBe(200);
    expect(created.status).toBe('queued');
    expect(early).toEqual({ id: created.id, status: expect.stringMatching(/^(queued|running)$/) });
    expect(late.status).toBe('running');
    expect(Date.now() - started).toBeGreaterThanOrEqual(195);
    expect(done.status).toBe('completed');
    expect(image.type).toBe('image');
    expect(image.jobId).toEqual(expect.any(String));
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('image/png');
    expect(Number(download.headers.get('content-length'))).toBe(image.size);
    expect(bytes.length).toBe(image.size);
    expect([png.width, png.height]).toEqual([640, 512]);
  });

  it('fills usage with plausible figures and a decimal cost string', async () => {
    const sim = await simulator({ latencyMs: 10 });
    const id = await createId(sim);

    const { usage } = await waitForTerminal(sim, id);

    expect(usage?.cost).toMatch(/^\d+\.\d+$/);
    expect(usage?.discount).toBe(0);
    expect(usage?.input_tokens).toBeGreaterThan(0);
    expect(usage?.output_tokens).toBeGreaterThan(0);
    expect(usage?.total_tokens).toBe((usage?.input_tokens ?? 0) + (usage?.output_tokens ?? 0));
  });

  it('serves the same bytes for the same prompt and positive seed, and other bytes for seed -1', async () => {
    const sim = await simulator({ latencyMs: 10 });
    const body = { model: MODEL, prompt: 'a red fox', seed: 77, ...SMALL };
    const random = { ...body, seed: -1 };
    const ids = await Promise.all([body, body, random, random].map((b) => createId(sim, b)));
    const images = await Promise.all(
      ids.map(async (id) => {
        const url = imageOf(await waitForTerminal(sim, id)).url;
        return Buffer.from(await (await fetch(url)).arrayBuffer());
      }),
    );
    const again = Buffer.from(
      await (await fetch(imageOf(await waitForTerminal(sim, ids[2] as string)).url)).arrayBuffer(),
    );

    expect(images[1]?.equals(images[0] as Buffer)).toBe(true);
    expect(images[3]?.equals(images[2] as Buffer)).toBe(false);
    expect(again.equals(images[2] as Buffer)).toBe(true);
  });

  it('answers 404 with code 90009004 for an unknown task id', async () => {
    const sim = await simulator();

    const res = await pollTask(sim, 'no-such-task');

    expect(res.status).toBe(404);
    expect(await errorCode(res)).toBe(SIM_TASK_NOT_FOUND);
  });

  it('keeps every task within latency ± jitter', async () => {
    const sim = await simulator({ latencyMs: 300, jitterMs: 150 });

    // Each task's duration is bracketed from the client's side: it is longer than (last
    // unfinished poll sent - create answered) and at most (completed poll seen - create sent).
    // A slow machine only widens the brackets, so the checks below never fail spuriously.
    const brackets = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const sent = Date.now();
        const id = await createId(sim);
        const answered = Date.now();
        let lastPendingSent = answered;
        for (;;) {
          const pollSent = Date.now();
          const body = (await (await pollTask(sim, id)).json()) as PollBody;
          if (body.status === 'completed') {
            return { longerThan: lastPendingSent - answered, atMost: Date.now() - sent };
          }
          lastPendingSent = pollSent;
          await sleep(5);
        }
      }),
    );

    for (const { longerThan, atMost } of brackets) {
      expect(longerThan).toBeLessThan(450);
      expect(atMost).toBeGreaterThanOrEqual(150);
    }
    // Jitter really spreads them: some task provably took longer than another.
    const longest = Math.max(...brackets.map((bracket) => bracket.longerThan));
    const shortest = Math.min(...brackets.map((bracket) => bracket.atMost));
    expect(longest).toBeGreaterThan(shortest);
  });
});

describe('simulator task times', () => {
  it('tells when a task was created and when it turns terminal, without auth', async () => {
    const sim = await simulator({ latencyMs: 1500 });
    const id = await createId(sim);

    const running = await fetch(`${sim.url}/__sim/tasks/${id}`);
    const times = (await running.json()) as Record<string, unknown>;
    await sleep(Number(times.completeAtMs) - Date.now() + 50);
    const done = (await (await fetch(`${sim.url}/__sim/tasks/${id}`)).json()) as {
      status: string;
    };

    expect(running.status).toBe(200);
    expect(times).toMatchObject({ id, status: 'running' });
    expect(Number(times.completeAtMs) - Number(times.createdAtMs)).toBe(1500);
    expect(Date.parse(String(times.completeAt))).toBe(times.completeAtMs);
    expect(done.status).toBe('completed');
  });

  it('answers 404 for a task it does not know', async () => {
    const sim = await simulator();
    const res = await fetch(`${sim.url}/__sim/tasks/no-such-task`);
    expect(res.status).toBe(404);
    expect(await errorCode(res)).toBe(SIM_TASK_NOT_FOUND);
  });
});

describe('simulator journal and task records', () => {
  interface TaskRecord {
    id: string;
    request: { prompt: string };
    outcome: { status: string; privateUrl?: boolean; code?: number };
    faults: Partial<Record<FaultKind, number>>;
    images: Array<{ index: number; size: number; sha256: string }>;
  }
  interface Entry {
    request: string;
    status: number;
    faults: FaultKind[];
    taskId?: string;
    prompt?: string;
    refusal?: string;
    taskStatus?: string;
  }
  const journalOf = async (sim: Reachable) =>
    ((await (await fetch(`${sim.url}/__sim/requests`)).json()) as { requests: Entry[] }).requests;
  const recordOf = async (sim: Reachable, id: string) =>
    (await (await fetch(`${sim.url}/__sim/tasks/${id}`)).json()) as TaskRecord;

  it('records the SHA-256 of the image a completed task serves', async () => {
    const sim = await simulator({ latencyMs: 10 });
    const id = await createId(sim, { model: MODEL, prompt: 'a heron', seed: 7, ...SMALL });
    const served = Buffer.from(
      await (await fetch(imageOf(await waitForTerminal(sim, id)).url)).arrayBuffer(),
    );

    const record = await recordOf(sim, id);
    expect(record).toMatchObject({
      id,
      request: { prompt: 'a heron', seed: 7 },
      outcome: { status: 'completed', privateUrl: false },
      faults: {},
    });
    expect(record.images).toEqual([
      { index: 0, size: served.length, sha256: createHash('sha256').update(served).digest('hex') },
    ]);
  });

  it('journals each answer with the faults put into it, and tells them per task', async () => {
    const sim = await simulator({ latencyMs: 10, faults: { poll5xx: 1, taskFailed: 1 } });
    const id = await createId(sim, { model: MODEL, prompt: 'a doomed task', ...SMALL });
    expect((await pollTask(sim, id)).status).toBe(503);
    expect((await pollTask(sim, id)).status).toBe(503);

    const journal = await journalOf(sim);
    const record = await recordOf(sim, id);
    expect(journal).toEqual([
      expect.objectContaining({
        request: 'create',
        status: 200,
        prompt: 'a doomed task',
        taskId: id,
        faults: ['taskFailed'],
      }),
      expect.objectContaining({ request: 'poll', status: 503, taskId: id, faults: ['poll5xx'] }),
      expect.objectContaining({ request: 'poll', status: 503, taskId: id, faults: ['poll5xx'] }),
    ]);
    expect(record.faults).toEqual({ taskFailed: 1, poll5xx: 2 });
    expect(record.outcome.status).toBe('failed');
    expect(record.images).toEqual([]);
  });

  it('journals refused creates by their prompt, with no task', async () => {
    const sim = await simulator({ latencyMs: 10, faults: { create429: 1 } });
    expect((await createTask(sim, { model: MODEL, prompt: 'refused', ...SMALL })).status).toBe(429);
    expect((await createTask(sim, { model: 'other', prompt: 'invalid', ...SMALL })).status).toBe(
      400,
    );

    expect(await journalOf(sim)).toEqual([
      expect.objectContaining({ request: 'create', status: 429, prompt: 'refused' }),
      expect.objectContaining({ request: 'create', status: 400, refusal: 'rejected' }),
    ]);
    expect((await journalOf(sim))[0]).toMatchObject({ faults: ['create429'] });
    expect((await journalOf(sim))[0]?.taskId).toBeUndefined();
  });

  it('journals a slow create with its task before holding the answer', async () => {
    const sim = await simulator({ latencyMs: 10, faults: { slow: 1 }, slowMs: 60_000 });
    const pending = createTask(sim, { model: MODEL, prompt: 'lost answer', ...SMALL }).catch(
      () => undefined,
    );
    let entries: Entry[] = [];
    for (let tries = 0; entries.length === 0 && tries < 200; tries++) {
      await sleep(10);
      entries = await journalOf(sim);
    }
    await sim.close();
    await pending;

    expect(entries).toEqual([
      expect.objectContaining({ request: 'create', prompt: 'lost answer', faults: ['slow'] }),
    ]);
    expect(entries[0]?.taskId).toEqual(expect.any(String));
  });

  it('lists every task, and keeps the journal across a restart on the same data dir', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'sim-journal-'));
    dirs.push(dataDir);
    const first = await startSimulator({ latencyMs: 10, dataDir, faults: { privateUrl: 1 } });
    const id = await createId(first, { model: MODEL, prompt: 'before', ...SMALL });
    await first.close();

    const second = await simulator({ latencyMs: 10, dataDir });
    const other = await createId(second, { model: MODEL, prompt: 'after', ...SMALL });
    const { tasks } = (await (await fetch(`${second.url}/__sim/tasks`)).json()) as {
      tasks: TaskRecord[];
    };

    expect(tasks.map((task) => [task.id, task.request.prompt, task.faults])).toEqual([
      [id, 'before', { privateUrl: 1 }],
      [other, 'after', {}],
    ]);
    expect(tasks[0]?.outcome).toEqual({ status: 'completed', privateUrl: true });
    expect((await journalOf(second)).map((entry) => entry.prompt)).toEqual(['before', 'after']);
  });
});

describe('simulator image URLs', () => {
  it('answers 403 once the URL is older than url-ttl-s past completion, and for a bad signature', async () => {
    const sim = await simulator({ latencyMs: 10, urlTtlS: 1 });
    const { url } = imageOf(await waitForTerminal(sim, await createId(sim)));
    // The task completed before it was seen completed: its URL has expired 1 s after that.
    const seenCompletedAt = Date.now();
    const tampered = url.replace(/sig=[^&]+/, 'sig=AAAA');

    const fresh = await fetch(url);
    const badSignature = await fetch(tampered);
    await sleep(seenCompletedAt + 1000 - Date.now() + 20);
    const expired = await fetch(url);

    expect(fresh.status).toBe(200);
    expect(badSignature.status).toBe(403);
    expect(await errorCode(badSignature)).toBe(SIM_IMAGE_URL_EXPIRED);
    expect(expired.status).toBe(403);
    expect(await errorCode(expired)).toBe(SIM_IMAGE_URL_EXPIRED);
  });

  it('answers HEAD with the PNG headers and no body', async () => {
    const sim = await simulator({ latencyMs: 10 });
    const image = imageOf(await waitForTerminal(sim, await createId(sim)));

    const head = await fetch(image.url, { method: 'HEAD' });

    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBe(image.size);
  });

  it('pads images to imagePadBytes and reports the padded size', async () => {
    const sim = await simulator({ latencyMs: 10, imagePadBytes: 3_000_000 });
    const image = imageOf(await waitForTerminal(sim, await createId(sim)));

    const bytes = Buffer.from(await (await fetch(image.url)).arrayBuffer());

    expect(image.size).toBe(3_000_000);
    expect(bytes.length).toBe(3_000_000);
    expect(PNG.sync.read(bytes).width).toBe(512);
  });
});

describe('simulator stats', () => {
  it('counts every request, refused ones included, and every task', async () => {
    const sim = await simulator({ latencyMs: 30, apiKey: KEY });
    const id = await createId(sim);
    await createTask(sim, undefined, {});
    await createTask(sim, { model: MODEL });
    await pollTask(sim, id, {});
    await pollTask(sim, 'unknown');
    const done = await waitForTerminal(sim, id);
    await fetch(imageOf(done).url);
    await fetch(imageOf(done).url.replace(/sig=[^&]+/, 'sig=x'));

    const stats = await statsOf(sim);

    expect(stats).toEqual({
      tasksCreated: 1,
      tasksCompleted: 1,
      tasksFailed: 0,
      inFlight: 0,
      maxInFlight: 1,
      requests: { create: 3, poll: expect.any(Number), image: 2 },
      faults: Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])),
    });
    expect((stats.requests as { poll: number }).poll).toBeGreaterThanOrEqual(3);
    expect(sim.stats()).toEqual(stats);
  });

  it('zeroes the counters on reset while running tasks keep running', async () => {
    const sim = await simulator({ latencyMs: 300 });
    const ids = await Promise.all([1, 2, 3].map(() => createId(sim)));

    const reset = await fetch(`${sim.url}/__sim/reset`, { method: 'POST' });
    const afterReset = await statsOf(sim);
    await Promise.all(ids.map((id) => waitForTerminal(sim, id)));
    const later = await statsOf(sim);

    expect(reset.status).toBe(200);
    expect(afterReset).toMatchObject({
      tasksCreated: 0,
      tasksCompleted: 0,
      tasksFailed: 0,
      inFlight: 3,
      maxInFlight: 3,
      requests: { create: 0, poll: 0, image: 0 },
    });
    expect(later).toMatchObject({
      tasksCreated: 0,
      tasksCompleted: 3,
      inFlight: 0,
      maxInFlight: 3,
    });
  });

  it('answers 404 with code 90009005 for an unknown route and 405 for a wrong method', async () => {
    const sim = await simulator();

    const unknown = await fetch(`${sim.url}/v2/whatever`);
    const getCreate = await fetch(`${sim.url}/v1/images/generations`, { headers: authHeaders() });
    const postStats = await fetch(`${sim.url}/__sim/stats`, { method: 'POST' });

    expect(unknown.status).toBe(404);
    expect(await errorCode(unknown)).toBe(SIM_NOT_FOUND);
    expect(getCreate.status).toBe(405);
    expect(getCreate.headers.get('allow')).toBe('POST');
    expect(await errorCode(getCreate)).toBe(SIM_METHOD_NOT_ALLOWED);
    expect(postStats.status).toBe(405);
  });
});

describe('simulator max-concurrent', () => {
  it('answers 429 with Retry-After past N unfinished tasks and never lets more than N run', async () => {
    const sim = await simulator({ latencyMs: 1500, maxConcurrent: 3 });

    const answers = await Promise.all(Array.from({ length: 6 }, () => createTask(sim)));
    const refused = answers.filter((res) => res.status === 429);
    const afterwards = await statsOf(sim);

    expect(answers.filter((res) => res.status === 200)).toHaveLength(3);
    expect(refused).toHaveLength(3);
    for (const res of refused) {
      expect(res.headers.get('retry-after')).toMatch(/^[12]$/);
      expect(await errorCode(res)).toBe(SIM_TOO_MANY_TASKS);
    }
    expect(afterwards).toMatchObject({ tasksCreated: 3, inFlight: 3, maxInFlight: 3 });
    expect((afterwards.requests as { create: number }).create).toBe(6);
  });

  it('accepts new tasks again once the running ones finish', async () => {
    const sim = await simulator({ latencyMs: 100, maxConcurrent: 1 });
    const first = await createId(sim);

    const refused = await createTask(sim);
    await waitForTerminal(sim, first);
    const accepted = await createTask(sim);

    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(accepted.status).toBe(200);
    expect((await statsOf(sim)).maxInFlight).toBe(1);
  });
});

describe('simulator faults at rate 1', () => {
  const withFault = (kind: FaultKind, extra: SimulatorOptions = {}) =>
    simulator({ latencyMs: 10, faults: { [kind]: 1 }, ...extra });

  async function faultCount(sim: RunningSimulator, kind: FaultKind): Promise<number> {
    return ((await statsOf(sim)).faults as Record<FaultKind, number>)[kind];
  }

  it('create5xx answers 503 and creates no task', async () => {
    const sim = await withFault('create5xx');

    const res = await createTask(sim);

    expect(res.status).toBe(503);
    expect(await errorCode(res)).toEqual(expect.any(Number));
    expect((await statsOf(sim)).tasksCreated).toBe(0);
    expect(await faultCount(sim, 'create5xx')).toBe(1);
  });

  it('create429 answers 429 with Retry-After: 1 and creates no task', async () => {
    const sim = await withFault('create429');

    const res = await createTask(sim);

    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('1');
    expect((await statsOf(sim)).tasksCreated).toBe(0);
    expect(await faultCount(sim, 'create429')).toBe(1);
  });

  it('poll5xx answers 503', async () => {
    const sim = await withFault('poll5xx');
    const id = await createId(sim);

    const res = await pollTask(sim, id);

    expect(res.status).toBe(503);
    expect(await faultCount(sim, 'poll5xx')).toBe(1);
  });

  it('poll429 answers 429 with Retry-After', async () => {
    const sim = await withFault('poll429');
    const id = await createId(sim);

    const res = await pollTask(sim, id);

    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await faultCount(sim, 'poll429')).toBe(1);
  });

  it('pollMalformed answers a 200 whose body does not parse', async () => {
    const sim = await withFault('pollMalformed');
    const id = await createId(sim);
    await sleep(20);

    const res = await pollTask(sim, id);
    const text = await res.text();

    expect(res.status).toBe(200);
    expect(() => JSON.parse(text)).toThrow();
    expect(await faultCount(sim, 'pollMalformed')).toBe(1);
  });

  it('taskFailed ends the task failed with the provider code 3001095', async () => {
    const sim = await withFault('taskFailed');
    const id = await createId(sim);

    const body = await waitForTerminal(sim, id);
    const stats = await statsOf(sim);

    expect(body).toEqual({
      id,
      status: 'failed',
      error: { code: 3001095, error_message: 'Internal generation error' },
    });
    expect(stats).toMatchObject({ tasksFailed: 1, tasksCompleted: 0 });
    expect(await faultCount(sim, 'taskFailed')).toBe(1);
  });

  it('image404 answers 404 for a valid image URL', async () => {
    const sim = await withFault('image404');
    const { url } = imageOf(await waitForTerminal(sim, await createId(sim)));

    const res = await fetch(url);

    expect(res.status).toBe(404);
    expect(await faultCount(sim, 'image404')).toBe(1);
  });

  it('imageTruncated promises the full Content-Length and delivers fewer bytes', async () => {
    const sim = await withFault('imageTruncated');
    const { url, size } = imageOf(await waitForTerminal(sim, await createId(sim)));

    const received = await download(url);

    expect(received.contentLength).toBe(size);
    expect(received.bytes).toBeGreaterThan(0);
    expect(received.bytes).toBeLessThan(size);
    expect(received.aborted).toBe(true);
    await expect(fetch(url).then((res) => res.arrayBuffer())).rejects.toThrow();
    expect(await faultCount(sim, 'imageTruncated')).toBe(2);
  });

  it('privateUrl points the completed task at a link-local or private address', async () => {
    const sim = await withFault('privateUrl');

    const { url } = imageOf(await waitForTerminal(sim, await createId(sim)));

    expect(new URL(url).hostname).toMatch(/^(169\.254\.|10\.)/);
    expect(await faultCount(sim, 'privateUrl')).toBe(1);
  });

  it('slow on create creates the task but holds the answer for slowMs', async () => {
    const sim = await withFault('slow', { slowMs: 400 });

    const started = Date.now();
    const gaveUp = await createTask(sim, undefined, authHeaders())
      .then(() => 'answered')
      .catch(() => 'gave up');
    const elapsed = Date.now() - started;

    expect(gaveUp).toBe('answered');
    expect(elapsed).toBeGreaterThanOrEqual(390);
    expect((await statsOf(sim)).tasksCreated).toBe(1);
    expect(await faultCount(sim, 'slow')).toBe(1);
  });

  it('slow on create still creates the task when the client times out', async () => {
    const sim = await withFault('slow', { slowMs: 10_000 });

    const attempt = fetch(`${sim.url}/v1/images/generations`, {
      method: 'POST',
      headers: authHeaders(),
      body: JSON.stringify({ model: MODEL, prompt: 'a red fox', ...SMALL }),
      signal: AbortSignal.timeout(100),
    });

    await expect(attempt).rejects.toThrow();
    expect((await statsOf(sim)).tasksCreated).toBe(1);
  });

  it('slow delays polls and image downloads by slowMs', async () => {
    const sim = await withFault('slow', { slowMs: 300 });
    const id = await createId(sim);

    const pollStarted = Date.now();
    const body = (await (await pollTask(sim, id)).json()) as PollBody;
    const pollElapsed = Date.now() - pollStarted;
    const imageStarted = Date.now();
    const image = await fetch(imageOf(body).url);
    await image.arrayBuffer();
    const imageElapsed = Date.now() - imageStarted;

    expect(pollElapsed).toBeGreaterThanOrEqual(290);
    expect(imageElapsed).toBeGreaterThanOrEqual(290);
    expect(image.status).toBe(200);
    expect(await faultCount(sim, 'slow')).toBe(3);
  });

  it('closes promptly while a slow answer and keep-alive sockets are open', async () => {
    const sim = await startSimulator({ latencyMs: 10, faults: { slow: 1 }, slowMs: 60_000 });
    const pending = createTask(sim).catch(() => 'dropped');
    await sleep(50);

    const started = Date.now();
    await sim.close();

    expect(Date.now() - started).toBeLessThan(1000);
    expect(await pending).toBe('dropped');
  });
});

describe('simulator options', () => {
  it('serves the create and task routes on configured paths', async () => {
    const sim = await simulator({ createPath: '/api/create', taskPath: '/api/tasks/{id}/status' });
    const headers = authHeaders();
    const body = JSON.stringify({ model: MODEL, prompt: 'a red fox', ...SMALL });

    const created = await fetch(`${sim.url}/api/create`, { method: 'POST', headers, body });
    const { id } = (await created.json()) as { id: string };
    const polled = await fetch(`${sim.url}/api/tasks/${id}/status`, { headers });
    const defaultPath = await createTask(sim);

    expect(created.status).toBe(200);
    expect(((await polled.json()) as PollBody).id).toBe(id);
    expect(defaultPath.status).toBe(404);
  });

  it.each([
    ['a negative latency', { latencyMs: -1 }],
    ['a task path without {id}', { taskPath: '/v1/tasks' }],
    ['a create path without a leading slash', { createPath: 'v1/create' }],
    ['a fractional max-concurrent', { maxConcurrent: 1.5 }],
    ['an empty API key', { apiKey: ' ' }],
  ])('refuses %s with SimulatorOptionsError', async (_name, options) => {
    await expect(startSimulator(options)).rejects.toThrow(SimulatorOptionsError);
  });
});

describe('simulator persistence', () => {
  it('answers polls and image URLs for tasks it created before a restart on the same data dir', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'sim-data-'));
    dirs.push(dataDir);
    const first = await startSimulator({ latencyMs: 300, dataDir });
    const finished = imageOf(await waitForTerminal(first, await createId(first)));
    const stillRunning = await createId(first, { model: MODEL, prompt: 'slow one', ...SMALL });
    await first.close();

    const second = await simulator({ latencyMs: 10, dataDir });
    const atRestart = await statsOf(second);
    const body = await waitForTerminal(second, stillRunning);
    // The earlier URL carries the old port; its signature must still hold on the new one.
    const image = await fetch(finished.url.replace(first.url, second.url));

    expect(body.status).toBe('completed');
    expect(image.status).toBe(200);
    expect(Number(image.headers.get('content-length'))).toBe(finished.size);
    expect(atRestart).toMatchObject({ tasksCreated: 0, inFlight: 1, maxInFlight: 1 });
  });
});

describe('simulator under load', () => {
  it('completes 500 concurrent tasks on time: the first poll after the latency sees each completed', async () => {
    // The default latency: its 10% allowance leaves room for a busy CI machine.
    const latencyMs = 3000;
    const sim = await simulator({ latencyMs });

    const results = await Promise.all(
      Array.from({ length: 500 }, async (_, index) => {
        const res = await createTask(sim, { model: MODEL, prompt: `prompt ${index}`, ...SMALL });
        const { id } = (await res.json()) as { id: string };
        const answered = Date.now();
        // A few ms past the latency: a timer may fire a millisecond before Date.now() says it
        // is due, and a poll that early would rightly see the task running.
        await sleep(answered + latencyMs + 5 - Date.now());
        const body = (await (await pollTask(sim, id)).json()) as PollBody;
        return { id, status: body.status, size: imageOf(body).size };
      }),
    );
    const stats = await statsOf(sim);

    expect(results.every((result) => result.status === 'completed')).toBe(true);
    expect(results.every((result) => result.size > 0)).toBe(true);
    // On time by the simulator's own clock: each task ends its latency after it was created,
    // however busy the machine (the client's own lateness is the machine's, not the simulator's).
    const durations = await Promise.all(
      results.map(async ({ id }) => {
        const times = (await (await fetch(`${sim.url}/__sim/tasks/${id}`)).json()) as {
          createdAtMs: number;
          completeAtMs: number;
        };
        return times.completeAtMs - times.createdAtMs;
      }),
    );
    expect(Math.min(...durations)).toBeGreaterThanOrEqual(latencyMs);
    expect(Math.max(...durations)).toBeLessThanOrEqual(latencyMs * 1.1);
    expect(stats).toMatchObject({ tasksCreated: 500, tasksCompleted: 500, inFlight: 0 });
    expect(stats.maxInFlight).toBeLessThanOrEqual(500);
    expect(stats.requests).toEqual({ create: 500, poll: 500, image: 0 });
  }, 60_000);
});

/** Downloads with node:http to see exactly how many bytes arrive before the connection drops. */
function download(
  url: string,
): Promise<{ contentLength: number; bytes: number; aborted: boolean }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      res.on('close', () => {
        const contentLength = Number(res.headers['content-length']);
        resolve({ contentLength, bytes, aborted: !res.complete });
      });
    });
    req.on('error', reject);
    req.end();
  });
}
