import './env.ts';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { buildOpenApiDocument, renderOpenApiFile } from '#shared/api/openapi.ts';
import { ErrorCodeDescriptions, ErrorCodes } from '#shared/errors/codes.ts';
import { apiEvent, bodyOf, EXPECTED_HEADERS, lambdaContext } from './support.ts';

// The function builds the document at cold start: support.ts has set the environment by now.
const { handler } = await import('../../../../functions/openapi/handler.ts');

type Operation = {
  operationId: string;
  security?: unknown[];
  responses: Record<
    string,
    { content?: Record<string, { schema: Record<string, unknown> }>; 'x-error-codes'?: string[] }
  >;
  requestBody?: { content: Record<string, { schema: { $ref: string } }> };
  parameters?: { name: string; in: string }[];
};
type Document = {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: {
    schemas: Record<string, Record<string, unknown>>;
    securitySchemes: Record<string, unknown>;
  };
  security: unknown[];
  'x-error-codes': { code: string; name: string; description: string }[];
};

const document = buildOpenApiDocument() as Document;

describe('the OpenAPI document', () => {
  it('is published, current, as docs/openapi.json (run "npm run docs:openapi" after a change)', async () => {
    const file = await readFile(new URL('../../../../docs/openapi.json', import.meta.url), 'utf8');
    expect(file).toBe(renderOpenApiFile(buildOpenApiDocument()));
  });

  it('is OpenAPI 3.1 with every route of the API', () => {
    // Act
    const routes = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.keys(item)
        .filter((key) => key !== 'parameters')
        .map((method) => `${method.toUpperCase()} ${path}`),
    );

    // Assess
    expect(document.openapi).toBe('3.1.0');
    expect(routes.sort()).toEqual([
      'DELETE /batches/{id}',
      'DELETE /generations/{id}',
      'GET /batches',
      'GET /batches/{id}',
      'GET /batches/{id}/generations',
      'GET /batches/{id}/report',
      'GET /generations',
      'GET /generations/{id}',
      'GET /generations/{id}/deliveries',
      'GET /openapi.json',
      'GET /webhooks/secret',
      'POST /batches',
      'POST /generations',
      'POST /webhooks/secret/rotate',
    ]);
  });

  it('needs the bearer scheme everywhere but on the document itself', () => {
    // Assess
    expect(document.components.securitySchemes.bearerAuth).toMatchObject({
      type: 'http',
      scheme: 'bearer',
    });
    expect(document.security).toEqual([{ bearerAuth: [] }]);
    expect(document.paths['/openapi.json']?.get?.security).toEqual([]);
  });

  it('lists every error code with its meaning', () => {
    // Act
    const listed = document['x-error-codes'];

    // Assess
    expect(listed).toHaveLength(Object.keys(ErrorCodes).length);
    for (const [name, code] of Object.entries(ErrorCodes)) {
      expect(listed).toContainEqual({ code, name, description: ErrorCodeDescriptions[code] });
    }
  });

  it.each([
    ['post', '/generations', '202', 'GenerationAccepted'],
    ['get', '/generations', '200', 'GenerationPage'],
    ['get', '/generations/{id}', '200', 'Generation'],
    ['delete', '/generations/{id}', '200', 'Generation'],
    ['post', '/batches', '201', 'Batch'],
    ['get', '/batches', '200', 'BatchList'],
    ['get', '/batches/{id}', '200', 'Batch'],
    ['delete', '/batches/{id}', '200', 'Batch'],
    ['get', '/batches/{id}/generations', '200', 'BatchGenerationPage'],
  ])('describes the %s %s answer %s with the %s schema', (method, path, status, component) => {
    // Act
    const schema =
      document.paths[path]?.[method]?.responses[status]?.content?.['application/json']?.schema;

    // Assess
    expect(schema).toEqual({ $ref: `#/components/schemas/${component}` });
    expect(document.components.schemas[component]).toBeDefined();
  });

  it.each([
    ['post', '/generations', '400', ErrorCodes.MISSING_PROMPT],
    ['post', '/generations', '400', ErrorCodes.API_INVALID_IDEMPOTENCY_KEY],
    ['post', '/generations', '409', ErrorCodes.API_IDEMPOTENCY_CONFLICT],
    ['post', '/generations', '413', ErrorCodes.API_BODY_TOO_LARGE],
    ['post', '/generations', '415', ErrorCodes.API_UNSUPPORTED_MEDIA_TYPE],
    ['get', '/generations', '400', ErrorCodes.API_INVALID_QUERY],
    ['get', '/generations/{id}', '404', ErrorCodes.API_NOT_FOUND],
    ['delete', '/generations/{id}', '409', ErrorCodes.API_NOT_CANCELLABLE],
    ['delete', '/generations/{id}', '401', ErrorCodes.API_UNAUTHORIZED],
    ['get', '/generations', '500', ErrorCodes.API_INTERNAL_ERROR],
    ['post', '/batches', '400', ErrorCodes.BATCH_EMPTY_BODY],
    ['post', '/batches', '400', ErrorCodes.BATCH_INVALID_UPLOAD],
    ['post', '/batches', '409', ErrorCodes.API_IDEMPOTENCY_CONFLICT],
    ['post', '/batches', '413', ErrorCodes.API_BODY_TOO_LARGE],
    ['post', '/batches', '415', ErrorCodes.API_UNSUPPORTED_MEDIA_TYPE],
    ['get', '/batches', '400', ErrorCodes.API_INVALID_QUERY],
    ['get', '/batches/{id}/report', '404', ErrorCodes.API_NOT_FOUND],
    ['delete', '/batches/{id}', '409', ErrorCodes.BATCH_NOT_CANCELLABLE],
  ])('lists on %s %s the %s answer code %s', (method, path, status, code) => {
    // Act
    const answer = document.paths[path]?.[method]?.responses[status];

    // Assess
    expect(answer?.['x-error-codes']).toContain(code);
    const schema = answer?.content?.['application/json']?.schema as
      | { properties: { error: { properties: { code: { enum: string[] } } } } }
      | undefined;
    expect(schema?.properties.error.properties.code.enum).toContain(code);
  });

  it.each([
    ['/generations', 'GET, POST'],
    ['/generations/{id}', 'GET, DELETE'],
    ['/batches', 'GET, POST'],
    ['/batches/{id}', 'GET, DELETE'],
    ['/batches/{id}/generations', 'GET'],
    ['/batches/{id}/report', 'GET'],
    ['/openapi.json', 'GET'],
  ])('documents on every operation of %s the 405 answer with Allow: %s', (path, allow) => {
    // Act
    const operations = Object.entries(document.paths[path] ?? {}).filter(
      ([key]) => key !== 'parameters',
    );

    // Assess
    expect(operations.map(([method]) => method.toUpperCase()).sort()).toEqual(
      allow.split(', ').sort(),
    );
    for (const [, operation] of operations) {
      const answer = operation.responses['405'] as (typeof operation.responses)[string] & {
        headers?: Record<string, { schema: unknown }>;
      };
      expect(answer?.['x-error-codes']).toEqual([ErrorCodes.API_METHOD_NOT_ALLOWED]);
      expect(answer?.headers?.Allow?.schema).toEqual({ type: 'string', const: allow });
    }
  });

  it('takes the request body from the shared request schema, with metadata and no unknown fields', () => {
    // Act
    const body = document.components.schemas.GenerationSubmission as {
      properties: Record<string, unknown>;
      required: string[];
      additionalProperties: boolean;
    };

    // Assess
    expect(
      document.paths['/generations']?.post?.requestBody?.content['application/json']?.schema,
    ).toEqual({
      $ref: '#/components/schemas/GenerationSubmission',
    });
    expect(Object.keys(body.properties).sort()).toEqual([
      'height',
      'metadata',
      'prompt',
      'seed',
      'use_pre_llm',
      'webhook',
      'width',
    ]);
    expect(body.required).toEqual(['prompt']);
    expect(body.additionalProperties).toBe(false);
    expect(body.properties.prompt).toMatchObject({ type: 'string', minLength: 1, maxLength: 800 });
  });

  it('describes the Idempotency-Key header and the list query', () => {
    // Assess
    expect(document.paths['/generations']?.post?.parameters).toContainEqual(
      expect.objectContaining({ name: 'Idempotency-Key', in: 'header' }),
    );
    expect(
      document.paths['/generations']?.get?.parameters?.map((parameter) => parameter.name),
    ).toEqual(['status', 'limit', 'cursor']);
  });

  it('takes a batch as the file in one of its media types, or as an upload request of the documented shape', () => {
    // Act
    const content = document.paths['/batches']?.post?.requestBody?.content ?? {};
    const uploadRequest = document.components.schemas.UploadRequest as {
      properties: { upload: { properties: Record<string, unknown>; required: string[] } };
      additionalProperties: boolean;
    };
    const counts = document.components.schemas.BatchCounts as { required: string[] };

    // Assess
    expect(Object.keys(content).sort()).toEqual([
      'application/json',
      'application/jsonl',
      'application/x-ndjson',
      'text/plain',
    ]);
    expect([...uploadRequest.properties.upload.required].sort()).toEqual(['bytes', 'format']);
    expect(uploadRequest.additionalProperties).toBe(false);
    expect([...counts.required].sort()).toEqual([
      'accepted',
      'cancelled',
      'completed',
      'failed',
      'lines',
      'queued',
      'rejected',
      'running',
    ]);
  });

  it("says usage holds the provider's figures as given, and costUsd the cost as a number", () => {
    // Act
    const generation = document.components.schemas.Generation as {
      properties: Record<string, { type?: string; description?: string }>;
    };
    const usage = document.components.schemas.Usage as {
      description: string;
      properties: { cost: { type: string[]; description: string } };
    };

    // Assess
    expect(generation.properties.costUsd).toMatchObject({ type: 'number' });
    expect(generation.properties.costUsd?.description).toContain('usage.cost');
    expect(usage.description).toContain('as the provider gave them');
    expect(usage.properties.cost.type).toEqual(['string', 'number']);
    expect(usage.properties.cost.description).toContain('costUsd');
  });

  it('holds only resolvable component references', () => {
    // Act
    const refs = [
      ...JSON.stringify(document).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g),
    ].map((match) => match[1] as string);

    // Assess
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) expect(document.components.schemas).toHaveProperty(ref);
  });
});

describe('GET /openapi.json', () => {
  it('answers the document without an owner, with the security headers', async () => {
    // Act
    const result = await handler(apiEvent({ path: '/openapi.json', owner: null }), lambdaContext());

    // Assess
    expect(result.statusCode).toBe(200);
    expect(result.headers).toEqual(EXPECTED_HEADERS);
    expect(bodyOf(result)).toEqual(JSON.parse(JSON.stringify(document)));
  });
});
