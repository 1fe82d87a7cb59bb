/**
 * How `Authorization: Bearer <key>` is read, by API Gateway's validation expression (before the
 * authorizer runs) and by the authorizer itself, so the two never disagree. The scheme's name is
 * matched in any case (RFC 9110); the key is any run of non-space characters, so every key the
 * store can hold passes (the store decides whether it is known). Written in the regular
 * expression syntax both API Gateway (Java) and JavaScript read the same way.
 */
export const BEARER_TOKEN_PATTERN = '^[Bb][Ee][Aa][Rr][Ee][Rr] +([^\\s]{1,512})\\s*$';

const BEARER_TOKEN = new RegExp(BEARER_TOKEN_PATTERN);

/** The key of a Bearer `Authorization` value, or undefined for anything else. */
export function bearerKey(authorization: string): string | undefined {
  return BEARER_TOKEN.exec(authorization)?.[1];
}
