import './env.ts';
import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import {
  bodyOf,
  documentedBodyOf,
  EXPECTED_HEADERS,
  errorOf,
  expectInternalErrorHiding,
  fakeIdempotencyTable,
  lambdaContext,
  loadApiFunction,
  STATE_MACHINE_ARN,
  submitEvent,
  TABLES,
} from './support.ts';
import 'aws-sdk-client-mock-vitest/extend';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { IN_PROGRESS_WAIT } from '#shared/api/idempotency.ts';
import { DEFAULT_METADATA_MAX_BYTES } from '#shared/api/limits.ts';
import { generationAcceptedSchema } from '#shared/api/schemas.ts';
import { submitGeneration } from '#shared/api/use-cases/submit.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';
import { GenerationRepository } from '#shared/generation/repository.ts';

const { handler, documents, stepFunctions, idempotencyDb } =
  await loadApiFunction('submit-generation');

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const validBody = { prompt: 'a lighthouse at dawn', seed: 42, width: 1024, height: 1024 };

let order: string[];

beforeEach(() => {
  order = [];
  documents.on(PutCommand).callsFake(() => {
    order.push('put');
    return {};
  });
  documents.on(UpdateCommand).resolves({});
  stepFunctions.on(StartExecutionCommand).callsFake((input: StartExecutionCommand['input']) => {
    order.push('start');
    return {
      executionArn: `${STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:')}:${input.name}`,
      startDate: new Date(),
    };
  });
  fakeIdempotencyTable(idempotencyDb);
});

