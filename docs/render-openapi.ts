/** Writes docs/openapi.json, the document GET /openapi.json serves, from shared/api/openapi.ts. */
import { writeFile } from 'node:fs/promises';
import { buildOpenApiDocument, renderOpenApiFile } from '../shared/api/openapi.ts';

await writeFile(
  new URL('./openapi.json', import.meta.url),
  renderOpenApiFile(buildOpenApiDocument()),
);
