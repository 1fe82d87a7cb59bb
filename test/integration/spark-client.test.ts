import { createServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RunningSimulator, startSimulator } from '#local/simulator/index.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';
import { REQUEST_DEFAULTS } from '#shared/request/schema.ts';
import { SparkClient, type TaskSnapshot } from '#shared/spark/client.ts';
import {
  SparkAuthError,
  SparkError,
  SparkHttpError,
  SparkNetworkError,
  SparkRejectedError,
  SparkResponseParseError,
  SparkServerError,
  SparkThrottledError,
  SparkTimeoutError,
} from '#shared/spark/errors.ts';
import { type ScriptedServer, startScriptedServer } from '../helpers/scripted-server.ts';

const API_KEY = 'sim-key';
const request = { ...REQUEST_DEFAULTS, prompt: 'a lighthouse at dawn', width: 512, height: 512 };

async function pollUntilDone(client: SparkClient, taskId: string): Promise<TaskSnapshot> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const snapshot = await client.getTask(taskId);
    if (snapshot.state !== 'pending') return snapshot;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`task ${taskId} did not finish`);
}

async function caught(promise: Promise<unknown>): Promise<SparkError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(SparkError);
  return error as SparkError;
}

const simulators: RunningSimulator[] = [];
async function simulatorWith(options: Parameters<typeof startSimulator>[0] = {}) {
  const simulator = await startSimulator({ latencyMs: 50, apiKey: API_KEY, ...options });
  simulators.push(simulator);
  const client = new SparkClient({ baseUrl: simulator.url, apiKey: API_KEY, timeoutMs: 2000 });
  return { simulator, client };
}

afterEach(async () => {
  await Promise.all(simulators.splice(0).map((simulator) => simulator.close()));
});

