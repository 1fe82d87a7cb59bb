/**
 * zod as the code in the function bundles uses it: `zod/mini`, whose functional API tree-shakes
 * to what a function uses (the classic API's schema classes keep all of zod in every bundle:
 * docs/decisions.md D17), with the English messages the classic API sets for itself. zod's
 * messages reach the logs and the records (a malformed configuration variable, a provider answer
 * that did not parse), so they read the same whichever API built the schema.
 *
 * Import zod from here (`import * as z from '#shared/zod.ts'`) in `shared/` and `functions/`: the
 * locale is set before any schema of those modules can parse.
 */
import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';

z.config(en());

export * from 'zod/mini';

/**
 * The classic API's `schema.meta(data)`: a copy of the schema registered with `data` in the
 * global registry (which `z.toJSONSchema` reads), the original left as it was. zod/mini's own
 * `z.meta()` is a check instead, and a check is carried into every schema derived from the one
 * it was added to (a `z.safeExtend` of an object with an `id` would register the same `id`).
 */
export function withMeta<T extends z.ZodMiniType>(schema: T, metadata: z.core.GlobalMeta): T {
  const copy = schema.clone();
  z.globalRegistry.add(copy, metadata);
  return copy;
}
