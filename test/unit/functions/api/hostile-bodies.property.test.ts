/**
 * Every hostile body POST /generations can be sent gets a coded 4xx, never a 5xx: the submit
 * function's whole middy chain, in process, over nesting, encodings, sizes and declared types
 * (`test/helpers/hostile-bodies.ts`), each answer held to the codes its case may get and to the
 * codes the OpenAPI document lists for its status.
 */
import './env.ts';
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import { buildOpenApiDocument } from '#shared/api/openapi.ts';
import { hostileBodies } from '../../../helpers/hostile-bodies.ts';
import {
  fakeIdempotencyTable,
  lambdaContext,
  loadApiFunction,
  STATE_MACHINE_ARN,
  submitEvent,
} from './support.ts';

const { handler, documents, stepFunctions, idempotencyDb } =
  await loadApiFunction('submit-generation');

const responses = (
  buildOpenApiDocument() as unknown as {
    paths: Record<string, Record<string, { responses: Record<string, Record<string, unknown>> }>>;
  }
).paths['/generations']?.post?.responses as Record<string, Record<string, unknown>>;
const documentedCodes = (status: number) =>
  (responses[String(status)]?.['x-error-codes'] as string[] | undefined) ?? [];

beforeEach(() => {
  documents.on(PutCommand).resolves({});
  stepFunctions.on(StartExecutionCommand).callsFake((input: StartExecutionCommand['input']) => ({
    executionArn: `${STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:')}:${input.name}`,
    startDate: new Date(),
  }));
  fakeIdempotencyTable(idempotencyDb);
});

describe('POST /generations with a hostile body', () => {
  it('answers every one with a coded 4xx its case allows, or 202 for a valid one; never a 5xx', async () => {
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(hostileBodies, async (hostile) => {
        // Prepare: as API Gateway delivers a JSON type (binary, base64) with the caller's header.
        const event = submitEvent('');
        event.headers = {
          Host: 'api.example.com',
          ...(hostile.contentType !== undefined && { 'Content-Type': hostile.contentType }),
        };
        event.body = Buffer.from(hostile.bytes).toString('base64');
        event.isBase64Encoded = true;

        // Act
        const result = await handler(event, lambdaContext());

        // Assess
        const what = `${hostile.description}: ${result.statusCode} ${result.body}`;
        expect(result.statusCode, what).toBeLessThan(500);
        const body = JSON.parse(result.body) as { id?: string; error?: { code: string } };
        const code = body.error?.code ?? '';
        const kind = code || String(result.statusCode);
        seen.set(kind, (seen.get(kind) ?? 0) + 1);
        if (hostile.expectedCodes.length === 0) {
          expect(result.statusCode, what).toBe(202);
          return;
        }
        expect(result.statusCode, what).toBeGreaterThanOrEqual(400);
        expect(hostile.expectedCodes, what).toContain(code);
        expect(documentedCodes(result.statusCode), what).toContain(code);
      }),
      { numRuns: 400 },
    );
    // The cases reached every kind of refusal, and some acceptances.
    for (const code of [
      '090004004',
      '090004005',
      '090004006',
      '090004014',
      '090004015',
      '090001001',
      '202',
    ]) {
      expect(seen.get(code) ?? 0, `${code} never answered: ${[...seen.keys()]}`).toBeGreaterThan(0);
    }
  }, 60_000);
});