describe('SparkClient against the simulator', () => {
  it('creates a task and polls it to completed with images, usage and cost', async () => {
    const { client } = await simulatorWith();

    const created = await client.createTask(request);
    const done = await pollUntilDone(client, created.taskId);

    expect(created.taskId).toMatch(/\S/);
    expect(done.state).toBe('completed');
    if (done.state !== 'completed') return;
    expect(done.taskId).toBe(created.taskId);
    expect(done.images).toHaveLength(1);
    const [image] = done.images;
    expect(image?.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
    expect(image?.size).toBeGreaterThan(0);
    expect(typeof done.costUsd).toBe('number');
    expect(done.costUsd).toBe(Number(done.usage?.cost));
    const png = await fetch(image?.url as string);
    expect((await png.arrayBuffer()).byteLength).toBe(image?.size);
  });

  it('reports a task still running as pending', async () => {
    const { client } = await simulatorWith({ latencyMs: 5000 });
    const created = await client.createTask(request);
    expect((await client.getTask(created.taskId)).state).toBe('pending');
  });

  it('takes the API key from a function (as from Secrets Manager)', async () => {
    const { simulator } = await simulatorWith();
    const client = new SparkClient({ baseUrl: simulator.url, apiKey: async () => API_KEY });
    await expect(client.createTask(request)).resolves.toHaveProperty('taskId');
  });

  it('raises SparkAuthError, not retryable, for a wrong key', async () => {
    const { simulator } = await simulatorWith();
    const client = new SparkClient({ baseUrl: simulator.url, apiKey: 'wrong' });
    const error = await caught(client.createTask(request));
    expect(error).toBeInstanceOf(SparkAuthError);
    expect(error.retryable).toBe(false);
    expect(error.httpStatus).toBe(401);
    expect(error.message).not.toContain('wrong');
  });

  it('raises SparkRejectedError with the 9-digit code for a request the provider refuses', async () => {
    const { client } = await simulatorWith();
    const error = await caught(client.createTask({ ...request, width: 100, height: 100 }));
    expect(error).toBeInstanceOf(SparkRejectedError);
    expect(error.code).toBe(ErrorCodes.SIZE_OUT_OF_RANGE);
    expect(error.retryable).toBe(false);
  });

  it.each([
    ['create5xx', 'create', SparkServerError, ErrorCodes.HTTP_ERROR_RESPONSE],
    ['create429', 'create', SparkThrottledError, ErrorCodes.PROVIDER_THROTTLED],
    ['poll5xx', 'poll', SparkServerError, ErrorCodes.HTTP_ERROR_RESPONSE],
    ['poll429', 'poll', SparkThrottledError, ErrorCodes.PROVIDER_THROTTLED],
    ['pollMalformed', 'poll', SparkResponseParseError, ErrorCodes.RESULT_PARSING_ERROR],
  ] as const)(
    'raises a retryable typed error for the %s fault',
    async (fault, operation, type, code) => {
      const { client } = await simulatorWith({ faults: { [fault]: 1 } });

      // Poll faults leave create alone, so the faulty simulator creates the task to poll.
      const call =
        operation === 'create'
          ? client.createTask(request)
          : client.createTask(request).then(({ taskId }) => client.getTask(taskId));
      const error = await caught(call);

      expect(error).toBeInstanceOf(type);
      expect(error.code).toBe(code);
      expect(error.retryable).toBe(true);
      expect(error.operation).toBe(operation);
      if (error instanceof SparkThrottledError) {
        expect(error.retryAfterSeconds).toBeGreaterThanOrEqual(1);
      }
    },
  );

  it('returns a failed snapshot with the provider code for the taskFailed fault', async () => {
    const { client } = await simulatorWith({ faults: { taskFailed: 1 } });
    const created = await client.createTask(request);
    const done = await pollUntilDone(client, created.taskId);
    expect(done.state).toBe('failed');
    if (done.state !== 'failed') return;
    expect(done.error.code).toMatch(/^\d{9}$/);
    expect(done.error.message).not.toBe('');
  });

  it('passes a private image URL through untouched for the copy step to refuse (privateUrl fault)', async () => {
    const { client } = await simulatorWith({ faults: { privateUrl: 1 } });
    const done = await pollUntilDone(client, (await client.createTask(request)).taskId);
    expect(done.state === 'completed' && new URL(done.images[0]?.url ?? '').hostname).toMatch(
      /^(169\.254\.|10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.)/,
    );
  });

  it('raises SparkTimeoutError when the provider is slower than the timeout (slow fault)', async () => {
    const { simulator } = await simulatorWith({ faults: { slow: 1 }, slowMs: 5000 });
    const client = new SparkClient({ baseUrl: simulator.url, apiKey: API_KEY, timeoutMs: 150 });
    const error = await caught(client.createTask(request));
    expect(error).toBeInstanceOf(SparkTimeoutError);
    expect(error.code).toBe(ErrorCodes.PROVIDER_TIMEOUT);
    expect(error.retryable).toBe(true);
  });

  it('passes the caller abort through as an AbortError, not a timeout', async () => {
    const { simulator } = await simulatorWith({ faults: { slow: 1 }, slowMs: 5000 });
    const client = new SparkClient({ baseUrl: simulator.url, apiKey: API_KEY, timeoutMs: 4000 });
    const error = await client
      .createTask(request, { signal: AbortSignal.abort() })
      .catch((reason: unknown) => reason);
    expect((error as Error).name).toBe('AbortError');
  });

  it('raises SparkHttpError with 003001098 when polling a task the provider does not know', async () => {
    const { client } = await simulatorWith();
    const error = await caught(client.getTask('no-such-task'));
    expect(error).toBeInstanceOf(SparkHttpError);
    expect(error.code).toBe(ErrorCodes.STATUS_CHECK_ERROR);
    expect(error.retryable).toBe(false);
  });
});

describe('SparkClient transport failures', () => {
  it('raises SparkNetworkError, retryable, when nothing listens', async () => {
    const port = await freePort();
    const client = new SparkClient({ baseUrl: `http://127.0.0.1:${port}`, apiKey: API_KEY });
    const error = await caught(client.createTask(request));
    expect(error).toBeInstanceOf(SparkNetworkError);
    expect(error.retryable).toBe(true);
  });

  it('refuses a task path without {id}', () => {
    expect(
      () => new SparkClient({ baseUrl: 'http://127.0.0.1:1', apiKey: 'k', taskPath: '/v1/tasks' }),
    ).toThrow(/must contain \{id\}/);
  });
});

describe('SparkClient wire variants (scripted HTTP server)', () => {
  let server: ScriptedServer;
  let client: SparkClient;

  beforeAll(async () => {
    server = await startScriptedServer();
    client = new SparkClient({
      baseUrl: `${server.url}/api/`,
      apiKey: API_KEY,
      createPath: '/v2/create',
      taskPath: '/v2/task/{id}/status',
    });
  });
  afterAll(() => server.close());

  it('sends the model, the request and the Bearer key to the configured paths', async () => {
    server.answer({ status: 200, body: { id: 't-1', status: 'queued' } });
    await client.createTask(request);
    server.answer({ status: 200, body: { id: 't-1', status: 'running' } });
    await client.getTask('t/1');
    const [create, poll] = server.received.slice(-2);
    expect(create?.method).toBe('POST');
    expect(create?.url).toBe('/api/v2/create');
    expect(create?.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(JSON.parse(create?.body ?? '')).toEqual({ model: 'spark_t2i_3_0', ...request });
    expect(poll?.url).toBe('/api/v2/task/t%2F1/status');
  });

  it.each([
    ['the integer code 3001006', 3_001_006],
    ['the string code "003001006"', '003001006'],
  ])('normalises %s to "003001006"', async (_name, code) => {
    server.answer({
      status: 400,
      body: { error: { code, error_message: 'Invalid aspect ratio' } },
    });
    const error = await caught(client.createTask(request));
    expect(error).toBeInstanceOf(SparkRejectedError);
    expect(error.code).toBe('003001006');
  });

  it.each([
    ['an integer', 3_001_095],
    ['a string', '003001095'],
  ])('normalises a failed task code given as %s', async (_name, code) => {
    server.answer({
      status: 200,
      body: { id: 't', status: 'failed', error: { code, error_message: 'boom' } },
    });
    expect(await client.getTask('t')).toEqual({
      taskId: 't',
      status: 'failed',
      state: 'failed',
      error: { code: '003001095', message: 'boom' },
    });
  });

  it('gives 003001095 to a failed task without a code', async () => {
    server.answer({ status: 200, body: { id: 't', status: 'failed' } });
    const snapshot = await client.getTask('t');
    expect(snapshot.state === 'failed' && snapshot.error.code).toBe(
      ErrorCodes.INTERNAL_GENERATION_ERROR,
    );
  });

  it('accepts task_id for id, jobId one level up, and ignores unknown fields', async () => {
    server.answer({ status: 200, body: { task_id: 42, status: 'queued', eta: 3 } });
    expect(await client.createTask(request)).toEqual({ taskId: '42', status: 'queued' });
    server.answer({
      status: 200,
      body: {
        task_id: 't9',
        status: 'completed',
        output: [{ jobId: 'job-1', content: [{ type: 'image', url: 'https://x/1.png', size: 9 }] }],
        usage: {
          cost: '0.0300',
          discount: 0,
          input_tokens: 5,
          output_tokens: 10,
          total_tokens: 15,
        },
        region: 'somewhere',
      },
    });
    const snapshot = await client.getTask('t9');
    expect(snapshot).toMatchObject({
      taskId: 't9',
      state: 'completed',
      images: [{ url: 'https://x/1.png', size: 9, jobId: 'job-1' }],
      costUsd: 0.03,
    });
  });

  it('treats any status other than completed or failed as still working', async () => {
    server.answer({ status: 200, body: { id: 't', status: 'processing' } });
    expect(await client.getTask('t')).toEqual({
      taskId: 't',
      status: 'processing',
      state: 'pending',
    });
  });

  it.each([
    ['a body that is not JSON', { status: 200, body: '<html>ok</html>' }],
    ['a create answer without an id', { status: 200, body: { status: 'queued' } }],
  ])('raises 003001096 on create for %s', async (_name, answer) => {
    server.answer(answer);
    const error = await caught(client.createTask(request));
    expect(error).toBeInstanceOf(SparkResponseParseError);
    expect(error.code).toBe(ErrorCodes.RESULT_PARSING_ERROR);
  });

  it.each([
    ['a poll answer without a status', { id: 't' }],
    ['a completed task without images', { id: 't', status: 'completed', output: [] }],
    [
      'an image without a url',
      { id: 't', status: 'completed', output: [{ content: [{ type: 'image' }] }] },
    ],
    ['a status of the wrong type', { id: 't', status: 7 }],
  ])('raises 003001096 on poll for %s', async (_name, body) => {
    server.answer({ status: 200, body });
    const error = await caught(client.getTask('t'));
    expect(error).toBeInstanceOf(SparkResponseParseError);
    expect(error.code).toBe(ErrorCodes.RESULT_PARSING_ERROR);
  });

  it('raises SparkServerError for an HTML 502 page', async () => {
    server.answer({
      status: 502,
      body: '<html>Bad gateway</html>',
      headers: { 'content-type': 'text/html' },
    });
    const error = await caught(client.getTask('t'));
    expect(error).toBeInstanceOf(SparkServerError);
    expect(error.httpStatus).toBe(502);
  });

  it('reads Retry-After given as an HTTP date', async () => {
    const inTenSeconds = new Date(Date.now() + 10_000).toUTCString();
    server.answer({ status: 429, body: {}, headers: { 'retry-after': inTenSeconds } });
    const error = await caught(client.createTask(request));
    expect(error).toBeInstanceOf(SparkThrottledError);
    expect((error as SparkThrottledError).retryAfterSeconds).toBeGreaterThanOrEqual(8);
    expect((error as SparkThrottledError).retryAfterSeconds).toBeLessThanOrEqual(11);
  });

  it('raises SparkHttpError with 003001099 for an unexpected answer to create', async () => {
    server.answer({ status: 404, body: 'not here' });
    const error = await caught(client.createTask(request));
    expect(error).toBeInstanceOf(SparkHttpError);
    expect(error.code).toBe(ErrorCodes.TASK_CREATION_ERROR);
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}
