import './env.ts';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyResult } from 'aws-lambda';
import {
  apiEvent,
  bodyOf,
  CURSOR_SECRET,
  CURSOR_SECRET_ID,
  completedRecord,
  documentedBodyOf,
  errorOf,
  lambdaContext,
  loadApiFunction,
  mockCursorSecret,
  storedRecord,
  TABLES,
} from './support.ts';
import 'aws-sdk-client-mock-vitest/extend';
import { describe, expect, it } from 'vitest';
import { CursorCodec } from '#shared/api/cursor.ts';
import { generationPageSchema } from '#shared/api/schemas.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';

const secrets = mockCursorSecret();

const { handler, documents } = await loadApiFunction('list-generations');
const secretReadsAtImport = secrets.commandCalls(GetSecretValueCommand).length;

const listEvent = (query: Record<string, string> | null = null, owner: string | null = 'alice') =>
  apiEvent({ path: '/generations', query, owner });

/** A 400 090004008 for the query, answered before anything was read. */
function expectRefusedBeforeReading(result: APIGatewayProxyResult): void {
  expect(result.statusCode).toBe(400);
  expect(errorOf(result).code).toBe(ErrorCodes.API_INVALID_QUERY);
  expect(documents).not.toHaveReceivedAnyCommand();
}

/** Records newest first, as the index answers. */
function records(count: number, owner = 'alice'): Record<string, unknown>[] {
  return Array.from({ length: count }, (_, index) =>
    storedRecord({
      id: `gen-${count - index}`,
      owner,
      ownerStatus: `${owner}#queued`,
      createdAt: `2024-05-01T10:00:${String(59 - index).padStart(2, '0')}.000Z`,
    }),
  );
}

/** A real cursor, as the first page of `query` gives it. */
async function cursorFor(query: Record<string, string> = {}, owner = 'alice'): Promise<string> {
  documents.on(QueryCommand).resolvesOnce({ Items: records(3, owner) });
  const page = await handler(listEvent({ ...query, limit: '2' }, owner), lambdaContext());
  const cursor = bodyOf(page).nextCursor;
  if (typeof cursor !== 'string') throw new Error('the first page had no cursor');
  documents.reset();
  return cursor;
}

