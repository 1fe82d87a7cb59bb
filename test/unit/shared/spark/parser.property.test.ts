/**
 * Properties of the Spark client's answer parsing: whatever status and body the provider sends
 * for a create or a poll — random text, random JSON, near-misses of the wire format, deeply
 * nested JSON — the call ends quickly with a well-formed result or a typed SparkError carrying a
 * documented code (003001096 for a 2xx body that does not parse), never a crash or a hang.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '#shared/errors/codes.ts';
import { SparkClient, type TaskSnapshot } from '#shared/spark/client.ts';
import { SparkError, SparkRejectedError, SparkResponseParseError } from '#shared/spark/errors.ts';

const OUR_CODES = new Set<string>(Object.values(ErrorCodes));
const REQUEST = { prompt: 'a cat', use_pre_llm: true, seed: -1, width: 1328, height: 1328 };
const DEEP = 100_000;

function clientAnswering(status: number, body: string): SparkClient {
  return new SparkClient({
    baseUrl: 'https://spark.example.com',
    apiKey: 'key',
    // A 204, 205 or 304 carries no body (the Response constructor refuses one).
    fetch: async () => new Response([204, 205, 304].includes(status) ? null : body, { status }),
  });
}

/** Settles the call or fails the property if it takes longer than a second. */
async function settle<T>(call: Promise<T>): Promise<{ value?: T; error?: unknown }> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('the call did not settle within 1 s')), 1000);
  });
  try {
    return { value: await Promise.race([call, hang]) };
  } catch (error) {
    if (error instanceof Error && error.message.startsWith('the call did not settle')) throw error;
    return { error };
  } finally {
    clearTimeout(timer);
  }
}

function expectDocumentedError(error: unknown, status: number) {
  expect(error).toBeInstanceOf(SparkError);
  const { code } = error as SparkError;
  if (error instanceof SparkRejectedError) {
    // The provider's own code, normalised to its 9-digit form.
    expect(code).toMatch(/^\d{9}$/);
  } else {
    expect(OUR_CODES.has(code)).toBe(true);
  }
  if (status >= 200 && status < 300) {
    expect(error).toBeInstanceOf(SparkResponseParseError);
    expect(code).toBe(ErrorCodes.RESULT_PARSING_ERROR);
  }
}

function expectWellFormedSnapshot(snapshot: TaskSnapshot) {
  expect(typeof snapshot.taskId).toBe('string');
  expect(snapshot.taskId.length).toBeGreaterThan(0);
  if (snapshot.state === 'pending') {
    expect(['completed', 'failed']).not.toContain(snapshot.status);
  } else if (snapshot.state === 'failed') {
    expect(snapshot.error.code).toMatch(/^\d{9}$/);
    expect(typeof snapshot.error.message).toBe('string');
  } else {
    expect(snapshot.images.length).toBeGreaterThan(0);
    for (const image of snapshot.images) expect(image.url.length).toBeGreaterThan(0);
    if (snapshot.costUsd !== undefined) expect(Number.isFinite(snapshot.costUsd)).toBe(true);
  }
}

