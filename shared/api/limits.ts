/**
 * The API's limits as plain numbers: the routes enforce them and `schemas.ts` documents them.
 * Apart from the schemas, which build every body's schema at import, so a route that needs only
 * a number does not carry them (docs/decisions.md D36).
 */

/** Largest `metadata`, in bytes of its JSON, unless configured otherwise. */
export const DEFAULT_METADATA_MAX_BYTES = 2048;
export const LIST_LIMIT_DEFAULT = 20;
export const LIST_LIMIT_MAX = 100;
