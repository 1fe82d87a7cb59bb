/**
 * EventBridge event patterns, as far as the stack's rules use them: nested fields, lists of
 * values, and the operators `exists`, `prefix` and `anything-but` (of values, or of a prefix).
 * A field's list matches when any of its matchers matches; an event field holding an array
 * matches when any of its elements does; every field of a pattern must match. Any other operator
 * (numeric, suffix, wildcard, `$or`…) is refused when a rule is loaded (`checkPattern`), so a
 * rule written with one fails at the local start rather than matching by accident.
 */

type Pattern = Readonly<Record<string, unknown>>;

/** Whether `event` matches `pattern` (one `checkPattern` accepted). */
export function matchesPattern(pattern: Pattern, event: unknown): boolean {
  return Object.entries(pattern).every(([field, expected]) => {
    const actual = isObject(event) ? event[field] : undefined;
    if (Array.isArray(expected)) return expected.some((matcher) => matches(matcher, actual));
    // An array of objects in the event: the nested pattern matches if one of them does.
    if (Array.isArray(actual)) {
      return actual.some((element) => matchesPattern(expected as Pattern, element));
    }
    return matchesPattern(expected as Pattern, actual);
  });
}

/** Refuses a pattern this module cannot match as EventBridge would (naming the offending part). */
export function checkPattern(pattern: unknown, path = ''): void {
  if (!isObject(pattern)) {
    throw new Error(`An event pattern must be an object${path && ` at ${path}`}`);
  }
  for (const [field, expected] of Object.entries(pattern)) {
    const at = path ? `${path}.${field}` : field;
    if (field.startsWith('$'))
      throw new Error(`The event pattern operator ${field} is not supported`);
    if (Array.isArray(expected)) {
      for (const matcher of expected) checkMatcher(matcher, at);
    } else if (isObject(expected)) {
      checkPattern(expected, at);
    } else {
      throw new Error(
        `An event pattern field must be a list or an object, not ${at}: ${JSON.stringify(expected)}`,
      );
    }
  }
}

const OPERATORS = new Set(['exists', 'prefix', 'anything-but']);

function checkMatcher(matcher: unknown, at: string): void {
  if (!isObject(matcher)) return;
  const [operator, ...more] = Object.keys(matcher);
  if (operator === undefined || more.length > 0 || !OPERATORS.has(operator)) {
    throw new Error(
      `The event pattern matcher ${JSON.stringify(matcher)} at ${at} is not supported`,
    );
  }
  const argument = matcher[operator];
  const valid =
    operator === 'exists'
      ? typeof argument === 'boolean'
      : operator === 'prefix'
        ? typeof argument === 'string'
        : isPrefix(argument) ||
          isScalar(argument) ||
          (Array.isArray(argument) && argument.every(isScalar));
  if (!valid) {
    throw new Error(
      `The event pattern matcher ${JSON.stringify(matcher)} at ${at} is not supported`,
    );
  }
}

/** One matcher of a field's list against the event's value there (undefined: no such field). */
function matches(matcher: unknown, actual: unknown): boolean {
  if (isObject(matcher) && 'exists' in matcher) {
    // Only leaves exist: a field holding an object is an intermediate node, and an empty array
    // holds no value.
    return leafValues(actual).length > 0 === matcher.exists;
  }
  return leafValues(actual).some((value) => matchesValue(matcher, value));
}

function matchesValue(matcher: unknown, value: unknown): boolean {
  if (!isObject(matcher)) return matcher === value;
  if ('prefix' in matcher)
    return typeof value === 'string' && value.startsWith(String(matcher.prefix));
  if ('anything-but' in matcher) {
    const excluded = matcher['anything-but'];
    if (isPrefix(excluded)) return typeof value === 'string' && !value.startsWith(excluded.prefix);
    return !(Array.isArray(excluded) ? excluded : [excluded]).includes(value);
  }
  throw new Error(`The event pattern matcher ${JSON.stringify(matcher)} is not supported`);
}

/** The values an event field holds: none when absent or an object, each element of an array. */
function leafValues(actual: unknown): unknown[] {
  if (actual === undefined || isObject(actual)) return [];
  return Array.isArray(actual) ? actual.filter((value) => !isObject(value)) : [actual];
}

function isPrefix(value: unknown): value is { prefix: string } {
  return isObject(value) && Object.keys(value).length === 1 && typeof value.prefix === 'string';
}

function isScalar(value: unknown): boolean {
  return value === null || ['string', 'number', 'boolean'].includes(typeof value);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
