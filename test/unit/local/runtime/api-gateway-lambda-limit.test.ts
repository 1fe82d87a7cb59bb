/**
 * Lambda's request limit seen through the local gateway: a body API Gateway takes (under its
 * 10 MiB) can still make a proxy event over Lambda's 6,291,456 bytes once base64-encoded, and
 * then API Gateway answers 413 `Request Too Long` without the function running, as on AWS.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { MAX_SYNC_REQUEST_BYTES } from '../../../../local/lambda/errors.ts';
import { invocationPayload } from '../../../../local/lambda/service.ts';
import {
  type LocalApiGateway,
  type RestApiModel,
  startApiGateway,
} from '../../../../local/runtime/api-gateway.ts';

const MiB = 1024 * 1024;

const model: RestApiModel = {
  restApiLogicalId: 'Api',
  stage: 'test',
  // As the stack declares it: every body reaches the function as base64.
  binaryMediaTypes: ['*/*'],
  routes: [
    { method: 'POST', pathTemplate: '/files', functionLogicalId: 'Files', authorization: 'NONE' },
  ],
  gatewayResponses: {},
};

const started: LocalApiGateway[] = [];
afterAll(() => Promise.all(started.map((gateway) => gateway.close())));

/** A gateway whose function is invoked as the local Lambda invokes it (the limit checked first). */
async function gatewayOf(api: RestApiModel) {
  const ran: number[] = [];
  const logged: string[] = [];
  const gateway = await startApiGateway({
    model: api,
    invoke: async (_id, event) => {
      const payload = invocationPayload(event);
      ran.push(payload.length);
      return { statusCode: 200, body: JSON.stringify({ eventBytes: payload.length }) };
    },
    log: (line) => logged.push(line),
  });
  started.push(gateway);
  return { gateway, ran, logged };
}

const post = (gateway: LocalApiGateway, bytes: number) =>
  fetch(`${gateway.url}/files`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain' },
    body: Buffer.alloc(bytes, 0x61),
  });

describe("the local gateway under Lambda's request limit", () => {
  it('passes a 4 MiB body, whose base64 event fits, to the function', async () => {
    const { gateway, ran } = await gatewayOf(model);
    const response = await post(gateway, 4 * MiB);
    expect(response.status).toBe(200);
    const { eventBytes } = (await response.json()) as { eventBytes: number };
    expect(eventBytes).toBeGreaterThan(Math.ceil((4 * MiB) / 3) * 4);
    expect(eventBytes).toBeLessThanOrEqual(MAX_SYNC_REQUEST_BYTES);
    expect(ran).toHaveLength(1);
  });

  it('answers 413 Request Too Long to a 5 MiB body, without running the function', async () => {
    const { gateway, ran, logged } = await gatewayOf(model);
    const response = await post(gateway, 5 * MiB);
    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({ message: 'Request Too Long' });
    expect(ran).toEqual([]);
    expect(logged.join('\n')).toContain(
      'Request must be smaller than 6291456 bytes for the InvokeFunction operation',
    );
  });

  it("renders the API's REQUEST_TOO_LARGE gateway response, as for a body over 10 MiB", async () => {
    const { gateway } = await gatewayOf({
      ...model,
      gatewayResponses: {
        REQUEST_TOO_LARGE: {
          statusCode: 413,
          headers: {},
          template: '{"error":{"code":"090004005","message":$context.error.messageString}}',
        },
      },
    });
    const response = await post(gateway, 5 * MiB);
    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({
      error: { code: '090004005', message: 'Request Too Long' },
    });
  });
});
