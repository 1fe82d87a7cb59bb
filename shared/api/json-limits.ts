/**
 * Limits on the shape of JSON a caller sends, checked before anything parses it into deep
 * structures, serialises it or walks it: `JSON.stringify`, Powertools' payload hashing and any
 * recursive walk throw `RangeError` a few thousand levels down, which would be a 500.
 */

/**
 * Deepest nesting of objects and arrays in a request body, the body itself being level 1. The
 * request is one object; `metadata` is the only field that nests, so it may go 63 levels down.
 */
export const MAX_BODY_DEPTH = 64;

/** Deepest nesting of `metadata`, the object itself being level 1 (one below the body's). */
export const MAX_METADATA_DEPTH = MAX_BODY_DEPTH - 1;

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Whether JSON text nests objects and arrays deeper than `limit`, read in one pass over the text
 * without parsing it (brackets inside strings do not count). Text that is not JSON is judged the
 * same way; the parser refuses it afterwards.
 */
export function textNestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let index = 0; index < text.length; index++) {
    const char = text.charCodeAt(index);
    if (inString) {
      if (char === BACKSLASH) index++;
      else if (char === QUOTE) inString = false;
      continue;
    }
    if (char === QUOTE) inString = true;
    else if (char === OPEN_BRACE || char === OPEN_BRACKET) {
      depth++;
      if (depth > limit) return true;
    } else if (char === CLOSE_BRACE || char === CLOSE_BRACKET) {
      depth--;
    }
  }
  return false;
}

/**
 * Whether a parsed value nests objects and arrays deeper than `limit` (a scalar is level 0, an
 * empty object level 1). Walked with a stack, never recursively, and no further down than
 * `limit + 1`, so any value is judged without running out of stack.
 */
export function valueNestsDeeperThan(value: unknown, limit: number): boolean {
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 1 }];
  while (stack.length > 0) {
    const next = stack.pop() as { value: unknown; depth: number };
    if (typeof next.value !== 'object' || next.value === null) continue;
    if (next.depth > limit) return true;
    for (const child of Object.values(next.value)) {
      if (typeof child === 'object' && child !== null) {
        stack.push({ value: child, depth: next.depth + 1 });
      }
    }
  }
  return false;
}

/**
 * Whether every string of a parsed value (keys included) is well-formed Unicode: JSON text may
 * escape half of a surrogate pair (`"\ud800"`), which no UTF-8 can hold, and which would be
 * stored as U+FFFD or refused by a store later. Call it on a value whose depth was checked.
 */
export function stringsAreWellFormed(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const next = stack.pop();
    if (typeof next === 'string') {
      if (!next.isWellFormed()) return false;
      continue;
    }
    if (typeof next !== 'object' || next === null) continue;
    for (const [key, child] of Object.entries(next)) {
      if (!key.isWellFormed()) return false;
      stack.push(child);
    }
  }
  return true;
}
