/**
 * IAM's wildcard matching: `*` matches any run of characters (none included), `?` exactly one.
 * Actions match case-insensitively (`S3:getobject` is `s3:GetObject`); strings and ARNs match
 * case-sensitively. An ARN matches segment by segment: each of its first five colon-separated
 * segments (`arn`, partition, service, region, account) against the pattern's own, a wildcard
 * never reaching into the next one, and the rest (the resource part, colons and all) as one.
 */

export type Matcher = (value: string) => boolean;

/** A wildcard pattern as a matcher of a whole string. */
export function wildcardMatcher(pattern: string, options: { ignoreCase?: boolean } = {}): Matcher {
  if (!/[*?]/.test(pattern)) {
    if (options.ignoreCase) {
      const lower = pattern.toLowerCase();
      return (value) => value.toLowerCase() === lower;
    }
    return (value) => value === pattern;
  }
  const regex = new RegExp(`^${wildcardSource(pattern)}$`, options.ignoreCase ? 'is' : 's');
  return (value) => regex.test(value);
}

function wildcardSource(pattern: string): string {
  return pattern
    .split('')
    .map((character) => {
      if (character === '*') return '.*';
      if (character === '?') return '.';
      return character.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
    })
    .join('');
}

/** The six parts of an ARN, or undefined if the text is not one. */
export function arnParts(text: string): string[] | undefined {
  const parts = text.split(':');
  if (parts.length < 6 || parts[0] !== 'arn') return undefined;
  return [...parts.slice(0, 5), parts.slice(5).join(':')];
}

/**
 * An ARN pattern (wildcards allowed) as a matcher of ARNs; undefined if the pattern is not an
 * ARN. A value that is not an ARN never matches.
 */
export function arnMatcher(pattern: string): Matcher | undefined {
  const parts = arnParts(pattern);
  if (parts === undefined) return undefined;
  const segments = parts.map((part) => wildcardMatcher(part));
  return (value) => {
    const valueParts = arnParts(value);
    return (
      valueParts !== undefined &&
      segments.every((matches, index) => matches(valueParts[index] as string))
    );
  };
}

/** An action pattern (`s3:Get*`, `*`) as a matcher of actions, case-insensitively. */
export function actionMatcher(pattern: string): Matcher {
  return wildcardMatcher(pattern, { ignoreCase: true });
}

/** Whether an action pattern is written as IAM reads one: `*`, or `service:action` (wildcards). */
export function isActionPattern(pattern: string): boolean {
  return pattern === '*' || /^[a-z0-9-]+:[A-Za-z0-9*?]+$/i.test(pattern);
}

/** Whether a requested action is a concrete `service:Action`. */
export function isAction(action: string): boolean {
  return /^[a-z0-9-]+:[A-Za-z0-9]+$/i.test(action);
}
