/**
 * The TOKEN authorizer as API Gateway runs it: the token checked against the identity validation
 * expression, the function invoked, its output checked, its policy evaluated for the method ARN,
 * and its answer cached per token for the authorizer's TTL.
 */

import {
  Errors,
  functionErrorMessage,
  type GatewayError,
} from '#local/runtime/api-gateway/answers.ts';
import type { TokenAuthorizerModel } from '#local/runtime/api-gateway/model.ts';

export interface AuthorizerAnswer {
  readonly principalId: string;
  readonly statements: readonly PolicyStatement[];
  readonly context: Readonly<Record<string, string>>;
}

interface PolicyStatement {
  readonly effect: 'Allow' | 'Deny';
  readonly actions: readonly string[];
  readonly resources: readonly string[];
}

export type AuthorizerOutcome =
  | { readonly answer: AuthorizerAnswer; readonly latencyMs: number }
  | { readonly error: GatewayError; readonly cause?: string };

/** One API's authorizer with its result cache. */
export class TokenAuthorizer {
  readonly model: TokenAuthorizerModel;
  readonly #invoke: (functionLogicalId: string, event: unknown) => Promise<unknown>;
  readonly #now: () => number;
  readonly #validation: RegExp | undefined;
  readonly #cache = new Map<string, { expires: number; answer: AuthorizerAnswer }>();

  constructor(
    model: TokenAuthorizerModel,
    invoke: (functionLogicalId: string, event: unknown) => Promise<unknown>,
    now: () => number,
  ) {
    this.model = model;
    this.#invoke = invoke;
    this.#now = now;
    this.#validation =
      model.validationRegex === undefined
        ? undefined
        : new RegExp(`^(?:${model.validationRegex})$`);
  }

  /** Whether API Gateway would pass this token to the function at all. */
  accepts(token: string | undefined): token is string {
    return (
      token !== undefined && token !== '' && (!this.#validation || this.#validation.test(token))
    );
  }

  /** The authorizer's answer for a token: cached, or fresh; or the error to answer. */
  async authorize(token: string, methodArn: string): Promise<AuthorizerOutcome> {
    const cached = this.#cache.get(token);
    if (cached !== undefined && cached.expires > this.#now())
      return { answer: cached.answer, latencyMs: 0 };
    if (cached !== undefined) this.#cache.delete(token);
    const started = Date.now();
    let output: unknown;
    try {
      output = await this.#invoke(this.model.functionLogicalId, {
        type: 'TOKEN',
        authorizationToken: token,
        methodArn,
      });
    } catch (error) {
      // Only the exact error "Unauthorized" is a 401; any other failure is the authorizer's own.
      return functionErrorMessage(error) === 'Unauthorized'
        ? { error: Errors.unauthorized }
        : { error: Errors.authorizerConfiguration, cause: functionErrorMessage(error) };
    }
    const answer = authorizerAnswer(output);
    if (typeof answer === 'string') {
      return { error: Errors.authorizerConfiguration, cause: answer };
    }
    if (this.model.cacheTtlSeconds > 0) {
      const at = this.#now();
      for (const [key, entry] of this.#cache) {
        if (entry.expires <= at) this.#cache.delete(key);
      }
      this.#cache.set(token, { expires: at + this.model.cacheTtlSeconds * 1000, answer });
    }
    return { answer, latencyMs: Date.now() - started };
  }

  /** Forgets every cached answer. */
  clear(): void {
    this.#cache.clear();
  }
}

/** A TOKEN authorizer's output, checked as API Gateway checks it; a string says what is wrong. */
function authorizerAnswer(output: unknown): AuthorizerAnswer | string {
  if (output === null || typeof output !== 'object') return 'the output is not an object';
  const { principalId, policyDocument, context } = output as Record<string, unknown>;
  if (typeof principalId !== 'string' && typeof principalId !== 'number') {
    return 'principalId is missing';
  }
  if (policyDocument === null || typeof policyDocument !== 'object') {
    return 'policyDocument is missing';
  }
  const rawStatements = (policyDocument as { Statement?: unknown }).Statement;
  const list = Array.isArray(rawStatements) ? rawStatements : [rawStatements];
  const statements: PolicyStatement[] = [];
  for (const statement of list) {
    if (statement === null || typeof statement !== 'object') return 'a Statement is not an object';
    const { Effect, Action, Resource } = statement as Record<string, unknown>;
    if (Effect !== 'Allow' && Effect !== 'Deny') return `a Statement has Effect ${String(Effect)}`;
    const strings = (value: unknown) =>
      (Array.isArray(value) ? value : [value]).filter((item) => typeof item === 'string');
    statements.push({ effect: Effect, actions: strings(Action), resources: strings(Resource) });
  }
  const values: Record<string, string> = {};
  if (context !== undefined && context !== null) {
    if (typeof context !== 'object' || Array.isArray(context)) return 'context is not an object';
    for (const [key, value] of Object.entries(context)) {
      // REST APIs stringify the context's values; objects and arrays are refused.
      if (value === null || value === undefined) continue;
      if (typeof value === 'object') return `context.${key} is not a string, number or boolean`;
      values[key] = String(value);
    }
  }
  return { principalId: String(principalId), statements, context: values };
}

/** `*` any run of characters, `?` any one, as in IAM. */
function wildcard(pattern: string, flags = ''): RegExp {
  const source = pattern
    .split('')
    .map((char) =>
      char === '*' ? '.*' : char === '?' ? '.' : char.replace(/[\\^$.|+()[\]{}]/g, '\\$&'),
    )
    .join('');
  return new RegExp(`^${source}$`, `s${flags}`);
}

/** IAM evaluation of the authorizer's policy for one method ARN: an explicit Deny wins. */
export function evaluatePolicy(
  statements: readonly PolicyStatement[],
  methodArn: string,
): 'allow' | 'explicit-deny' | 'implicit-deny' {
  let allowed = false;
  for (const statement of statements) {
    const action = statement.actions.some((pattern) =>
      wildcard(pattern, 'i').test('execute-api:Invoke'),
    );
    const resource = statement.resources.some((pattern) => wildcard(pattern).test(methodArn));
    if (!action || !resource) continue;
    if (statement.effect === 'Deny') return 'explicit-deny';
    allowed = true;
  }
  return allowed ? 'allow' : 'implicit-deny';
}