/** Near-misses of the wire format: right field names, any values. */
const wireLike = fc.record(
  {
    id: fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.jsonValue({ maxDepth: 1 })),
    task_id: fc.oneof(fc.string(), fc.integer({ min: -5, max: 5 })),
    status: fc.oneof(
      fc.constantFrom('queued', 'running', 'completed', 'failed', '', 'COMPLETED'),
      fc.jsonValue({ maxDepth: 1 }),
    ),
    output: fc.oneof(
      fc.constant(null),
      fc.array(
        fc.record(
          {
            content: fc.oneof(
              fc.array(
                fc.record(
                  {
                    type: fc.constantFrom('image', 'text', 7),
                    url: fc.oneof(fc.webUrl(), fc.constant(''), fc.integer()),
                    size: fc.oneof(fc.nat(), fc.double(), fc.string()),
                    jobId: fc.oneof(fc.string(), fc.integer()),
                  },
                  { requiredKeys: [] },
                ),
                { maxLength: 3 },
              ),
              fc.jsonValue({ maxDepth: 1 }),
            ),
            jobId: fc.oneof(fc.string(), fc.integer()),
          },
          { requiredKeys: [] },
        ),
        { maxLength: 3 },
      ),
      fc.jsonValue({ maxDepth: 1 }),
    ),
    usage: fc.oneof(
      fc.constant(null),
      fc.record(
        {
          cost: fc.oneof(fc.string(), fc.double(), fc.constant('0.03')),
          discount: fc.oneof(fc.double(), fc.string()),
          total_tokens: fc.oneof(fc.integer(), fc.string()),
        },
        { requiredKeys: [] },
      ),
    ),
    error: fc.oneof(
      fc.constant(null),
      fc.record(
        {
          code: fc.oneof(fc.integer(), fc.string(), fc.double(), fc.constant(3001006)),
          error_message: fc.oneof(fc.string(), fc.integer()),
          message: fc.string(),
        },
        { requiredKeys: [] },
      ),
    ),
  },
  { requiredKeys: [] },
);

const body = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.json(),
  wireLike.map((value) => JSON.stringify(value)),
  wireLike.map((value) => JSON.stringify({ error: value.error })),
  fc.constantFrom(
    '',
    'null',
    '<html>502 Bad Gateway</html>',
    '{"id":',
    `${'['.repeat(DEEP)}${']'.repeat(DEEP)}`,
    `{"id":"t","status":"completed","output":${'['.repeat(DEEP)}${']'.repeat(DEEP)}}`,
    `{"id":"t","status":"running","extra":${'{"a":'.repeat(DEEP)}1${'}'.repeat(DEEP)}}`,
    `{"error":${'['.repeat(DEEP)}${']'.repeat(DEEP)}}`,
  ),
);
const status = fc.oneof(
  { weight: 4, arbitrary: fc.constant(200) },
  { weight: 1, arbitrary: fc.constantFrom(201, 202, 204, 400, 401, 403, 404, 409, 422, 429) },
  { weight: 1, arbitrary: fc.integer({ min: 200, max: 599 }) },
);

describe('Spark answers, whatever the provider sends', () => {
  it('a create ends with a task id or a typed error with a documented code', async () => {
    await fc.assert(
      fc.asyncProperty(status, body, async (httpStatus, text) => {
        const { value, error } = await settle(
          clientAnswering(httpStatus, text).createTask(REQUEST),
        );
        if (error !== undefined) return expectDocumentedError(error, httpStatus);
        expect(httpStatus).toBeGreaterThanOrEqual(200);
        expect(httpStatus).toBeLessThan(300);
        expect(typeof value?.taskId).toBe('string');
        expect(value?.taskId.length).toBeGreaterThan(0);
        expect(typeof value?.status).toBe('string');
      }),
      { numRuns: 400 },
    );
  });

  it('a poll ends with a well-formed snapshot or a typed error with a documented code', async () => {
    await fc.assert(
      fc.asyncProperty(status, body, async (httpStatus, text) => {
        const { value, error } = await settle(clientAnswering(httpStatus, text).getTask('t-1'));
        if (error !== undefined) return expectDocumentedError(error, httpStatus);
        expect(httpStatus).toBeGreaterThanOrEqual(200);
        expect(httpStatus).toBeLessThan(300);
        expectWellFormedSnapshot(value as TaskSnapshot);
      }),
      { numRuns: 400 },
    );
  });

  it.each([
    ['not JSON', '<html>oops</html>'],
    ['empty', ''],
    ['deeply nested arrays', `${'['.repeat(DEEP)}${']'.repeat(DEEP)}`],
    ['JSON without a status', '{"id":"t-1"}'],
  ])('a 200 poll answer that is %s is 003001096', async (_name, text) => {
    const { error } = await settle(clientAnswering(200, text).getTask('t-1'));
    expect(error).toBeInstanceOf(SparkResponseParseError);
    expect((error as SparkError).code).toBe(ErrorCodes.RESULT_PARSING_ERROR);
  });
});