describe('POST /generations', () => {
  it('answers 202 with the queued generation and records it before starting its execution', async () => {
    // Prepare
    const event = submitEvent(validBody, { requestId: 'apigw-req-7' });

    // Act
    const result = await handler(event, lambdaContext());

    // Assess
    const body = documentedBodyOf(result, 202, generationAcceptedSchema);
    const id = body.id as string;
    expect(id).toMatch(UUID);
    expect(body).toEqual({ id, status: 'queued', links: { self: `/generations/${id}` } });
    expect(order).toEqual(['put', 'start']);
    const request = {
      prompt: 'a lighthouse at dawn',
      use_pre_llm: true,
      seed: 42,
      width: 1024,
      height: 1024,
    };
    expect(documents).toHaveReceivedCommandWith(PutCommand, {
      TableName: TABLES.generations,
      ConditionExpression: 'attribute_not_exists(id)',
      Item: {
        id,
        owner: 'alice',
        status: 'queued',
        ownerStatus: 'alice#queued',
        request,
        source: 'http',
        sourceRef: 'http:apigw-req-7',
        polls: 0,
        images: [],
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
        unfinished: 'unfinished',
        expiresAt: expect.any(Number),
      },
    });
    const start = stepFunctions.commandCalls(StartExecutionCommand)[0]?.args[0].input;
    expect(start?.stateMachineArn).toBe(STATE_MACHINE_ARN);
    expect(start?.name).toBe(id);
    expect(JSON.parse(start?.input ?? '{}')).toEqual({
      id,
      request,
      source: 'http',
      sourceRef: 'http:apigw-req-7',
      owner: 'alice',
      webhookEvents: [],
    });
    expect(idempotencyDb).not.toHaveReceivedAnyCommand();
  });

  it('writes the record with its expiry, 90 days after its creation in epoch seconds', async () => {
    // Act
    const result = await handler(submitEvent(validBody), lambdaContext());

    // Assess
    expect(result.statusCode).toBe(202);
    const item = documents.commandCalls(PutCommand)[0]?.args[0].input.Item ?? {};
    expect(item.expiresAt).toBe(
      Math.floor(Date.parse(String(item.createdAt)) / 1000) + 90 * 86_400,
    );
  });

  it('applies the request defaults and trims the prompt', async () => {
    // Act
    const result = await handler(submitEvent({ prompt: '  a cat  ' }), lambdaContext());

    // Assess
    expect(result.statusCode).toBe(202);
    const item = documents.commandCalls(PutCommand)[0]?.args[0].input.Item;
    expect(item?.request).toEqual({
      prompt: 'a cat',
      use_pre_llm: true,
      seed: -1,
      width: 1328,
      height: 1328,
    });
  });

  it('answers the warning of a prompt longer than recommended', async () => {
    // Act
    const result = await handler(submitEvent({ prompt: 'p'.repeat(121) }), lambdaContext());

    // Assess
    expect(result.statusCode).toBe(202);
    expect(bodyOf(result).warnings).toEqual([
      { code: '090001901', message: expect.stringContaining('121 characters') },
    ]);
  });

  it('stores the metadata object with the generation, as its JSON text', async () => {
    // Prepare
    const metadata = { campaign: 'spring', tags: ['a', 'b'], n: 1 };

    // Act
    const result = await handler(submitEvent({ ...validBody, metadata }), lambdaContext());

    // Assess
    expect(result.statusCode).toBe(202);
    expect(documents.commandCalls(PutCommand)[0]?.args[0].input.Item?.metadata).toBe(
      JSON.stringify(metadata),
    );
  });

  it.each([
    ['an integer past 2^53', '{"n":9007199254740993}'],
    ['1e16', '{"n":1e16}'],
    ['a magnitude above DynamoDB numbers', '{"n":1e126}'],
    ['a magnitude below DynamoDB numbers', '{"n":1e-131}'],
    ['the smallest negative double', '{"a":{"":-5e-324}}'],
    ['33 levels of nesting', `${'{"a":'.repeat(33)}1${'}'.repeat(33)}`],
    ['an empty key and an empty list', '{"":[],"b":{}}'],
  ])('accepts metadata with %s, in a record DynamoDB can store', async (_name, text) => {
    // Prepare
    const event = submitEvent('');
    event.body = `{"prompt":"a lighthouse at dawn","metadata":${text}}`;

    // Act
    const result = await handler(event, lambdaContext());

    // Assess
    expect(result.statusCode).toBe(202);
    const item = documents.commandCalls(PutCommand)[0]?.args[0].input.Item ?? {};
    expect(JSON.parse(item.metadata as string)).toEqual(JSON.parse(text));
    // What the document client does before sending: it throws on what DynamoDB cannot store.
    expect(() => marshall(item, { removeUndefinedValues: true })).not.toThrow();
  });

  it('accepts application/json with a charset and a base64-encoded body', async () => {
    // Prepare
    const event = submitEvent('', {
      headers: { 'content-type': 'application/json; charset=utf-8' },
    });
    event.body = Buffer.from(JSON.stringify(validBody)).toString('base64');
    event.isBase64Encoded = true;

    // Act
    const result = await handler(event, lambdaContext());

    // Assess
    expect(result.statusCode).toBe(202);
  });

  it.each([
    ['form encoded', { 'Content-Type': 'application/x-www-form-urlencoded' }],
    ['multipart', { 'Content-Type': 'multipart/form-data; boundary=x' }],
    ['XML', { 'Content-Type': 'application/xml' }],
    ['a JSON look-alike', { 'Content-Type': 'application/jsonp' }],
    ['absent', {}],
    ['empty', { 'Content-Type': '' }],
    [
      'text/plain (what fetch sends for a string body)',
      { 'Content-Type': 'text/plain;charset=UTF-8' },
    ],
    ['JSON in UTF-16', { 'Content-Type': 'application/json; charset=utf-16' }],
  ])('answers 415 090004006 when the content type is %s', async (_name, headers) => {
    // Prepare
    const event = submitEvent(validBody);
    event.headers = { Host: 'api.example.com', ...headers };

    // Act
    const result = await handler(event, lambdaContext());

    // Assess
    expect(result.statusCode).toBe(415);
    expect(result.headers).toEqual(EXPECTED_HEADERS);
    expect(errorOf(result).code).toBe(ErrorCodes.API_UNSUPPORTED_MEDIA_TYPE);
    expect(documents).not.toHaveReceivedAnyCommand();
  });

  it.each([
    ['a +json type', { 'Content-Type': 'application/vnd.api+json' }],
    ['JSON with its charset, in capitals', { 'Content-Type': 'Application/JSON; charset=UTF-8' }],
    ['JSON with a quoted charset', { 'Content-Type': 'application/json; charset="utf-8"' }],
  ])('reads the body as JSON when it is sent with %s', async (_name, headers) => {
    // Prepare
    const event = submitEvent(validBody, { headers });
    event.headers = headers;

    // Act
    const result = await handler(event, lambdaContext());

    // Assess
    expect(result.statusCode).toBe(202);
  });

  /** POST /generations with these bytes as the body, as API Gateway delivers a binary type. */
  const bytesEvent = (bytes: Uint8Array) => {
    const event = submitEvent('');
    event.body = Buffer.from(bytes).toString('base64');
    event.isBase64Encoded = true;
    return event;
  };
  const utf8 = (text: string) => new Uint8Array(Buffer.from(text, 'utf8'));
  const join = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));
  const body = JSON.stringify(validBody);

  it.each([
    ['a lone continuation byte', join(utf8('{"prompt":"a'), Uint8Array.of(0x80), utf8('"}'))],
    ['a truncated sequence', join(utf8('{"prompt":"a'), Uint8Array.of(0xe2, 0x82), utf8('"}'))],
    ['an overlong encoding', join(utf8('{"prompt":"'), Uint8Array.of(0xc0, 0xaf), utf8('"}'))],
    [
      'an encoded surrogate',
      join(utf8('{"prompt":"'), Uint8Array.of(0xed, 0xa0, 0x80), utf8('"}')),
    ],
    ['Latin-1 text', new Uint8Array(Buffer.from('{"prompt":"café"}', 'latin1'))],
    [
      'UTF-16 with its byte-order mark',
      join(Uint8Array.of(0xff, 0xfe), new Uint8Array(Buffer.from(body, 'utf16le'))),
    ],
  ])('answers 400 090004014 for a body with %s', async (_name, bytes) => {
    // Act
    const result = await handler(bytesEvent(bytes), lambdaContext());

    // Assess
    expect(result.statusCode).toBe(400);
    expect(result.headers).toEqual(EXPECTED_HEADERS);
    expect(errorOf(result).code).toBe(ErrorCodes.API_BODY_NOT_UTF8);
    expect(documents).not.toHaveReceivedAnyCommand();
  });

  it.each([
    ['a lone high surrogate', '{"prompt":"a \\ud800 b"}'],
    ['a lone low surrogate in metadata', '{"prompt":"a","metadata":{"k":"\\udc00"}}'],
    ['a lone surrogate in a key', '{"prompt":"a","metadata":{"\\udbff":1}}'],
  ])('answers 400 090004014 for JSON escaping %s', async (_name, text) => {
    // Act
    const result = await handler(submitEvent(text), lambdaContext());

    // Assess
    expect(result.statusCode).toBe(400);
    expect(errorOf(result).code).toBe(ErrorCodes.API_BODY_NOT_UTF8);
    expect(documents).not.toHaveReceivedAnyCommand();
  });

  it('reads a UTF-8 body that starts with a byte-order mark, and a surrogate pair escaped whole', async () => {
    // Prepare
    const text = '{"prompt":"a lighthouse \\ud83c\\udf05 at dawn"}';
    const event = bytesEvent(join(Uint8Array.of(0xef, 0xbb, 0xbf), utf8(text)));

    // Act
    const result = await handler(event, lambdaContext());

    // Assess
    expect(result.statusCode).toBe(202);
    const item = documents.commandCalls(PutCommand)[0]?.args[0].input.Item;
    expect(item?.request.prompt).toBe('a lighthouse \u{1F305} at dawn');
  });

  it.each([
    [
      'metadata nested 5,000 deep',
      `{"prompt":"x","metadata":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`,
    ],
    ['a body of arrays nested 5,000 deep', `${'['.repeat(5000)}${']'.repeat(5000)}`],
    [
      'metadata one level past the limit',
      `{"prompt":"x","metadata":${'{"a":'.repeat(64)}1${'}'.repeat(64)}}`,
    ],
  ])('answers 400 090004015 for %s, before anything serialises it', async (_name, text) => {
    // Act
    const result = await handler(
      submitEvent(text, { headers: { 'Idempotency-Key': 'deep' } }),
      lambdaContext(),
    );

    // Assess
    expect(result.statusCode).toBe(400);
    expect(errorOf(result).code).toBe(ErrorCodes.API_BODY_TOO_DEEP);
    expect(documents).not.toHaveReceivedAnyCommand();
    expect(idempotencyDb).not.toHaveReceivedAnyCommand();
  });

  it('refuses metadata nested 5,000 deep with 400 090004010 when it is given already parsed', async () => {
    // Prepare: a caller of the domain code that did not come through readJsonBody.
    let metadata: Record<string, unknown> = { leaf: 1 };
    for (let level = 0; level < 5000; level++) metadata = { a: metadata };
    const submit = submitGeneration({
      repository: new GenerationRepository(
        DynamoDBDocumentClient.from(new DynamoDBClient({})),
        TABLES.generations,
      ),
      executions: { start: async () => undefined },
      metadataMaxBytes: DEFAULT_METADATA_MAX_BYTES,
      webhookPolicy: { insecureOrigins: [] },
      idempotency: (start) => start,
      now: () => new Date(),
      newId: () => 'gen-1',
    });

    // Act
    const submitted = submit('alice', { prompt: 'x', metadata }, { requestId: 'r-1' });

    // Assess
    await expect(submitted).rejects.toMatchObject({
      status: 400,
      code: ErrorCodes.API_INVALID_METADATA,
    });
    expect(documents).not.toHaveReceivedAnyCommand();
  });

  it('accepts metadata nested as deep as the limit allows, and brackets inside strings', async () => {
    // Prepare: the body at 64 levels, metadata at 63.
    const metadata = `${'{"a":'.repeat(62)}{"s":"[[[{{{"}${'}'.repeat(62)}`;

    // Act
    const result = await handler(
      submitEvent(`{"prompt":"x","metadata":${metadata}}`),
      lambdaContext(),
    );

    // Assess
    expect(result.statusCode).toBe(202);
  });

  it('answers 413 for an oversize body before looking at its type or its Idempotency-Key', async () => {
    // Prepare
    const event = submitEvent(
      { prompt: 'x', padding: 'y'.repeat(64 * 1024) },
      { headers: { 'Content-Type': 'application/xml', 'Idempotency-Key': '' } },
    );

    // Act
    const result = await handler(event, lambdaContext());

    // Assess
    expect(result.statusCode).toBe(413);
    expect(errorOf(result).code).toBe(ErrorCodes.API_BODY_TOO_LARGE);
  });

  it('answers 413 090004005 when the body is over 64 KB', async () => {
    // Prepare
    const event = submitEvent({ prompt: 'x', padding: 'y'.repeat(64 * 1024) });

    // Act
    const result = await handler(event, lambdaContext());

    // Assess
    expect(result.statusCode).toBe(413);
    expect(errorOf(result).code).toBe(ErrorCodes.API_BODY_TOO_LARGE);
    expect(documents).not.toHaveReceivedAnyCommand();
  });

  it.each([
    ['not JSON', '{"prompt": '],
    ['empty', ''],
    ['plain text', 'a lighthouse'],
  ])('answers 400 090004004 when the body is %s', async (_name, body) => {
    // Act
    const result = await handler(submitEvent(body), lambdaContext());

    // Assess
    expect(result.statusCode).toBe(400);
    expect(result.headers).toEqual(EXPECTED_HEADERS);
    expect(errorOf(result)).toEqual({
      code: ErrorCodes.API_BODY_NOT_JSON,
      message: 'The request body is not valid JSON',
    });
  });

  it.each([
    ['no prompt', { seed: 5 }, ErrorCodes.MISSING_PROMPT],
    ['an empty prompt', { prompt: '   ' }, ErrorCodes.INVALID_PROMPT_LENGTH],
    ['a string use_pre_llm', { prompt: 'x', use_pre_llm: 'yes' }, ErrorCodes.INVALID_USE_PRE_LLM],
    ['seed 0', { prompt: 'x', seed: 0 }, ErrorCodes.INVALID_SEED],
    ['only a width', { prompt: 'x', width: 1024 }, ErrorCodes.SIZE_PAIR_REQUIRED],
    ['a 4:1 size', { prompt: 'x', width: 2048, height: 512 }, ErrorCodes.INVALID_ASPECT_RATIO],
    ['an unknown field', { prompt: 'x', colour: 'red' }, ErrorCodes.UNKNOWN_FIELD],
    ['an array', [{ prompt: 'x' }], ErrorCodes.REQUEST_NOT_OBJECT],
    ['null', null, ErrorCodes.REQUEST_NOT_OBJECT],
  ])('answers 400 with the schema code when the body has %s', async (_name, body, code) => {
    // Act
    const result = await handler(submitEvent(body), lambdaContext());

    // Assess
    expect(result.statusCode).toBe(400);
    const error = errorOf(result);
    expect(error.code).toBe(code);
    expect(error.details?.[0]?.code).toBe(code);
    expect(documents).not.toHaveReceivedAnyCommand();
    expect(stepFunctions).not.toHaveReceivedAnyCommand();
  });

  it('lists every validation failure in details, the first rule first', async () => {
    // Act
    const result = await handler(submitEvent({ seed: 'x', extra: 1 }), lambdaContext());

    // Assess
    const error = errorOf(result);
    expect(error.code).toBe(ErrorCodes.MISSING_PROMPT);
    expect(error.details?.map((detail) => detail.code)).toEqual([
      ErrorCodes.MISSING_PROMPT,
      ErrorCodes.INVALID_SEED,
      ErrorCodes.UNKNOWN_FIELD,
    ]);
  });

  it.each([
    ['an array', ['a']],
    ['a string', 'campaign'],
    ['null', null],
    ['over 2 KB of JSON', { note: 'n'.repeat(2100) }],
    ['over 2 KB of multi-byte JSON', { note: '灯'.repeat(700) }],
  ])('answers 400 090004010 when metadata is %s', async (_name, metadata) => {
    // Act
    const result = await handler(submitEvent({ ...validBody, metadata }), lambdaContext());

    // Assess
    expect(result.statusCode).toBe(400);
    expect(errorOf(result).code).toBe(ErrorCodes.API_INVALID_METADATA);
    expect(documents).not.toHaveReceivedAnyCommand();
  });

  it('answers 401 090004001 when the authorizer gave no owner', async () => {
    // Act
    const result = await handler(submitEvent(validBody, { owner: null }), lambdaContext());

    // Assess
    expect(result.statusCode).toBe(401);
    expect(errorOf(result).code).toBe(ErrorCodes.API_UNAUTHORIZED);
    expect(documents).not.toHaveReceivedAnyCommand();
  });

  it('marks the record failed and answers a generic 500 when the execution cannot start', async () => {
    // Prepare
    stepFunctions
      .on(StartExecutionCommand)
      .rejects(new Error('AccessDeniedException: arn:aws:iam::123456789012:role/secret-role'));

    // Act
    const result = await handler(submitEvent(validBody), lambdaContext());

    // Assess
    expectInternalErrorHiding(result, 'secret-role');
    const id = documents.commandCalls(PutCommand)[0]?.args[0].input.Item?.id;
    expect(documents).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: TABLES.generations,
      Key: { id },
      ConditionExpression: '#status = :queued',
      ExpressionAttributeValues: expect.objectContaining({
        ':failed': 'failed',
        ':ownerStatus': 'alice#failed',
        ':error': { code: ErrorCodes.API_INTERNAL_ERROR, message: expect.any(String) },
      }),
    });
  });

  it('answers a generic 500 and starts nothing when the record cannot be written', async () => {
    // Prepare
    documents.on(PutCommand).rejects(new Error('ProvisionedThroughputExceededException'));

    // Act
    const result = await handler(submitEvent(validBody), lambdaContext());

    // Assess
    expect(result.statusCode).toBe(500);
    expect(errorOf(result).code).toBe(ErrorCodes.API_INTERNAL_ERROR);
    expect(stepFunctions).not.toHaveReceivedAnyCommand();
  });
});

