/**
 * Opaque page cursors. A cursor is the DynamoDB position to continue from (base64url JSON) and an
 * HMAC-SHA256 over it, the owner and the query it belongs to. A cursor changed by hand, made for
 * another owner or another status filter, or not made by us at all, does not verify.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

const VERSION = 'v1';
/** Cursors longer than this are refused unread. */
export const MAX_CURSOR_LENGTH = 2048;

/** A DynamoDB key of the generations table and index: attribute names to string values. */
export type PageKey = Record<string, string>;

/** A secret for cursors when none is configured: stable per table, so local runs need nothing. */
export function defaultCursorSecret(tableName: string): string {
  return createHash('sha256').update(`spark-t2i/cursor/${tableName}`).digest('hex');
}

export class CursorCodec {
  readonly #secret: string;

  constructor(secret: string) {
    if (secret.length === 0) throw new RangeError('The cursor secret must not be empty');
    this.#secret = secret;
  }

  /** A cursor for `key`, valid only for `owner` and the query `scope` (e.g. the status filter). */
  encode(owner: string, scope: string, key: PageKey): string {
    const payload = Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
    return `${payload}.${this.#sign(owner, scope, payload).toString('base64url')}`;
  }

  /** The key a cursor holds, or `undefined` when it does not verify for this owner and scope. */
  decode(owner: string, scope: string, cursor: string): PageKey | undefined {
    if (cursor.length === 0 || cursor.length > MAX_CURSOR_LENGTH) return undefined;
    const parts = cursor.split('.');
    if (parts.length !== 2) return undefined;
    const [payload, signature] = parts as [string, string];
    if (!/^[A-Za-z0-9_-]+$/.test(payload) || !/^[A-Za-z0-9_-]+$/.test(signature)) return undefined;
    const expected = this.#sign(owner, scope, payload);
    const given = Buffer.from(signature, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    let key: unknown;
    try {
      key = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      return undefined;
    }
    return isPageKey(key) ? key : undefined;
  }

  #sign(owner: string, scope: string, payload: string): Buffer {
    return createHmac('sha256', this.#secret)
      .update(`${VERSION}\n${owner}\n${scope}\n${payload}`, 'utf8')
      .digest();
  }
}

function isPageKey(value: unknown): value is PageKey {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const entries = Object.entries(value);
  return entries.length > 0 && entries.every(([, item]) => typeof item === 'string');
}
