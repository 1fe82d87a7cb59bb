/**
 * The API Gateway TOKEN authorizer's logic: `Authorization: Bearer <key>` is resolved to its
 * owner, and the answer allows the whole API (API Gateway caches it per token, so a policy for
 * one method would wrongly deny the others). Anything else is refused with the exact error
 * `Unauthorized`, which API Gateway answers as 401. Neither the key nor its hash is ever logged.
 */
import type { APIGatewayAuthorizerResult, APIGatewayTokenAuthorizerEvent } from 'aws-lambda';
import { logger } from '#shared/observability/powertools.ts';
import { bearerKey } from './bearer.ts';
import type { ApiKeyStore } from './keys.ts';

/** The error API Gateway turns into a 401 (its message must be exactly this). */
export const UNAUTHORIZED = 'Unauthorized';

/** Where the authorizer's context arrives in the routes' events: `requestContext.authorizer.owner`. */
export interface OwnerContext {
  readonly owner: string;
  readonly [key: string]: string;
}

export async function authorizeToken(
  event: Pick<APIGatewayTokenAuthorizerEvent, 'authorizationToken' | 'methodArn'>,
  keys: Pick<ApiKeyStore, 'resolve'>,
): Promise<APIGatewayAuthorizerResult & { context: OwnerContext }> {
  const key = bearerKey(event.authorizationToken ?? '');
  if (key === undefined) {
    logger.info('Authorization refused', { reason: 'not a Bearer token' });
    throw new Error(UNAUTHORIZED);
  }
  const owner = await keys.resolve(key);
  if (owner === undefined) {
    logger.info('Authorization refused', { reason: 'unknown or revoked API key' });
    throw new Error(UNAUTHORIZED);
  }
  logger.info('Authorized', { owner });
  return {
    principalId: owner,
    policyDocument: {
      Version: '2012-10-17',
      Statement: [
        { Action: 'execute-api:Invoke', Effect: 'Allow', Resource: wholeApiArn(event.methodArn) },
      ],
    },
    context: { owner },
  };
}

/**
 * `arn:aws:execute-api:<region>:<account>:<api id>/<stage>/<method>/<path>` ->
 * `arn:aws:execute-api:<region>:<account>:<api id>/<stage>/*\/*`.
 */
export function wholeApiArn(methodArn: string): string {
  const match = /^(arn:[^:]+:execute-api:[^:]+:[^:]+:[^/]+\/[^/]+)\//.exec(methodArn);
  if (match === null) throw new Error(UNAUTHORIZED);
  return `${match[1]}/*/*`;
}