describe('POST /generations with an Idempotency-Key', () => {
  const withKey = (body: unknown, key: string, owner = 'alice') =>
    submitEvent(body, { headers: { 'Idempotency-Key': key }, owner });

  it('answers the same generation to the same key and body, starting it once', async () => {
    // Prepare
    const first = await handler(withKey(validBody, 'order-1'), lambdaContext());

    // Act
    const again = await handler(
      withKey({ height: 1024, width: 1024, seed: 42, prompt: 'a lighthouse at dawn' }, 'order-1'),
      lambdaContext('lambda-request-2'),
    );

    // Assess
    expect(first.statusCode).toBe(202);
    expect(again.statusCode).toBe(202);
    expect(bodyOf(again)).toEqual(bodyOf(first));
    expect(documents).toHaveReceivedCommandTimes(PutCommand, 1);
    expect(stepFunctions).toHaveReceivedCommandTimes(StartExecutionCommand, 1);
    expect(idempotencyDb).toHaveReceivedCommandWith(PutItemCommand, {
      TableName: TABLES.idempotency,
    });
  });

  it('answers 409 090004007 to the same key with another body', async () => {
    // Prepare
    await handler(withKey(validBody, 'order-2'), lambdaContext());

    // Act
    const result = await handler(withKey({ ...validBody, seed: 43 }, 'order-2'), lambdaContext());

    // Assess
    expect(result.statusCode).toBe(409);
    expect(result.headers).toEqual(EXPECTED_HEADERS);
    expect(errorOf(result).code).toBe(ErrorCodes.API_IDEMPOTENCY_CONFLICT);
    expect(documents).toHaveReceivedCommandTimes(PutCommand, 1);
  });

  /** A first request with `key` held inside its StartExecution until `release` is called. */
  async function firstRequestInProgress(key: string) {
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    stepFunctions.on(StartExecutionCommand).callsFake(async () => {
      await held;
      return { executionArn: 'arn', startDate: new Date() };
    });
    const first = handler(withKey(validBody, key), lambdaContext());
    await vi.waitFor(() =>
      expect(stepFunctions).toHaveReceivedCommandTimes(StartExecutionCommand, 1),
    );
    return { first, release };
  }

  it('answers a duplicate that arrives while the first is in progress with the same generation, once the first is done', async () => {
    // Prepare
    const { first, release } = await firstRequestInProgress('order-3');

    // Act: the duplicate waits while the first is held, and the first ends a moment later.
    const second = handler(withKey(validBody, 'order-3'), lambdaContext('lambda-request-2'));
    setTimeout(release, 250);

    // Assess
    const [firstAnswer, secondAnswer] = await Promise.all([first, second]);
    expect(firstAnswer.statusCode).toBe(202);
    expect(secondAnswer.statusCode).toBe(202);
    expect(bodyOf(secondAnswer)).toEqual(bodyOf(firstAnswer));
    expect(stepFunctions).toHaveReceivedCommandTimes(StartExecutionCommand, 1);
  });

  it('answers 409 090004007 when the first request with the key is still in progress after the wait', async () => {
    // Prepare
    const { first, release } = await firstRequestInProgress('order-4');

    // Act (the duplicate waits IN_PROGRESS_WAIT, 3 s, before giving up)
    const started = Date.now();
    const second = await handler(withKey(validBody, 'order-4'), lambdaContext('lambda-request-2'));
    release();

    // Assess
    expect(Date.now() - started).toBeGreaterThanOrEqual(
      (IN_PROGRESS_WAIT.attempts - 1) * IN_PROGRESS_WAIT.delayMs,
    );
    expect(second.statusCode).toBe(409);
    expect(errorOf(second)).toEqual({
      code: ErrorCodes.API_IDEMPOTENCY_CONFLICT,
      message: expect.stringContaining('still in progress'),
    });
    expect((await first).statusCode).toBe(202);
  });

  it('keeps keys apart between owners', async () => {
    // Act
    const alice = await handler(withKey(validBody, 'shared-key', 'alice'), lambdaContext());
    const bob = await handler(withKey(validBody, 'shared-key', 'bob'), lambdaContext());

    // Assess
    expect(alice.statusCode).toBe(202);
    expect(bob.statusCode).toBe(202);
    expect(bodyOf(bob).id).not.toBe(bodyOf(alice).id);
    expect(stepFunctions).toHaveReceivedCommandTimes(StartExecutionCommand, 2);
  });

  it('lets the key be used again after a failed attempt', async () => {
    // Prepare
    stepFunctions
      .on(StartExecutionCommand)
      .rejectsOnce(new Error('ServiceUnavailable'))
      .resolves({});
    const failed = await handler(withKey(validBody, 'order-4'), lambdaContext());

    // Act
    const retried = await handler(withKey(validBody, 'order-4'), lambdaContext());

    // Assess
    expect(failed.statusCode).toBe(500);
    expect(retried.statusCode).toBe(202);
    expect(documents).toHaveReceivedCommandTimes(PutCommand, 2);
  });

  describe('when an earlier attempt recorded the generation but its answer was lost', () => {
    /** The generations table as a map: puts honour the condition a keyed put carries. */
    function generationsTable() {
      const items = new Map<string, Record<string, unknown>>();
      documents.on(PutCommand).callsFake((input: PutCommand['input']) => {
        const item = input.Item as Record<string, unknown>;
        const existing = items.get(String(item.id));
        const notStarted =
          existing?.status === 'failed' &&
          (existing.error as { message?: string } | undefined)?.message ===
            input.ExpressionAttributeValues?.[':notStarted'];
        if (existing && !notStarted) {
          throw new ConditionalCheckFailedException({ message: 'conditional', $metadata: {} });
        }
        items.set(String(item.id), item);
        return {};
      });
      documents
        .on(GetCommand)
        .callsFake((input: GetCommand['input']) => ({ Item: items.get(String(input.Key?.id)) }));
      return items;
    }

    it('answers the same generation, and starts no second one', async () => {
      // Prepare: the first attempt ran to the end, but its idempotency record is gone (the
      // function stopped before completing it, and the retry came after its expiry).
      const generations = generationsTable();
      const idempotencyRecords = fakeIdempotencyTable(idempotencyDb);
      const first = await handler(withKey(validBody, 'order-9'), lambdaContext());
      idempotencyRecords.clear();
      stepFunctions
        .on(StartExecutionCommand)
        .rejects(
          Object.assign(new Error('Execution already exists'), { name: 'ExecutionAlreadyExists' }),
        );

      // Act
      const again = await handler(withKey(validBody, 'order-9'), lambdaContext('lambda-request-2'));

      // Assess
      expect(first.statusCode).toBe(202);
      expect(again.statusCode).toBe(202);
      expect(bodyOf(again).id).toBe(bodyOf(first).id);
      expect(bodyOf(first).id).toMatch(/^k_[0-9a-f]{40}$/);
      expect(generations.size).toBe(1);
      const names = stepFunctions
        .commandCalls(StartExecutionCommand)
        .map((call) => call.args[0].input.name);
      expect(new Set(names)).toEqual(new Set([bodyOf(first).id]));
    });

    it('starts the recorded generation whose workflow the earlier attempt never started', async () => {
      // Prepare: recorded queued, and the attempt stopped before StartExecution.
      const generations = generationsTable();
      const idempotencyRecords = fakeIdempotencyTable(idempotencyDb);
      stepFunctions.on(StartExecutionCommand).rejectsOnce(new Error('the function was stopped'));
      documents.on(UpdateCommand).resolves({}); // the record stays queued, as after a kill
      await handler(withKey(validBody, 'order-10'), lambdaContext());
      idempotencyRecords.clear();
      stepFunctions
        .on(StartExecutionCommand)
        .resolves({ executionArn: 'arn', startDate: new Date() });

      // Act
      const retried = await handler(
        withKey(validBody, 'order-10'),
        lambdaContext('lambda-request-2'),
      );

      // Assess
      expect(retried.statusCode).toBe(202);
      const [id] = [...generations.keys()];
      expect(bodyOf(retried).id).toBe(id);
      expect(generations.size).toBe(1);
      expect(stepFunctions).toHaveReceivedCommandTimes(StartExecutionCommand, 2);
      expect(stepFunctions).toHaveReceivedNthCommandWith(StartExecutionCommand, 2, { name: id });
    });

    it('names another generation for another request under the same key', async () => {
      // Prepare
      generationsTable();
      const idempotencyRecords = fakeIdempotencyTable(idempotencyDb);
      const first = await handler(withKey(validBody, 'order-11'), lambdaContext());
      idempotencyRecords.clear(); // past the key's 24 h

      // Act
      const other = await handler(withKey({ ...validBody, seed: 7 }, 'order-11'), lambdaContext());

      // Assess
      expect(other.statusCode).toBe(202);
      expect(bodyOf(other).id).not.toBe(bodyOf(first).id);
    });
  });

  it.each([
    ['empty', ''],
    ['256 characters long', 'k'.repeat(256)],
    ['not ASCII', 'clé-1'],
    ['holding a control character', 'key\u0007'],
  ])('answers 400 090004012 when the key is %s', async (_name, key) => {
    // Act
    const result = await handler(withKey(validBody, key), lambdaContext());

    // Assess
    expect(result.statusCode).toBe(400);
    expect(errorOf(result).code).toBe(ErrorCodes.API_INVALID_IDEMPOTENCY_KEY);
    expect(documents).not.toHaveReceivedAnyCommand();
    expect(idempotencyDb).not.toHaveReceivedAnyCommand();
  });

  it('accepts a key of 255 printable characters', async () => {
    // Act
    const result = await handler(withKey(validBody, '~'.repeat(255)), lambdaContext());

    // Assess
    expect(result.statusCode).toBe(202);
  });

  describe('with a webhook', () => {
    it('stores the webhook on the record, its events defaulted', async () => {
      // Act
      const result = await handler(
        submitEvent({ ...validBody, webhook: { url: 'https://hooks.example.com/in' } }),
        lambdaContext(),
      );

      // Assess
      expect(result.statusCode).toBe(202);
      const start = stepFunctions.commandCalls(StartExecutionCommand)[0]?.args[0].input;
      expect(JSON.parse(start?.input ?? '{}').webhookEvents).toEqual([
        'generation.completed',
        'generation.failed',
        'generation.cancelled',
      ]);
      expect(documents).toHaveReceivedCommandWith(PutCommand, {
        Item: expect.objectContaining({
          webhook: {
            url: 'https://hooks.example.com/in',
            events: ['generation.completed', 'generation.failed', 'generation.cancelled'],
          },
        }),
      });
    });

    it.each([
      [
        'an unknown event',
        { url: 'https://h.example.com', events: ['x'] },
        ErrorCodes.WEBHOOK_INVALID,
      ],
      [
        'a batch event',
        { url: 'https://h.example.com', events: ['batch.completed'] },
        ErrorCodes.WEBHOOK_INVALID,
      ],
      ['plain http', { url: 'http://h.example.com/in' }, ErrorCodes.WEBHOOK_URL_REFUSED],
      [
        'credentials in the URL',
        { url: 'https://u:p@h.example.com/in' },
        ErrorCodes.WEBHOOK_URL_REFUSED,
      ],
      ['the metadata address', { url: 'https://169.254.169.254/' }, ErrorCodes.WEBHOOK_URL_REFUSED],
      ['a loopback receiver', { url: 'http://127.0.0.1:9000/in' }, ErrorCodes.WEBHOOK_URL_REFUSED],
    ])('answers 400 for %s, recording nothing', async (_name, webhook, code) => {
      // Act
      const result = await handler(submitEvent({ ...validBody, webhook }), lambdaContext());

      // Assess
      expect(result.statusCode).toBe(400);
      expect(errorOf(result).code).toBe(code);
      expect(documents).not.toHaveReceivedCommand(PutCommand);
      expect(stepFunctions).not.toHaveReceivedAnyCommand();
    });
  });
});
