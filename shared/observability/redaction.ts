/**
 * What never reaches a log line: values under secret-looking keys, and credentials written
 * inside any string (a header echoed in an error message, a URL with a signature). Used as the
 * Powertools logger's JSON replacer, so it sees every key and every string of every log entry,
 * however deep, including the message and the formatted error of an exception.
 */

export const REDACTED = '[redacted]';

/**
 * Key names, compared lower-case with separators removed (`x-api-key`, `api_key` and `apiKey`
 * are one name), whose values are replaced whole.
 */
const SECRET_KEY_PATTERNS: readonly RegExp[] = [
  /^authorization/, // the header, and the TOKEN authorizer's `authorizationToken`
  /token$/, // sessionToken, accessToken, idToken… (not usage's input_tokens)
  /apikey/,
  /secret/, // SecretString, secretAccessKey, clientSecret
  /password/,
  /passwd/,
  /credential/,
  /privatekey/,
  /^keyhash$/, // the API keys table's partition key: a key's SHA-256
  /^(set)?cookie$/,
];

export function isSecretKey(key: string): boolean {
  const name = key.toLowerCase().replace(/[^a-z0-9]/g, '');
  return name !== '' && SECRET_KEY_PATTERNS.some((pattern) => pattern.test(name));
}

/** Credentials recognised inside free text, each with what replaces it. */
const SECRET_TEXT_PATTERNS: ReadonlyArray<readonly [RegExp, string]> = [
  // `Authorization: Bearer <anything>` (or Basic), in a header dump or an error message.
  [/\b(Bearer|Basic)\s+[^\s"',;]+/gi, `$1 ${REDACTED}`],
  // This product's API keys: `sk_` + base64url (see shared/api/keys.ts).
  [/\bsk_[A-Za-z0-9_-]{8,}/g, REDACTED],
  // Pre-signed URL parts that grant access.
  [/\b(X-Amz-(?:Signature|Credential|Security-Token))=[^&\s"']+/gi, `$1=${REDACTED}`],
];

export function scrubText(text: string): string {
  let scrubbed = text;
  for (const [pattern, replacement] of SECRET_TEXT_PATTERNS) {
    scrubbed = scrubbed.replace(pattern, replacement);
  }
  return scrubbed;
}

/** A `JSON.stringify` replacer: secret keys redacted, every string scrubbed. */
export function redactingReplacer(key: string, value: unknown): unknown {
  if (key !== '' && isSecretKey(key) && value !== undefined && value !== null) return REDACTED;
  if (typeof value === 'string') return scrubText(value);
  return value;
}
