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
  // A bare `key` (a query parameter `?key=`, a config pair `{owner, key}`) and the provider's
  // `spark_key`. Our own logs name an S3 object's key `objectKey`, so nothing useful is lost.
  /^(spark)?key$/,
];

export function isSecretKey(key: string): boolean {
  const name = key.toLowerCase().replace(/[^a-z0-9]/g, '');
  return name !== '' && SECRET_KEY_PATTERNS.some((pattern) => pattern.test(name));
}

/**
 * A credential written as `name: value` or `name=value` inside free text: a header line
 * (`x-api-key: V`), a query parameter (`?api_key=V`), an assignment (`authorization=Token V`) or
 * a JSON member in a string (`"spark_key":"V"`). The name is judged by {@link isSecretKey}; the
 * value may start with an authorization scheme (`Token V`, `Bearer V`), which is kept. A value
 * ends at white space, a quote, `,`, `;` or `&`.
 */
const NAMED_VALUE =
  /(^|[^A-Za-z0-9_-])([A-Za-z][A-Za-z0-9_-]*)(["']?[ \t]*[:=][ \t]*["']?)((?:Bearer|Basic|Token|Digest|ApiKey|AWS4-HMAC-SHA256)[ \t]+)?([^\s"',;&]+)/gi;

/** Credentials recognised inside free text, each with what replaces it. */
const SECRET_TEXT_PATTERNS: ReadonlyArray<readonly [RegExp, string]> = [
  // `Authorization: Bearer <anything>` (or Basic), in a header dump or an error message.
  [/\b(Bearer|Basic)\s+[^\s"',;]+/gi, `$1 ${REDACTED}`],
  // This product's API keys: `sk_` + base64url (see shared/api/keys.ts).
  [/\bsk_[A-Za-z0-9_-]{8,}/g, REDACTED],
  // Webhook signing secrets: `whsec_` + base64 (see shared/webhooks/secrets.ts).
  [/\bwhsec_[A-Za-z0-9+/=]{8,}/g, REDACTED],
  // A delivery's signatures (`v1,<base64>`, space-separated), which a secret could be tried on.
  [/\bv1,[A-Za-z0-9+/]{40,}={0,2}/g, `v1,${REDACTED}`],
  // Pre-signed URL parts that grant access.
  [/\b(X-Amz-(?:Signature|Credential|Security-Token))=[^&\s"']+/gi, `$1=${REDACTED}`],
];

export function scrubText(text: string): string {
  let scrubbed = redactNamedValues(text);
  for (const [pattern, replacement] of SECRET_TEXT_PATTERNS) {
    scrubbed = scrubbed.replace(pattern, replacement);
  }
  return scrubbed;
}

/**
 * Replaces the value of every secret-named `name: value` in the text. A name that is not secret
 * consumes only itself, so `failed: x-api-key: V` still finds `x-api-key` after `failed`.
 */
function redactNamedValues(text: string): string {
  const pattern = new RegExp(NAMED_VALUE.source, NAMED_VALUE.flags);
  let result = '';
  let copied = 0;
  for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
    const [found, before = '', name = '', separator = '', scheme = ''] = match;
    if (!isSecretKey(name)) {
      pattern.lastIndex = match.index + before.length + name.length;
      continue;
    }
    result += `${text.slice(copied, match.index)}${before}${name}${separator}${scheme}${REDACTED}`;
    copied = match.index + found.length;
  }
  return result + text.slice(copied);
}

/** A `JSON.stringify` replacer: secret keys redacted, every string scrubbed. */
export function redactingReplacer(key: string, value: unknown): unknown {
  if (key !== '' && isSecretKey(key) && value !== undefined && value !== null) return REDACTED;
  if (typeof value === 'string') return scrubText(value);
  return value;
}
