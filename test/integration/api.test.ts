/**
 * The HTTP API for real users, over real HTTP against `spark-t2i serve` (the same handlers,
 * authorizer and gateway answers as deployed).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { Validator } from '@seriousme/openapi-schema-validator';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '#shared/api/keys.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';
import { hostileBodies } from '../helpers/hostile-bodies.ts';
import {
  type CallOptions,
  type DocOperation,
  type DrivenAnswer,
  OpenApiDriver,
} from '../helpers/openapi-driver.ts';
import { rawRequest } from '../helpers/raw-http.ts';
import { type ServedRuntime, serve, submit, waitForTerminal } from '../helpers/serve.ts';

const run = promisify(execFile);
const PROJECT_ROOT = join(import.meta.dirname, '..', '..');
const CLI = join(PROJECT_ROOT, 'local', 'cli', 'bin.js');
const ALICE = 'sk_alice_0123456789abcdefghij';
const BOB = 'sk_bob_0123456789abcdefghijkl';
const EVE = 'sk_eve_revoked_0123456789abcd';
const FUZZ = 'sk_fuzz_0123456789abcdefghijk';
/** A key as short as the README's example. */
const SHORT = 'key1';
/**
 * Short, fixed poll intervals (the cancel test watches a task stop being polled); both runtimes
 * of this file use this config, so they share one synthesis.
 */
const POLLING = {
  expectedGenerationSeconds: 2,
  intervalSeconds: 6,
  backoffRate: 1,
  maxIntervalSeconds: 6,
  // One request per poll, so "not polled again" after a cancel is a count of requests.
  recheckSeconds: 0,
};
/** As API Gateway does, the local gateway caches the authorizer's answer per key this long. */
const AUTHORIZER_CACHE_SECONDS = 1;
const CONFIG = {
  api: { presignedUrlTtlSeconds: 2, authorizerCacheSeconds: AUTHORIZER_CACHE_SECONDS },
  polling: POLLING,
};
let runtime: ServedRuntime;

const as = (key: string) => ({ key });

