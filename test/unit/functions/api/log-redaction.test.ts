/**
 * Redaction on what a function really writes: the list handler runs through its whole middy
 * chain with the Powertools logger as deployed (not in dev mode, so it writes JSON lines to
 * stdout through its own console), logging the event it was invoked with and the error it hit.
 * Every line it wrote is captured from stdout and checked for the secrets planted in the event
 * and in the error.
 */
import './env.ts';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { REDACTED } from '#shared/observability/redaction.ts';
import { apiEvent, lambdaContext, mockCursorSecret } from './support.ts';

// As the deployed functions log: JSON lines on stdout, the event logged on request
// (SPARK_T2I_FUNCTION_LOG_EVENT locally).
delete process.env.POWERTOOLS_DEV;
process.env.POWERTOOLS_LOG_LEVEL = 'INFO';
process.env.POWERTOOLS_LOGGER_LOG_EVENT = 'true';

const documents = mockClient(DynamoDBDocumentClient);
mockCursorSecret();
const { handler } = await import('../../../../functions/list-generations/handler.ts');

/** Each secret is distinct, so a leak names the form that let it through. */
const SECRETS = {
  headerInText: 'hdr-6f1c2a9e7b',
  queryInText: 'qry-0d8e4b3c5a',
  tokenScheme: 'tok-9a7b6c5d4e',
  keyField: 'kfd-1b2c3d4e5f',
  sparkKeyField: 'spk-5e4d3c2b1a',
  keyQuery: 'kqy-7c6b5a4f3e',
} as const;

let written: string[];

beforeEach(() => {
  written = [];
  const capture = (chunk: unknown) => {
    written.push(String(chunk));
    return true;
  };
  vi.spyOn(process.stdout, 'write').mockImplementation(capture as never);
  vi.spyOn(process.stderr, 'write').mockImplementation(capture as never);
  documents.reset();
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe("a function's real log lines", () => {
  it('carry none of the credentials of the event or of an error, in any of their forms', async () => {
    // Prepare: an SDK error that echoes a request's headers and URL, as some do.
    documents
      .on(QueryCommand)
      .rejects(
        new Error(
          `request failed: x-api-key: ${SECRETS.headerInText}; GET https://api.example.com/generations?api_key=${SECRETS.queryInText}&limit=5 authorization=Token ${SECRETS.tokenScheme}`,
        ),
      );
    const event = apiEvent({
      query: { key: SECRETS.keyQuery, limit: '5' },
      headers: { Referer: `https://console.example.com/?key=${SECRETS.keyQuery}` },
    });
    event.stageVariables = { spark_key: SECRETS.sparkKeyField };
    event.body = JSON.stringify({ key: SECRETS.keyField });

    // Act
    const result = await handler(event, lambdaContext());

    // Assess: the handler did log the event and the error.
    expect(result.statusCode).toBe(500);
    const output = written.join('');
    const lines = output
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.map((line) => line.message)).toEqual(
      expect.arrayContaining(['Lambda invocation event', 'Request failed with an internal error']),
    );
    expect(output).toContain(REDACTED);
    expect(output).toContain('limit=5');
    for (const [form, secret] of Object.entries(SECRETS)) {
      expect(output.includes(secret), `${form} leaked: ${output}`).toBe(false);
    }
  });
});
