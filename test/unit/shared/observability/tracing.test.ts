/**
 * Tracing without a tracer in the process: Lambda's active tracing records each invocation, and
 * the SDK clients pass the invocation's trace header on to the services they call, so a Step
 * Functions execution or a DynamoDB request joins the trace of the invocation that made it.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

const TRACE_HEADER = 'Root=1-65f0c0de-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1';
const received: IncomingHttpHeaders[] = [];
const server = createServer((request, response) => {
  received.push(request.headers);
  request.resume();
  request.on('end', () => {
    response.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
    response.end('{}');
  });
});

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const env = {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    AWS_LAMBDA_FUNCTION_NAME: 'get-generation',
    _X_AMZN_TRACE_ID: TRACE_HEADER,
  };
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
});

afterAll(async () => {
  vi.unstubAllEnvs();
  await new Promise((resolve) => server.close(resolve));
});

describe('a function’s SDK client in Lambda', () => {
  it('sends the invocation’s trace header with its requests', async () => {
    const { dynamoDb } = await import('../../../../shared/aws/dynamodb.ts');

    await dynamoDb().send(new GetCommand({ TableName: 'generations', Key: { pk: 'g1' } }));

    expect(received).toHaveLength(1);
    expect(received[0]?.['x-amzn-trace-id']).toBe(TRACE_HEADER);
  });
});
