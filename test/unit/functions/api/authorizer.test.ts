import './env.ts';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { lambdaContext, TABLES, tokenEvent } from './support.ts';
import 'aws-sdk-client-mock-vitest/extend';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { hashApiKey } from '#shared/api/keys.ts';

const documents = mockClient(DynamoDBDocumentClient);

// Logs are kept (and read) here, to show that no key reaches them.
process.env.POWERTOOLS_LOG_LEVEL = 'DEBUG';
// The function reads its configuration at cold start: support.ts has set it by now.
const { handler } = await import('../../../../functions/authorizer/handler.ts');

const KEY = 'sk_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde';

let lines: string[];

beforeEach(() => {
  lines = [];
  for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      lines.push(args.map(String).join(' '));
    });
  }
  documents.reset();
  documents.on(GetCommand).resolves({});
  documents.on(GetCommand, { Key: { keyHash: hashApiKey(KEY) } }).resolves({
    Item: { keyHash: hashApiKey(KEY), owner: 'alice', createdAt: '2024-01-01T00:00:00.000Z' },
  });
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe('the API key authorizer', () => {
  it('allows the whole API for a valid key and passes its owner on', async () => {
    // Act
    const result = await handler(tokenEvent(`Bearer ${KEY}`), lambdaContext());

    // Assess
    expect(result).toEqual({
      principalId: 'alice',
      policyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Action: 'execute-api:Invoke',
            Effect: 'Allow',
            Resource: 'arn:aws:execute-api:eu-west-1:123456789012:abc123/v1/*/*',
          },
        ],
      },
      context: { owner: 'alice' },
    });
    expect(documents).toHaveReceivedCommandWith(GetCommand, {
      TableName: TABLES.apiKeys,
      Key: { keyHash: hashApiKey(KEY) },
    });
  });

  it('accepts the scheme in any case', async () => {
    // Act
    const result = await handler(tokenEvent(`bearer ${KEY}`), lambdaContext());

    // Assess
    expect(result.principalId).toBe('alice');
  });

  it('refuses an unknown key with Unauthorized', async () => {
    // Act
    const attempt = handler(tokenEvent('Bearer sk_unknownunknownunknownunknown'), lambdaContext());

    // Assess
    await expect(attempt).rejects.toThrow(/^Unauthorized$/);
  });

  it('refuses a revoked key with Unauthorized', async () => {
    // Prepare
    documents.on(GetCommand).resolves({
      Item: {
        keyHash: hashApiKey(KEY),
        owner: 'alice',
        createdAt: '2024-01-01T00:00:00.000Z',
        revokedAt: '2024-02-01T00:00:00.000Z',
      },
    });

    // Act
    const attempt = handler(tokenEvent(`Bearer ${KEY}`), lambdaContext());

    // Assess
    await expect(attempt).rejects.toThrow(/^Unauthorized$/);
  });

  it('refuses a key whose stored owner is not a valid owner', async () => {
    // Prepare
    documents
      .on(GetCommand)
      .resolves({ Item: { keyHash: hashApiKey(KEY), owner: '../admin', createdAt: 'x' } });

    // Act
    const attempt = handler(tokenEvent(`Bearer ${KEY}`), lambdaContext());

    // Assess
    await expect(attempt).rejects.toThrow(/^Unauthorized$/);
  });

  it.each([
    ['empty', ''],
    ['another scheme', `Basic ${KEY}`],
    ['the scheme alone', 'Bearer'],
    ['the scheme and a space', 'Bearer '],
    ['the key without a scheme', KEY],
    ['two tokens', `Bearer ${KEY} extra`],
    ['a key too long to be one', `Bearer ${'k'.repeat(600)}`],
  ])('refuses a header that is %s without reading the table', async (_name, header) => {
    // Act
    const attempt = handler(tokenEvent(header), lambdaContext());

    // Assess
    await expect(attempt).rejects.toThrow(/^Unauthorized$/);
    expect(documents).not.toHaveReceivedAnyCommand();
  });

  it('fails (500, not a cached 401) when the key table cannot be read', async () => {
    // Prepare
    documents.on(GetCommand).rejects(new Error('ServiceUnavailable'));

    // Act
    const attempt = handler(tokenEvent(`Bearer ${KEY}`), lambdaContext());

    // Assess
    await expect(attempt).rejects.toThrow('ServiceUnavailable');
  });

  it('never writes the key or its hash to the logs', async () => {
    // Act
    await handler(tokenEvent(`Bearer ${KEY}`), lambdaContext());
    await handler(tokenEvent('Bearer sk_unknownunknownunknownunknown'), lambdaContext()).catch(
      () => undefined,
    );

    // Assess
    const output = lines.join('\n');
    expect(output).toContain('Authorized');
    expect(output).toContain('Authorization refused');
    expect(output).not.toContain(KEY);
    expect(output).not.toContain(hashApiKey(KEY));
    expect(output).not.toContain('sk_unknown');
  });
});
