/** API Gateway TOKEN authorizer: a Bearer API key -> its owner, or 401. */
import type { APIGatewayTokenAuthorizerEvent } from 'aws-lambda';
import { authorizeToken } from '#shared/api/authorizer.ts';
import { apiKeyStoreFromEnv } from '#shared/api/authorizer-config.ts';
import { lambdaHandler } from '#shared/observability/handler.ts';

const keys = apiKeyStoreFromEnv();

export const handler = lambdaHandler(async (event: APIGatewayTokenAuthorizerEvent) =>
  authorizeToken(event, keys),
);