/** The security headers every answer carries, the handlers' and API Gateway's own alike. */
const SECURITY_HEADERS = {
  'strict-transport-security': 'max-age=63072000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'",
  'referrer-policy': 'no-referrer',
};
/** How many generations an owner has, by walking its list. */
async function countGenerations(key: string): Promise<number> {
  let count = 0;
  let cursor: string | undefined;
  do {
    const query = `/generations?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const { body } = await json(await runtime.api(query, as(key)));
    count += (body.items as unknown[]).length;
    cursor = body.nextCursor as string | undefined;
  } while (cursor);
  return count;
}

const expectSecurityHeaders = (response: Response) => {
  const present = Object.fromEntries(
    Object.keys(SECURITY_HEADERS).map((name) => [name, response.headers.get(name)]),
  );
  expect(present).toEqual(SECURITY_HEADERS);
};
const json = async (response: Response) => ({
  status: response.status,
  body: (await response.json()) as Record<string, unknown>,
});

beforeAll(async () => {
  runtime = await serve({
    simLatencyMs: 300,
    env: {
      SPARK_T2I_API_KEYS: `local:sk_local_0123456789abcdefghij,alice:${ALICE},bob:${BOB},eve:${EVE},fuzz:${FUZZ},dave:${SHORT}`,
    },
    config: CONFIG,
  });
}, 90_000);
afterAll(() => runtime?.stop());

describe('authentication', () => {
  it.each([
    ['no Authorization header', undefined],
    ['a malformed header', 'Token abc'],
    ['an unknown key', 'Bearer sk_unknown_0123456789abcdefgh'],
  ])('answers 401 with 090004001 for %s', async (_name, header) => {
    const response = await fetch(`${runtime.endpoints.api}/generations`, {
      headers: header ? { authorization: header } : {},
    });
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({
      error: { code: ErrorCodes.API_UNAUTHORIZED, message: expect.any(String) },
    });
    expectSecurityHeaders(response);
  });

  it('lets in a key of any length given in SPARK_T2I_API_KEYS, with the scheme in any case', async () => {
    for (const scheme of ['Bearer', 'bearer']) {
      const response = await fetch(`${runtime.endpoints.api}/generations`, {
        headers: { authorization: `${scheme} ${SHORT}` },
      });
      expect(response.status).toBe(200);
    }
  });

  it('answers 401 once the key is revoked with spark-t2i keys revoke', async () => {
    expect((await runtime.api('/generations', as(EVE))).status).toBe(200);
    const { stdout } = await run(process.execPath, [
      CLI,
      'keys',
      'revoke',
      '--key',
      EVE,
      '--data-dir',
      runtime.dataDir,
    ]);
    expect(stdout.trim()).toBe(`revoked ${hashApiKey(EVE)}`);
    // Until its cached answer expires, the gateway may still let the key in (as deployed).
    await new Promise((resolve) => setTimeout(resolve, AUTHORIZER_CACHE_SECONDS * 1000 + 100));
    const response = await runtime.api('/generations', as(EVE));
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe(
      ErrorCodes.API_UNAUTHORIZED,
    );
    // Other keys are untouched.
    expect((await runtime.api('/generations', as(ALICE))).status).toBe(200);
  });
});

describe('security headers', () => {
  it.each([
    ['401 from the authorizer', '/generations', { key: 'not a key at all' }, 401],
    ['404 for an unknown route', '/nothing-here', {}, 404],
    ['404 for an unknown id', '/generations/no-such-generation', {}, 404],
    ['405 for a wrong method', '/generations', { method: 'PUT', body: '{}' }, 405],
    [
      '413 from the handler',
      '/generations',
      { method: 'POST', body: JSON.stringify({ prompt: 'x', pad: 'y'.repeat(70_000) }) },
      413,
    ],
    [
      '413 from the gateway',
      '/generations',
      { method: 'POST', body: Buffer.alloc(10 * 1024 * 1024 + 1, 0x20) },
      413,
    ],
    [
      '415',
      '/generations',
      { method: 'POST', body: 'x', headers: { 'content-type': 'application/xml' } },
      415,
    ],
    ['200', '/generations?limit=1', {}, 200],
    ['200 of the document', '/openapi.json', {}, 200],
  ] as const)('are all on the %s answer', async (_name, path, init, status) => {
    const response = await runtime.api(path, init as RequestInit & { key?: string });
    expect(response.status).toBe(status);
    expectSecurityHeaders(response);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    if (status >= 400) {
      expect(((await response.json()) as { error: { code: string } }).error.code).toMatch(
        /^0900040\d\d$/,
      );
    }
  });
});

describe('owners are isolated', () => {
  it("answers 404 (not 403) for another owner's generation on get and delete, and never lists it", async () => {
    const id = await submit(runtime, { prompt: 'the local owner only' });
    const aliceId = (
      await json(
        await runtime.api('/generations', {
          method: 'POST',
          body: JSON.stringify({ prompt: 'mine' }),
          key: ALICE,
        }),
      )
    ).body.id as string;

    expect((await runtime.api(`/generations/${aliceId}`, as(BOB))).status).toBe(404);
    expect(
      (await runtime.api(`/generations/${aliceId}`, { method: 'DELETE', key: BOB })).status,
    ).toBe(404);
    // Bob's DELETE changed nothing: Alice's generation goes on, and only Alice lists it.
    const alices = await json(await runtime.api(`/generations/${aliceId}`, as(ALICE)));
    expect(alices.status).toBe(200);
    expect(alices.body.status).not.toBe('cancelled');
    expect(alices.body.error).toBeUndefined();
    expect((await waitForTerminal(runtime, aliceId, 30_000, ALICE)).status).toBe('completed');
    const idsOf = async (key: string) =>
      (
        (await json(await runtime.api('/generations?limit=100', as(key)))).body.items as Array<{
          id: string;
        }>
      ).map((item) => item.id);
    expect(await idsOf(ALICE)).toContain(aliceId);
    const bobIds = await idsOf(BOB);
    expect(bobIds).not.toContain(aliceId);
    expect(bobIds).not.toContain(id);
  });
});

// What the property test of POST /generations throws: bodies from valid requests to bytes that
// are not text, any Content-Type or none, Idempotency-Keys good, bad and reused, random headers.
const AWKWARD_NUMBERS = [1e16, 2 ** 60 + 2 ** 8, 1e126, 1e-131, -5e-324, Number.MAX_VALUE, -0];
const fuzzMetadata = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 3 }), {
      maxKeys: 6,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.dictionary(fc.string({ maxLength: 6 }), fc.constantFrom(...AWKWARD_NUMBERS), {
      minKeys: 1,
      maxKeys: 3,
    }),
  },
  { weight: 1, arbitrary: fc.record({ pad: fc.string({ minLength: 1900, maxLength: 2300 }) }) },
  { weight: 1, arbitrary: fc.jsonValue() },
);
const SIZES = [
  [512, 512],
  [1024, 1024],
  [1328, 1328],
  [1472, 1104],
  [1104, 1472],
  [1584, 1056],
] as const;
const validRequest = fc
  .record(
    {
      prompt: fc.string({ minLength: 1, maxLength: 60 }).filter((prompt) => prompt.trim() !== ''),
      size: fc.constantFrom(...SIZES),
      seed: fc.oneof(fc.constant(-1), fc.integer({ min: 1, max: 2_147_483_647 })),
      use_pre_llm: fc.boolean(),
      metadata: fuzzMetadata,
    },
    { requiredKeys: ['prompt'] },
  )
  .map(({ size, ...fields }) => ({
    ...fields,
    ...(size !== undefined && { width: size[0], height: size[1] }),
  }));
const anyRequest = fc.record(
  {
    prompt: fc.oneof(
      fc.string({ maxLength: 900 }),
      fc.constant('   '),
      fc.integer(),
      fc.constant(null),
    ),
    width: fc.oneof(
      fc.constantFrom(512, 1024, 2048),
      fc.integer({ min: -10, max: 5000 }),
      fc.double(),
      fc.string(),
    ),
    height: fc.oneof(
      fc.constantFrom(512, 1024, 2048),
      fc.integer({ min: -10, max: 5000 }),
      fc.jsonValue(),
    ),
    seed: fc.oneof(fc.integer(), fc.jsonValue()),
    use_pre_llm: fc.jsonValue(),
    metadata: fuzzMetadata,
    colour: fc.string(),
  },
  { requiredKeys: [] },
);
const fuzzBody: fc.Arbitrary<string | Uint8Array> = fc.oneof(
  { weight: 1, arbitrary: validRequest.map((request) => JSON.stringify(request)) },
  { weight: 4, arbitrary: anyRequest.map((request) => JSON.stringify(request)) },
  { weight: 1, arbitrary: fc.jsonValue().map((value) => JSON.stringify(value)) },
  {
    weight: 1,
    arbitrary: fc.tuple(validRequest, fc.nat()).map(([request, cut]) => {
      const text = JSON.stringify(request);
      return text.slice(0, cut % text.length);
    }),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 300 }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }) },
);
const fuzzContentType = fc.option(
  fc.oneof(
    {
      weight: 6,
      arbitrary: fc.constantFrom(
        'application/json',
        'application/json; charset=utf-8',
        'Application/JSON',
        'application/json;charset=UTF-8',
      ),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        'text/plain',
        'application/x-www-form-urlencoded',
        'application/jsonx',
        'multipart/form-data; boundary=x',
        '',
      ),
    },
    { weight: 1, arbitrary: fc.stringMatching(/^[\x20-\x7e]{0,40}$/) },
  ),
  { nil: undefined, freq: 8 },
);
const fuzzIdempotencyKey = fc.option(
  fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom('fuzz-a', 'fuzz-b', 'fuzz-c') },
    { weight: 3, arbitrary: fc.stringMatching(/^[\x21-\x7e][\x20-\x7e]{0,40}$/) },
    { weight: 1, arbitrary: fc.stringMatching(/^[\x21-\x7e]{250,300}$/) },
    { weight: 1, arbitrary: fc.stringMatching(/^[\t\x20-\x7e\x80-\xff]{0,20}$/) },
  ),
  { nil: undefined, freq: 2 },
);
/** Headers a test must not set at random: the connection's own, and the ones set on purpose. */
const RESERVED_HEADERS = new Set([
  'authorization',
  'content-type',
  'idempotency-key',
  'content-length',
  'transfer-encoding',
  'host',
  'connection',
  'keep-alive',
  'upgrade',
  'expect',
  'te',
  'trailer',
  'proxy-connection',
]);
const fuzzExtraHeaders = fc.dictionary(
  fc
    .stringMatching(/^[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]{0,24}$/)
    .filter((name) => !RESERVED_HEADERS.has(name.toLowerCase())),
  fc.stringMatching(/^[\x21-\x7e]([\x20-\x7e]{0,60}[\x21-\x7e])?$/),
  { maxKeys: 4 },
);

describe('POST /generations', () => {
  it('answers 202 with the id, queued, links and warnings, and the record exists at once', async () => {
    const { status, body } = await json(
      await runtime.api('/generations', {
        method: 'POST',
        body: JSON.stringify({ prompt: 'x'.repeat(121), metadata: { sku: 'A1' } }),
      }),
    );
    expect(status).toBe(202);
    expect(body).toMatchObject({
      id: expect.any(String),
      status: 'queued',
      links: { self: `/generations/${body.id}` },
      warnings: [expect.objectContaining({ code: '090001901' })],
    });
    const right = await runtime.api(`/generations/${body.id}`);
    expect(right.status).toBe(200);
    expect(((await right.json()) as { metadata?: unknown }).metadata).toEqual({ sku: 'A1' });
  });

  it.each([
    ['integers past 2^53', '{"big":9007199254740993,"e16":1e16,"list":[1e16,-1e17]}'],
    ['magnitudes outside DynamoDB numbers', '{"huge":1e126,"tiny":1e-131,"least":-5e-324}'],
    ['40 levels of nesting and an empty key', `${'{"a":'.repeat(40)}{"":0}${'}'.repeat(40)}`],
  ])('stores metadata with %s and gives it back as sent', async (_name, metadata) => {
    const response = await runtime.api('/generations', {
      method: 'POST',
      body: `{"prompt":"awkward metadata","metadata":${metadata}}`,
    });
    const accepted = (await response.json()) as { id: string };
    expect(response.status, JSON.stringify(accepted)).toBe(202);
    const record = await json(await runtime.api(`/generations/${accepted.id}`));
    expect(record.status).toBe(200);
    expect(record.body.metadata).toEqual(JSON.parse(metadata));
    const listed = (await json(await runtime.api('/generations?limit=5'))).body.items as Array<{
      id: string;
      metadata?: unknown;
    }>;
    expect(listed.find((item) => item.id === accepted.id)?.metadata).toEqual(JSON.parse(metadata));
  });

  it('replays the same Idempotency-Key and body, and refuses another body with 409', async () => {
    const headers = { 'idempotency-key': `key-${Date.now()}` };
    const first = await json(
      await runtime.api('/generations', {
        method: 'POST',
        headers,
        body: JSON.stringify({ prompt: 'once' }),
      }),
    );
    const again = await json(
      await runtime.api('/generations', {
        method: 'POST',
        headers,
        body: JSON.stringify({ prompt: 'once' }),
      }),
    );
    const other = await json(
      await runtime.api('/generations', {
        method: 'POST',
        headers,
        body: JSON.stringify({ prompt: 'twice' }),
      }),
    );
    expect(first.status).toBe(202);
    expect(again.body.id).toBe(first.body.id);
    expect([200, 202]).toContain(again.status);
    expect(other.status).toBe(409);
    expect((other.body.error as { code: string }).code).toBe(ErrorCodes.API_IDEMPOTENCY_CONFLICT);
  });

  it('answers the same generation to a key whose idempotency record was lost, making no second', async () => {
    const headers = { 'idempotency-key': `lost-${Date.now()}` };
    const post = async () =>
      json(
        await runtime.api('/generations', {
          method: 'POST',
          headers,
          body: JSON.stringify({ prompt: 'recorded, answer lost' }),
        }),
      );
    const first = await post();
    // As if the function had stopped before completing the idempotency record, and the retry
    // came after the in-progress record's expiry: the record is gone.
    const documents = runtime.dynamodb();
    const { TableNames = [] } = await documents.send(new ListTablesCommand({}));
    const idempotencyTable = TableNames.find((name) => /idempotency/i.test(name));
    if (idempotencyTable === undefined) throw new Error(`no idempotency table: ${TableNames}`);
    const { Items = [] } = await documents.send(new ScanCommand({ TableName: idempotencyTable }));
    for (const item of Items) {
      await documents.send(
        new DeleteCommand({ TableName: idempotencyTable, Key: { id: item.id } }),
      );
    }

    const again = await post();

    expect(first.status).toBe(202);
    expect(Items.length).toBeGreaterThan(0);
    expect(again.status).toBe(202);
    expect(again.body.id).toBe(first.body.id);
    const record = await waitForTerminal(runtime, first.body.id as string, 60_000);
    expect(record.status).toBe('completed');
  });

  it.each([
    [{}, ErrorCodes.MISSING_PROMPT],
    [{ prompt: '' }, ErrorCodes.INVALID_PROMPT_LENGTH],
    [{ prompt: 'x', use_pre_llm: 'yes' }, ErrorCodes.INVALID_USE_PRE_LLM],
    [{ prompt: 'x', seed: 0 }, ErrorCodes.INVALID_SEED],
    [{ prompt: 'x', width: 0, height: 512 }, ErrorCodes.INVALID_SIZE],
    [{ prompt: 'x', width: 2048, height: 512 }, ErrorCodes.INVALID_ASPECT_RATIO],
    [{ prompt: 'x', width: 1024 }, ErrorCodes.SIZE_PAIR_REQUIRED],
    [{ prompt: 'x', width: 10.5, height: 10 }, ErrorCodes.SIZE_NOT_INTEGER],
    [{ prompt: 'x', width: 100, height: 100 }, ErrorCodes.SIZE_OUT_OF_RANGE],
    [{ prompt: 'x', colour: 'red' }, ErrorCodes.UNKNOWN_FIELD],
    [[1, 2], ErrorCodes.REQUEST_NOT_OBJECT],
    [{ prompt: 'x', metadata: { note: 'n'.repeat(2100) } }, ErrorCodes.API_INVALID_METADATA],
    [{ prompt: 'x', metadata: { note: '灯'.repeat(700) } }, ErrorCodes.API_INVALID_METADATA],
    [{ prompt: 'x', metadata: ['sku'] }, ErrorCodes.API_INVALID_METADATA],
    [{ prompt: 'x', metadata: 'sku' }, ErrorCodes.API_INVALID_METADATA],
    [{ prompt: 'x', metadata: null }, ErrorCodes.API_INVALID_METADATA],
  ])('answers 400 with the code for %j', async (request, code) => {
    const { status, body } = await json(
      await runtime.api('/generations', { method: 'POST', body: JSON.stringify(request) }),
    );
    expect(status).toBe(400);
    expect((body.error as { code: string }).code).toBe(code);
  });

  it.each([
    [
      'malformed JSON',
      '{"prompt":',
      { 'content-type': 'application/json' },
      400,
      ErrorCodes.API_BODY_NOT_JSON,
    ],
    [
      'a form instead of JSON',
      'prompt=x',
      { 'content-type': 'application/x-www-form-urlencoded' },
      415,
      ErrorCodes.API_UNSUPPORTED_MEDIA_TYPE,
    ],
    [
      'an oversize body',
      JSON.stringify({ prompt: 'x', metadata: { pad: 'y'.repeat(70_000) } }),
      { 'content-type': 'application/json' },
      413,
      ErrorCodes.API_BODY_TOO_LARGE,
    ],
  ])('answers %s cleanly', async (_name, body, headers, status, code) => {
    const response = await runtime.api('/generations', { method: 'POST', body, headers });
    expect(response.status).toBe(status);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe(code);
  });

  it.each([
    [
      'an Idempotency-Key of 256 characters',
      { 'idempotency-key': 'k'.repeat(256) },
      400,
      ErrorCodes.API_INVALID_IDEMPOTENCY_KEY,
    ],
    [
      'an empty Idempotency-Key',
      { 'idempotency-key': '' },
      400,
      ErrorCodes.API_INVALID_IDEMPOTENCY_KEY,
    ],
    [
      'a multipart Content-Type',
      { 'content-type': 'multipart/form-data; boundary=x' },
      415,
      ErrorCodes.API_UNSUPPORTED_MEDIA_TYPE,
    ],
  ])(
    'answers a valid body with %s with %i and its code, and writes nothing',
    async (_name, headers, status, code) => {
      const before = await countGenerations(FUZZ);
      const answer = await rawRequest(`${runtime.endpoints.api}/generations`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${FUZZ}`,
          ...('idempotency-key' in headers && { 'content-type': 'application/json' }),
          ...headers,
        },
        body: JSON.stringify({ prompt: 'a valid request' }),
      });
      expect(answer.status).toBe(status);
      expect((JSON.parse(answer.text) as { error: { code: string } }).error.code).toBe(code);
      expect(await countGenerations(FUZZ)).toBe(before);
    },
  );

  it.each([
    ['without a Content-Type (fetch then declares text/plain)', undefined],
    ['as text/plain', 'text/plain'],
  ])('refuses a JSON body sent %s with 415 and writes nothing', async (_name, contentType) => {
    const before = await countGenerations(FUZZ);
    const response = await fetch(`${runtime.endpoints.api}/generations`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${FUZZ}`,
        ...(contentType !== undefined && { 'content-type': contentType }),
      },
      body: JSON.stringify({ prompt: 'a body with no declared type' }),
    });
    expect(response.status).toBe(415);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe(
      ErrorCodes.API_UNSUPPORTED_MEDIA_TYPE,
    );
    expect(await countGenerations(FUZZ)).toBe(before);
  });

  it('answers hostile bodies (nesting, encodings, sizes, types) with a coded 4xx, never a 5xx', async () => {
    const refused = new Set<string>();
    await fc.assert(
      fc.asyncProperty(hostileBodies, async (hostile) => {
        const answer = await rawRequest(`${runtime.endpoints.api}/generations`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${FUZZ}`,
            ...(hostile.contentType !== undefined && { 'content-type': hostile.contentType }),
          },
          body: hostile.bytes,
        });
        const what = `${hostile.description}: ${answer.status} ${answer.text}`;
        expect(answer.status, what).toBeLessThan(500);
        const parsed = JSON.parse(answer.text) as { id?: string; error?: { code: string } };
        if (hostile.expectedCodes.length === 0) {
          expect(answer.status, what).toBe(202);
          return;
        }
        expect(hostile.expectedCodes, what).toContain(parsed.error?.code);
        refused.add(parsed.error?.code as string);
      }),
      // A sample: the in-process property (test/unit/api) runs many more.
      { numRuns: 60, seed: 24 },
    );
    expect(refused).toContain(ErrorCodes.API_BODY_NOT_UTF8);
    expect(refused).toContain(ErrorCodes.API_BODY_TOO_DEEP);
  }, 60_000);

  it.each([
    ['PUT', '/generations', 'GET, POST'],
    ['PATCH', '/generations/some-id', 'GET, DELETE'],
    ['POST', '/openapi.json', 'GET'],
  ])('answers %s %s with 405 and Allow: %s', async (method, path, allow) => {
    const response = await runtime.api(path, { method, body: method === 'GET' ? undefined : '{}' });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe(allow);
    expectSecurityHeaders(response);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe(
      ErrorCodes.API_METHOD_NOT_ALLOWED,
    );
  });

  it('answers an unknown route with 404 in the error shape', async () => {
    const { status, body } = await json(await runtime.api('/nothing-here'));
    expect(status).toBe(404);
    expect((body.error as { code: string }).code).toBe(ErrorCodes.API_NOT_FOUND);
  });

  it('never answers 5xx, always a code the document lists for the status, and writes nothing for rejected bodies', async () => {
    const document = (await (await fetch(`${runtime.endpoints.api}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { responses: Record<string, Record<string, unknown>> }>>;
    };
    const responses = document.paths['/generations']?.post?.responses ?? {};
    const documentedCodes = (status: number) =>
      (responses[String(status)]?.['x-error-codes'] as string[] | undefined) ?? [];
    const tables = (
      JSON.parse(await readFile(join(runtime.dataDir, 'runtime.json'), 'utf8')) as {
        tables: { idempotency: string };
      }
    ).tables;
    const idempotencyRecords = async () => {
      let count = 0;
      let start: Record<string, unknown> | undefined;
      do {
        const page = await runtime
          .dynamodb()
          .send(new ScanCommand({ TableName: tables.idempotency, ExclusiveStartKey: start }));
        count += page.Count ?? 0;
        start = page.LastEvaluatedKey;
      } while (start);
      return count;
    };
    const generationsBefore = await countGenerations(FUZZ);
    const idempotencyBefore = await idempotencyRecords();
    const accepted = new Set<string>();
    const keysAccepted = new Set<string>();
    const seen = new Map<string, number>();

    await fc.assert(
      fc.asyncProperty(
        fuzzBody,
        fuzzContentType,
        fuzzIdempotencyKey,
        fuzzExtraHeaders,
        async (body, contentType, idempotencyKey, extra) => {
          const headers: Record<string, string> = { ...extra, authorization: `Bearer ${FUZZ}` };
          if (contentType !== undefined) headers['content-type'] = contentType;
          if (idempotencyKey !== undefined) headers['idempotency-key'] = idempotencyKey;
          const answer = await rawRequest(`${runtime.endpoints.api}/generations`, {
            method: 'POST',
            headers,
            body,
          });
          const what = `${answer.status} ${answer.text}`;
          expect(answer.status, what).toBeLessThan(500);
          expect(String(answer.headers['content-type']), what).toMatch(/^application\/json/);
          expect(answer.headers['x-content-type-options'], what).toBe('nosniff');
          expect(answer.headers['content-security-policy'], what).toBe("default-src 'none'");
          const parsed = JSON.parse(answer.text) as { id?: string; error?: { code: string } };
          seen.set(String(answer.status), (seen.get(String(answer.status)) ?? 0) + 1);
          if (answer.status < 300) {
            expect(Object.keys(responses), what).toContain(String(answer.status));
            expect(parsed.id, what).toEqual(expect.any(String));
            // A replay of an Idempotency-Key answers the same generation again.
            accepted.add(parsed.id as string);
            if (idempotencyKey !== undefined) {
              // HTTP drops the spaces and tabs around a header value.
              keysAccepted.add(idempotencyKey.replace(/^[ \t]+|[ \t]+$/g, ''));
            }
          } else {
            expect(documentedCodes(answer.status), what).toContain(parsed.error?.code);
          }
        },
      ),
      // About 10 s on a two-core machine; the time bound leaves room for a busy one.
      { numRuns: 2000 },
    );

    // Every kind of answer was reached, so the property was not checked on refusals alone.
    for (const status of ['202', '400', '409', '415']) expect(seen.get(status)).toBeGreaterThan(0);
    expect(accepted.size).toBeGreaterThan(20);
    // Exactly the accepted bodies made generations and idempotency records: the rejected wrote
    // nothing.
    expect(await countGenerations(FUZZ)).toBe(generationsBefore + accepted.size);
    expect(await idempotencyRecords()).toBe(idempotencyBefore + keysAccepted.size);
  }, 120_000);
});

describe('GET /generations', () => {
  it('pages newest first across 3 pages with no duplicates or gaps', async () => {
    const ids: string[] = [];
    for (let index = 0; index < 7; index++) {
      ids.push(
        (
          await json(
            await runtime.api('/generations', {
              method: 'POST',
              key: BOB,
              body: JSON.stringify({ prompt: `page ${index}` }),
            }),
          )
        ).body.id as string,
      );
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const query = `/generations?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const { body } = await json(await runtime.api(query, as(BOB)));
      seen.push(...(body.items as Array<{ id: string }>).map((item) => item.id));
      cursor = body.nextCursor as string | undefined;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual([...ids].reverse());
  });

  it.each([
    ['a tampered cursor', '?cursor=eyJub3QiOiJ5b3VycyJ9'],
    ['a limit of 0', '?limit=0'],
    ['a limit of 101', '?limit=101'],
    ['an unknown status', '?status=done'],
  ])('answers 400 with 090004008 for %s', async (_name, query) => {
    const { status, body } = await json(await runtime.api(`/generations${query}`));
    expect(status).toBe(400);
    expect((body.error as { code: string }).code).toBe(ErrorCodes.API_INVALID_QUERY);
  });

  it("refuses another owner's cursor", async () => {
    for (let index = 0; index < 2; index++) await submit(runtime, { prompt: `mine ${index}` });
    const { body } = await json(await runtime.api('/generations?limit=1'));
    const { status } = await json(
      await runtime.api(
        `/generations?cursor=${encodeURIComponent(body.nextCursor as string)}`,
        as(BOB),
      ),
    );
    expect(status).toBe(400);
  });
});

describe('GET /generations/{id}', () => {
  it('gives pre-signed image URLs that download the image and stop working after their expiry', async () => {
    const id = await submit(runtime, { prompt: 'a short-lived link', width: 512, height: 512 });
    const record = await waitForTerminal(runtime, id);
    const url = record.images[0]?.url as string;
    const image = await fetch(url);
    expect(image.status).toBe(200);
    expect((await image.arrayBuffer()).byteLength).toBe(record.images[0]?.size);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect((await fetch(url)).status).toBe(403);
  });
});

describe('DELETE /generations/{id}', () => {
  it('cancels a running generation: it ends cancelled and its Spark task is not polled again', async () => {
    // A task still being polled would be polled several times in the observation window below.
    const timeScale = 0.05;
    const pollIntervalMs = POLLING.maxIntervalSeconds * 1000 * timeScale;
    const slow = await serve({ simLatencyMs: 60_000, timeScale, config: CONFIG });
    try {
      const polls = async () =>
        (
          (await (await fetch(`${slow.endpoints.spark.baseUrl}/__sim/stats`)).json()) as {
            requests: { poll: number };
          }
        ).requests.poll;
      const until = async (what: string, check: () => Promise<boolean>) => {
        const deadline = Date.now() + 15_000;
        while (!(await check())) {
          if (Date.now() > deadline)
            throw new Error(`timed out waiting for ${what}\n${slow.output()}`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      };
      const id = await submit(slow, { prompt: 'never mind' });
      await until('the generation to run', async () => {
        const { body } = await json(await slow.api(`/generations/${id}`));
        return body.status === 'running';
      });
      await until('a poll of its Spark task', async () => (await polls()) > 0);
      expect(await polls()).toBeGreaterThan(0);
      // The record counts the polls while the task runs, and keeps the count once cancelled.
      await until('the record to count a poll', async () => {
        const { body } = await json(await slow.api(`/generations/${id}`));
        return (body.polls as number) > 0;
      });

      const { status, body } = await json(
        await slow.api(`/generations/${id}`, { method: 'DELETE' }),
      );
      expect(status).toBe(200);
      expect(body).toMatchObject({
        id,
        status: 'cancelled',
        error: { code: ErrorCodes.GENERATION_CANCELLED },
      });
      const atCancel = await polls();
      // A poll already under way when the execution stopped may still reach the simulator.
      await new Promise((resolve) => setTimeout(resolve, pollIntervalMs));
      const settled = await polls();
      expect(settled - atCancel).toBeLessThanOrEqual(1);
      await new Promise((resolve) => setTimeout(resolve, 5 * pollIntervalMs));
      expect(await polls()).toBe(settled);

      const cancelled = (await json(await slow.api(`/generations/${id}`))).body;
      expect(cancelled.status).toBe('cancelled');
      expect(cancelled.polls).toBeGreaterThan(0);
      const again = await json(await slow.api(`/generations/${id}`, { method: 'DELETE' }));
      expect(again.status).toBe(409);
      expect((again.body.error as { code: string }).code).toBe(ErrorCodes.API_NOT_CANCELLABLE);
    } finally {
      await slow.stop();
    }
  }, 60_000);
});

describe('GET /openapi.json', () => {
  it('serves, without a key, an OpenAPI 3.1 document that a standard validator accepts', async () => {
    const response = await fetch(`${runtime.endpoints.api}/openapi.json`);
    expect(response.status).toBe(200);
    const document = (await response.json()) as { openapi: string };
    const result = await new Validator().validate(document as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(document.openapi).toMatch(/^3\.1/);
  });

  it('drives a client from the document alone: it calls every operation, and every answer is as documented', async () => {
    const documentUrl = `${runtime.endpoints.api}/openapi.json`;
    const document = (await (await fetch(documentUrl)).json()) as Record<string, unknown>;
    const client = new OpenApiDriver(document, documentUrl, { bearerAuth: runtime.apiKey });
    const answers: DrivenAnswer[] = [];
    const call = async (operationId: string, options?: CallOptions) => {
      const answer = await client.call(operationId, options);
      answers.push(answer);
      return answer;
    };
    const operations = client.operations();
    expect(operations.map((operation) => operation.operationId).sort()).toEqual([
      'cancelBatch',
      'cancelGeneration',
      'getBatch',
      'getBatchReport',
      'getGeneration',
      'getOpenApiDocument',
      'getWebhookSecret',
      'listBatchGenerations',
      'listBatches',
      'listGenerationDeliveries',
      'listGenerations',
      'rotateWebhookSecret',
      'submitBatch',
      'submitGeneration',
    ]);

    // Each operation as documented: the body is the document's example, the next calls follow
    // the 202 answer's links.
    const submitted = await call('submitGeneration');
    expect(submitted.status).toBe(202);
    const followed = client.follow(submitted, 'getGeneration');
    const deadline = Date.now() + 30_000;
    let record = await call(followed.operationId, { path: followed.path });
    while ((record.body as { status?: string }).status !== 'completed' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      record = await client.call(followed.operationId, { path: followed.path });
    }
    answers.push(record);
    expect((record.body as { images: unknown[] }).images.length).toBeGreaterThan(0);
    const toCancel = await call('submitGeneration');
    const cancel = client.follow(toCancel, 'cancelGeneration');
    expect((await call(cancel.operationId, { path: cancel.path })).status).toBe(200);
    expect((await call(cancel.operationId, { path: cancel.path })).status).toBe(409);
    const page = await call('listGenerations', { query: { limit: '1' } });
    const nextCursor = (page.body as { nextCursor?: string }).nextCursor;
    expect(nextCursor).toEqual(expect.any(String));
    await call('listGenerations', { query: { limit: '1', cursor: nextCursor as string } });
    await call('listGenerations', { query: { status: 'completed' } });
    await call('getOpenApiDocument');
    // The owner's signing secret, made on its first read, then rotated; the delivery attempts of
    // a generation (the document's example asks for no webhook: none).
    expect((await call('getWebhookSecret')).status).toBe(200);
    expect((await call('rotateWebhookSecret')).status).toBe(200);
    expect((await call('listGenerationDeliveries', { path: followed.path })).status).toBe(200);
    // A batch by the document's upload request, followed by the 201 answer's links (its report
    // is not written while its file is awaited: 404).
    const batch = await call('submitBatch');
    expect(batch.status).toBe(201);
    const ofBatch = client.follow(batch, 'getBatch');
    await call(ofBatch.operationId, { path: ofBatch.path });
    await call('listBatches', { query: { limit: '1' } });
    await call('listBatchGenerations', { path: ofBatch.path });
    expect((await call('getBatchReport', { path: ofBatch.path })).status).toBe(404);
    const cancelBatch = client.follow(batch, 'cancelBatch');
    expect((await call(cancelBatch.operationId, { path: cancelBatch.path })).status).toBe(200);
    expect((await call(cancelBatch.operationId, { path: cancelBatch.path })).status).toBe(409);

    // Refusals of every operation, from what the document says it takes.
    for (const operation of operations) {
      const id = operation.operationId;
      if (operation.security.some((requirement) => Object.keys(requirement).length > 0)) {
        await call(id, { anonymous: true });
      }
      if (operation.parameters.some((parameter) => parameter.in === 'path')) {
        await call(id); // a well-formed id that no generation has
      }
      for (const parameter of operation.parameters.filter((p) => p.in === 'query')) {
        const schema = parameter.schema ?? {};
        if (Array.isArray(schema.enum)) await call(id, { query: { [parameter.name]: 'nope' } });
        if (typeof schema.pattern === 'string') {
          await call(id, { query: { [parameter.name]: '-1 ' } });
        }
      }
      for (const parameter of operation.parameters.filter((p) => p.in === 'header')) {
        await call(id, { headers: { [parameter.name]: 'k'.repeat(256) } });
      }
      if (operation.requestBody !== undefined) {
        const mediaType = Object.keys(operation.requestBody.content)[0] as string;
        await call(id, { body: {} });
        await call(id, { rawBody: { bytes: '{"prompt":', mediaType } });
        await call(id, {
          rawBody: { bytes: 'prompt=x', mediaType: 'application/x-www-form-urlencoded' },
        });
        await call(id, { rawBody: { bytes: new Uint8Array([0x7b, 0x7d]) } });
        await call(id, { body: { prompt: 'x', metadata: { pad: 'y'.repeat(70_000) } } });
        await call(id, { rawBody: { bytes: Buffer.alloc(10 * 1024 * 1024 + 1, 0x20), mediaType } });
      }
    }
    // Every other method of every path.
    for (const path of new Set(operations.map((operation) => operation.path))) {
      const methods = client.methodsOf(path);
      const operation = operations.find((candidate) => candidate.path === path) as DocOperation;
      for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']) {
        if (!methods.includes(method)) await call(operation.operationId, { method });
      }
    }

    expect(answers.flatMap((answer) => client.problemsOf(answer))).toEqual([]);
    expect(client.warnings).toEqual([]);
    const reached = new Set(
      answers.map((answer) => `${answer.operation.operationId} ${answer.status}`),
    );
    expect([...reached].sort()).toEqual(
      [
        'submitGeneration 202',
        'submitGeneration 400',
        'submitGeneration 401',
        'submitGeneration 413',
        'submitGeneration 415',
        'getGeneration 200',
        'getGeneration 401',
        'getGeneration 404',
        'getGeneration 405',
        'listGenerations 200',
        'listGenerations 400',
        'listGenerations 401',
        'listGenerations 405',
        'cancelGeneration 200',
        'cancelGeneration 401',
        'cancelGeneration 404',
        'cancelGeneration 409',
        'getOpenApiDocument 200',
        'getOpenApiDocument 405',
        'getWebhookSecret 200',
        'getWebhookSecret 401',
        'getWebhookSecret 405',
        'rotateWebhookSecret 200',
        'rotateWebhookSecret 401',
        'rotateWebhookSecret 405',
        'listGenerationDeliveries 200',
        'listGenerationDeliveries 401',
        'listGenerationDeliveries 404',
        'listGenerationDeliveries 405',
        'submitBatch 201',
        'submitBatch 400',
        'submitBatch 401',
        'submitBatch 413',
        'submitBatch 415',
        'getBatch 200',
        'getBatch 401',
        'getBatch 404',
        'getBatch 405',
        'listBatches 200',
        'listBatches 400',
        'listBatches 401',
        'listBatches 405',
        // The generic refusals call it with an id no batch has: 404 comes before the query.
        'listBatchGenerations 200',
        'listBatchGenerations 401',
        'listBatchGenerations 404',
        'listBatchGenerations 405',
        'getBatchReport 401',
        'getBatchReport 404',
        'getBatchReport 405',
        'cancelBatch 200',
        'cancelBatch 401',
        'cancelBatch 404',
        'cancelBatch 409',
      ].sort(),
    );
  }, 60_000);
});

describe('the README', () => {
  let folder: string | undefined;
  afterAll(() => (folder === undefined ? undefined : rm(folder, { recursive: true, force: true })));

  it('gives requests under "The HTTP API" that, run with bash and curl as printed, answer as its comments say', async () => {
    const readme = await readFile(join(PROJECT_ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('\n## The HTTP API\n'));
    const block = /```bash\n([\s\S]*?)```/.exec(section.slice(0, section.indexOf('\n## ', 4)))?.[1];
    expect(block, 'the README has a bash block under "The HTTP API"').toBeDefined();
    const { assignments, steps } = readmeSteps(block as string);
    // As printed, for `npm start` in the project folder: the default port and data dir.
    expect(assignments).toEqual([
      'API=http://127.0.0.1:3000',
      'KEY=$(cat .spark-t2i/local-api-key)',
    ]);
    // A folder whose .spark-t2i is this runtime's data dir, for the block's KEY line.
    folder = await mkdtemp(join(tmpdir(), 'spark-t2i-readme-'));
    await symlink(runtime.dataDir, join(folder, '.spark-t2i'));
    const preamble = [`API=${runtime.endpoints.api}`, assignments[1]].join('\n');

    // What the comments of the block say each request answers.
    const expected: Array<{ comment: RegExp; command: RegExp; statuses: number[] }> = [
      { comment: /^Submit \(202\)/, command: /-X POST .*Idempotency-Key/s, statuses: [202] },
      { comment: /^One generation/, command: /\/generations\/<id> /, statuses: [200] },
      { comment: /^List, newest first/, command: /\/generations\?status=/, statuses: [200] },
      {
        comment: /^Cancel .*\(409 once it has ended\)/,
        command: /-X DELETE/,
        statuses: [200, 409],
      },
      { comment: /^Bad input answers 400/, command: /-X POST/, statuses: [400] },
      { comment: /^$/, command: /\/openapi\.json$/, statuses: [200] },
    ];
    expect(steps).toHaveLength(expected.length);
    let id: string | undefined;
    for (const [index, step] of steps.entries()) {
      const want = expected[index] as (typeof expected)[number];
      expect(step.comment, step.command).toMatch(want.comment);
      expect(step.command).toMatch(want.command);
      const command = step.command.replaceAll('<id>', id ?? '<id>');
      const { stdout } = await run(
        'bash',
        ['-c', `set -eu\n${preamble}\n${command} -w '\\n%{http_code}'`],
        {
          cwd: folder,
        },
      );
      const status = Number(stdout.slice(stdout.lastIndexOf('\n') + 1));
      const body = JSON.parse(stdout.slice(0, stdout.lastIndexOf('\n'))) as Record<string, unknown>;
      expect(want.statuses, `${command}\nanswered ${stdout}`).toContain(status);
      if (status >= 400) {
        expect((body.error as { code?: string } | undefined)?.code).toMatch(/^\d{9}$/);
      }
      if (index === 0) id = body.id as string;
      // An answer printed under the request: its plain "key":"value" pairs are in the real one.
      for (const [, key, value] of (step.answer ?? '').matchAll(/"([^"]+)":"([^"…]*)"/g)) {
        expect(JSON.stringify(body), `${command}: "${key}":"${value}"`).toContain(
          `"${key}":"${value}"`,
        );
      }
    }
    expect(steps.at(-2)?.answer).toContain('"code":"003001006"');
  });
});

/**
 * The bash block's variable assignments, and its commands, each with the comment above it and
 * the answer printed below it (a `# {...}` line), backslash-continued lines joined.
 */
function readmeSteps(block: string): {
  assignments: string[];
  steps: Array<{ comment: string; command: string; answer?: string }>;
} {
  const assignments: string[] = [];
  const steps: Array<{ comment: string; command: string; answer?: string }> = [];
  let comment: string[] = [];
  const lines = block.split('\n');
  for (let index = 0; index < lines.length; index++) {
    let line = lines[index] as string;
    if (line.trim() === '') {
      comment = [];
      continue;
    }
    if (line.startsWith('#')) {
      const text = line.replace(/^#\s?/, '');
      const last = steps.at(-1);
      if (text.startsWith('{') && comment.length === 0 && last !== undefined) last.answer = text;
      else comment.push(text);
      continue;
    }
    while (line.endsWith('\\') && index + 1 < lines.length) {
      line = `${line.slice(0, -1).trimEnd()} ${(lines[++index] as string).trim()}`;
    }
    if (/^[A-Z_]+=/.test(line)) assignments.push(line);
    else steps.push({ comment: comment.join(' '), command: line });
    comment = [];
  }
  return { assignments, steps };
}