describe('GET /generations', () => {
  it("answers the owner's generations newest first from a Query on the owner index", async () => {
    // Prepare
    documents.on(QueryCommand).resolves({ Items: [completedRecord(), ...records(2)] });

    // Act
    const result = await handler(listEvent(), lambdaContext());

    // Assess
    const body = documentedBodyOf(result, 200, generationPageSchema);
    expect((body.items as { id: string }[]).map((item) => item.id)).toEqual([
      'gen-1',
      'gen-2',
      'gen-1',
    ]);
    expect(body).not.toHaveProperty('nextCursor');
    expect(documents).toHaveReceivedCommandWith(QueryCommand, {
      TableName: TABLES.generations,
      IndexName: 'byOwner',
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': 'owner' },
      ExpressionAttributeValues: { ':pk': 'alice' },
      ScanIndexForward: false,
      Limit: 21,
    });
    expect(documents).not.toHaveReceivedCommand(ScanCommand);
  });

  it('queries the owner-and-status index when a status is given', async () => {
    // Prepare
    documents.on(QueryCommand).resolves({ Items: [] });

    // Act
    const result = await handler(listEvent({ status: 'running', limit: '5' }), lambdaContext());

    // Assess
    expect(result.statusCode).toBe(200);
    expect(bodyOf(result)).toEqual({ items: [] });
    expect(documents).toHaveReceivedCommandWith(QueryCommand, {
      IndexName: 'byOwnerStatus',
      ExpressionAttributeNames: { '#pk': 'ownerStatus' },
      ExpressionAttributeValues: { ':pk': 'alice#running' },
      ScanIndexForward: false,
      Limit: 6,
    });
  });

  it('gives a cursor when there is another page, and continues from the last item with it', async () => {
    // Prepare
    documents.on(QueryCommand).resolvesOnce({ Items: records(3) });
    const first = await handler(listEvent({ limit: '2' }), lambdaContext());
    const firstBody = bodyOf(first);
    documents.reset();
    documents.on(QueryCommand).resolves({ Items: records(1) });

    // Act
    const second = await handler(
      listEvent({ limit: '2', cursor: firstBody.nextCursor as string }),
      lambdaContext(),
    );

    // Assess
    expect((firstBody.items as unknown[]).length).toBe(2);
    expect(firstBody.nextCursor).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(second.statusCode).toBe(200);
    expect(bodyOf(second)).not.toHaveProperty('nextCursor');
    expect(documents).toHaveReceivedCommandWith(QueryCommand, {
      ExclusiveStartKey: { id: 'gen-2', owner: 'alice', createdAt: '2024-05-01T10:00:58.000Z' },
    });
  });

  it('has no cursor on a last page that is exactly full', async () => {
    // Prepare
    documents.on(QueryCommand).resolves({ Items: records(2) });

    // Act
    const result = await handler(listEvent({ limit: '2' }), lambdaContext());

    // Assess
    expect(bodyOf(result)).not.toHaveProperty('nextCursor');
  });

  it('continues from where DynamoDB stopped when it answered less than a page', async () => {
    // Prepare
    const stoppedAt = { id: 'gen-9', owner: 'alice', createdAt: '2024-05-01T09:00:00.000Z' };
    documents.on(QueryCommand).resolvesOnce({ Items: records(1), LastEvaluatedKey: stoppedAt });
    const first = await handler(listEvent(), lambdaContext());
    documents.reset();
    documents.on(QueryCommand).resolves({ Items: [] });

    // Act
    await handler(listEvent({ cursor: bodyOf(first).nextCursor as string }), lambdaContext());

    // Assess
    expect(documents).toHaveReceivedCommandWith(QueryCommand, { ExclusiveStartKey: stoppedAt });
  });

  it.each([
    ['0', '0'],
    ['101', '101'],
    ['not a number', 'ten'],
    ['negative', '-1'],
    ['a fraction', '1.5'],
    ['empty', ''],
    ['padded past three digits', '0010'],
  ])('answers 400 090004008 when limit is %s', async (_name, limit) => {
    // Act
    const result = await handler(listEvent({ limit }), lambdaContext());

    // Assess
    expect(result.statusCode).toBe(400);
    expect(errorOf(result)).toMatchObject({
      code: ErrorCodes.API_INVALID_QUERY,
      details: [{ code: ErrorCodes.API_INVALID_QUERY, field: 'limit' }],
    });
    expect(documents).not.toHaveReceivedAnyCommand();
  });

  it.each(['1', '100'])('accepts limit %s', async (limit) => {
    // Prepare
    documents.on(QueryCommand).resolves({ Items: [] });

    // Act
    const result = await handler(listEvent({ limit }), lambdaContext());

    // Assess
    expect(result.statusCode).toBe(200);
  });

  it.each(['done', 'QUEUED', ''])('answers 400 090004008 when status is "%s"', async (status) => {
    // Act
    const result = await handler(listEvent({ status }), lambdaContext());

    // Assess
    expectRefusedBeforeReading(result);
  });
});

describe('GET /generations cursors', () => {
  it('refuses a cursor whose position was changed', async () => {
    // Prepare
    const cursor = await cursorFor();
    const [payload, signature] = cursor.split('.') as [string, string];
    const key = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<
      string,
      string
    >;
    const moved = Buffer.from(JSON.stringify({ ...key, id: 'gen-0' })).toString('base64url');

    // Act
    const result = await handler(listEvent({ cursor: `${moved}.${signature}` }), lambdaContext());

    // Assess
    expectRefusedBeforeReading(result);
  });

  it('refuses a cursor with a changed signature', async () => {
    // Prepare
    const cursor = await cursorFor();
    const last = cursor.at(-2) === 'A' ? 'B' : 'A';
    const tampered = `${cursor.slice(0, -2)}${last}${cursor.at(-1)}`;

    // Act
    const result = await handler(listEvent({ cursor: tampered }), lambdaContext());

    // Assess
    expect(result.statusCode).toBe(400);
    expect(errorOf(result).code).toBe(ErrorCodes.API_INVALID_QUERY);
  });

  it("refuses another owner's cursor", async () => {
    // Prepare
    const bobsCursor = await cursorFor({}, 'bob');

    // Act
    const result = await handler(listEvent({ cursor: bobsCursor }, 'alice'), lambdaContext());

    // Assess
    expectRefusedBeforeReading(result);
  });

  it('refuses a cursor made for another status filter', async () => {
    // Prepare
    const cursor = await cursorFor({ status: 'queued' });

    // Act
    const result = await handler(listEvent({ cursor }), lambdaContext());

    // Assess
    expect(result.statusCode).toBe(400);
    expect(errorOf(result).code).toBe(ErrorCodes.API_INVALID_QUERY);
  });

  it("refuses a well-formed cursor that points into another owner's partition", async () => {
    // Prepare: signed with the right secret for alice, but holding bob's position.
    const codec = new CursorCodec(CURSOR_SECRET);
    const cursor = codec.encode('alice', '*', {
      id: 'gen-1',
      owner: 'bob',
      createdAt: '2024-05-01T10:00:00.000Z',
    });

    // Act
    const result = await handler(listEvent({ cursor }), lambdaContext());

    // Assess
    expect(result.statusCode).toBe(400);
    expect(documents).not.toHaveReceivedAnyCommand();
  });

  it.each([
    ['garbage', 'not-a-cursor'],
    ['empty', ''],
    ['three parts', 'a.b.c'],
    ['not base64url', '!!!.???'],
    ['very long', 'a'.repeat(5000)],
    [
      'signed with another secret',
      new CursorCodec('another-secret-of-some-length-32-chars').encode('alice', '*', {
        id: 'x',
        owner: 'alice',
        createdAt: 'y',
      }),
    ],
  ])('refuses a cursor that is %s', async (_name, cursor) => {
    // Act
    const result = await handler(listEvent({ cursor }), lambdaContext());

    // Assess
    expectRefusedBeforeReading(result);
  });
  it.each([
    ['only the partition', { owner: 'alice' }],
    ['no sort key', { id: 'gen-1', owner: 'alice' }],
    ['an extra attribute', { id: 'gen-1', owner: 'alice', createdAt: 'x', status: 'queued' }],
    ['an empty id', { id: '', owner: 'alice', createdAt: '2024-05-01T10:00:00.000Z' }],
    ['the status index key on the owner index', { id: 'g', ownerStatus: 'alice', createdAt: 'x' }],
  ])(
    'answers 400 090004008, not a 500, for a cursor that verifies but holds a key with %s',
    async (_name, key) => {
      // Prepare: signed with the right secret, so only its shape is wrong.
      const cursor = new CursorCodec(CURSOR_SECRET).encode('alice', '*', key);

      // Act
      const result = await handler(listEvent({ cursor }), lambdaContext());

      // Assess
      expectRefusedBeforeReading(result);
    },
  );
});

describe('the cursor secret', () => {
  it('is read from Secrets Manager once, by the first request, and not again', async () => {
    // Prepare
    documents.on(QueryCommand).resolves({ Items: records(1) });

    // Act
    for (let call = 0; call < 3; call++) await handler(listEvent(), lambdaContext());

    // Assess
    // Importing the module called nothing: it loads anywhere (the benchmarks import each bundle).
    expect(secretReadsAtImport).toBe(0);
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    expect(secrets.commandCalls(GetSecretValueCommand)[0]?.args[0].input.SecretId).toBe(
      CURSOR_SECRET_ID,
    );
  });

  it('has no default: without CURSOR_SECRET_ID, or with a short secret, the function does not start', async () => {
    // Prepare
    const { cursorSecretFromEnv } = await import('#shared/api/config.ts');
    const shortId = `${CURSOR_SECRET_ID}-short`;
    secrets
      .on(GetSecretValueCommand, { SecretId: shortId })
      .resolves({ SecretString: 'x'.repeat(31) });

    // Act, Assess
    await expect(cursorSecretFromEnv({})).rejects.toThrow(/CURSOR_SECRET_ID/);
    await expect(cursorSecretFromEnv({ CURSOR_SECRET_ID: shortId })).rejects.toThrow(
      /at least 32 characters/,
    );
  });
});

describe('GET /generations failures', () => {
  it('answers 401 090004001 when the authorizer gave no owner', async () => {
    // Act
    const result = await handler(listEvent(null, null), lambdaContext());

    // Assess
    expect(result.statusCode).toBe(401);
    expect(errorOf(result).code).toBe(ErrorCodes.API_UNAUTHORIZED);
  });

  it('answers a generic 500 when the Query fails', async () => {
    // Prepare
    documents.on(QueryCommand).rejects(new Error('ValidationException: index byOwner missing'));

    // Act
    const result = await handler(listEvent(), lambdaContext());

    // Assess
    expect(result.statusCode).toBe(500);
    expect(errorOf(result).code).toBe(ErrorCodes.API_INTERNAL_ERROR);
    expect(result.body).not.toContain('byOwner');
  });
});
