/**
 * API Gateway (REST API, Lambda proxy integrations) emulated locally, built from the synthesized
 * CloudFormation template so that the local routes, authorizer and gateway responses are exactly
 * the deployed ones. It reproduces what the handlers and callers can observe: the proxy event,
 * the TOKEN authorizer (identity validation, policy evaluation, the per-token result cache), the
 * gateway responses with their templates and headers, the 10 MiB payload limit, the integration
 * timeout, and the way a failed or malformed Lambda answer becomes a 5XX.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import type { CfnTemplate } from '../../infra/asl.ts';
import { SECURITY_HEADERS } from '../../shared/api/responses.ts';
import { ErrorCodes } from '../../shared/errors/codes.ts';

// ---------------------------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------------------------

export type RouteAuthorization = 'NONE' | 'CUSTOM';

export interface ApiRoute {
  /** Upper case (`GET`), or `ANY`. */
  readonly method: string;
  /** The resource path, e.g. `/generations/{id}`. */
  readonly pathTemplate: string;
  /** The Lambda function of the proxy integration. */
  readonly functionLogicalId: string;
  readonly authorization: RouteAuthorization;
  /**
   * The method's required request parameters (`method.request.querystring.limit`, ...), present
   * only when its request validator validates parameters: a request without one is refused with
   * BAD_REQUEST_PARAMETERS.
   */
  readonly requiredParameters?: readonly string[];
  /**
   * A MOCK integration's fixed answer (its default integration response), instead of a function:
   * `functionLogicalId` is then empty.
   */
  readonly mock?: {
    readonly statusCode: number;
    readonly headers: Readonly<Record<string, string>>;
    readonly body: string;
  };
}

export interface TokenAuthorizerModel {
  readonly functionLogicalId: string;
  /** The header holding the token (`Authorization`). */
  readonly headerName: string;
  /** `IdentityValidationExpression`: a token must match it whole, or the authorizer is not called. */
  readonly validationRegex?: string;
  /** `AuthorizerResultTtlInSeconds` (API Gateway's default, 300, when absent; 0 = no cache). */
  readonly cacheTtlSeconds: number;
}

export interface GatewayResponseModel {
  readonly statusCode?: number;
  /** Static headers (`'value'` in the template, quotes removed), by header name. */
  readonly headers: Readonly<Record<string, string>>;
  /** Headers mapped from the request (`method.request.header.Origin`, ...), by header name. */
  readonly headerMappings?: Readonly<Record<string, string>>;
  /** The `application/json` body template (or the only one). */
  readonly template?: string;
}

export interface StageThrottle {
  readonly rateLimit: number;
  readonly burstLimit: number;
}

export interface RestApiModel {
  readonly restApiLogicalId: string;
  readonly stage: string;
  readonly routes: readonly ApiRoute[];
  readonly authorizer?: TokenAuthorizerModel;
  /** By response type (`UNAUTHORIZED`, `DEFAULT_5XX`, ...). */
  readonly gatewayResponses: Readonly<Record<string, GatewayResponseModel>>;
  /** The stage's default method throttling (`/*`, `*`), if set. */
  readonly throttle?: StageThrottle;
  /**
   * `BinaryMediaTypes` of the API (e.g. `application/octet-stream`, or a wildcard for every
   * type): a request body of a matching type reaches the function base64-encoded, as sent.
   */
  readonly binaryMediaTypes?: readonly string[];
}

interface Resource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
}

const ROOT = '\u0000root';

/**
 * The REST API of a synthesized template: its Lambda proxy routes, its TOKEN authorizer, its
 * gateway responses, its stage. Throws on what the local gateway cannot emulate faithfully
 * (another integration or authorizer type), rather than serving something else.
 */
export function restApiFromTemplate(
  template: CfnTemplate,
  options: { readonly restApiLogicalId?: string } = {},
): RestApiModel {
  const resources = template.Resources as Readonly<Record<string, Resource>>;
  const ofType = (type: string) =>
    Object.entries(resources)
      .filter(([, resource]) => resource.Type === type)
      .sort(([a], [b]) => a.localeCompare(b));
  const apis = ofType('AWS::ApiGateway::RestApi').map(([id]) => id);
  const apiId = options.restApiLogicalId ?? apis[0];
  if (apiId === undefined || (options.restApiLogicalId === undefined && apis.length !== 1)) {
    throw new Error(`Expected one AWS::ApiGateway::RestApi in the template, found ${apis.length}`);
  }
  if (resources[apiId]?.Type !== 'AWS::ApiGateway::RestApi') {
    throw new Error(`${apiId} is not an AWS::ApiGateway::RestApi`);
  }
  const ofThisApi = (type: string) =>
    ofType(type).filter(([, resource]) => refOf(resource.Properties?.RestApiId) === apiId);

  // Resource id -> its path.
  const parents = new Map<string, { parent: string; part: string }>();
  for (const [id, resource] of ofThisApi('AWS::ApiGateway::Resource')) {
    const part = resource.Properties?.PathPart;
    if (typeof part !== 'string') throw new Error(`${id} has no PathPart`);
    parents.set(id, { parent: resourceIdOf(resource.Properties?.ParentId, apiId, id), part });
  }
  const pathOf = (resourceId: string, seen: readonly string[] = []): string => {
    if (resourceId === ROOT) return '';
    const node = parents.get(resourceId);
    if (node === undefined) throw new Error(`Unknown API resource ${resourceId}`);
    if (seen.includes(resourceId)) throw new Error(`API resources form a cycle at ${resourceId}`);
    return `${pathOf(node.parent, [...seen, resourceId])}/${node.part}`;
  };

  const validators = new Map(
    ofThisApi('AWS::ApiGateway::RequestValidator').map(([id, resource]) => [
      id,
      resource.Properties?.ValidateRequestParameters === true,
    ]),
  );

  let authorizerId: string | undefined;
  const routes: ApiRoute[] = [];
  for (const [id, resource] of ofThisApi('AWS::ApiGateway::Method')) {
    const props = resource.Properties ?? {};
    const method = String(props.HttpMethod ?? '').toUpperCase();
    const pathTemplate = pathOf(resourceIdOf(props.ResourceId, apiId, id)) || '/';
    const integration = (props.Integration ?? {}) as Record<string, unknown>;
    if (integration.Type === 'MOCK') {
      routes.push({
        method,
        pathTemplate,
        functionLogicalId: '',
        authorization: 'NONE',
        mock: mockAnswer(integration, id),
      });
      continue;
    }
    if (integration.Type !== 'AWS_PROXY') {
      throw new Error(
        `${method} ${pathTemplate} (${id}) uses a ${String(integration.Type)} integration; only Lambda proxy (AWS_PROXY) is emulated`,
      );
    }
    const functionLogicalId = lambdaFunctionIn(integration.Uri, resources);
    if (functionLogicalId === undefined) {
      throw new Error(
        `${method} ${pathTemplate} (${id}) does not integrate a function of the template`,
      );
    }
    const type = String(props.AuthorizationType ?? 'NONE');
    if (type !== 'NONE' && type !== 'CUSTOM') {
      throw new Error(
        `${method} ${pathTemplate} (${id}) uses ${type} authorization, which is not emulated`,
      );
    }
    if (type === 'CUSTOM') {
      const authorizer = refOf(props.AuthorizerId);
      if (authorizer === undefined) throw new Error(`${id} is CUSTOM without an AuthorizerId`);
      if (authorizerId !== undefined && authorizerId !== authorizer) {
        throw new Error(`The API uses more than one authorizer (${authorizerId}, ${authorizer})`);
      }
      authorizerId = authorizer;
    }
    const validator = refOf(props.RequestValidatorId);
    const required = Object.entries((props.RequestParameters ?? {}) as Record<string, unknown>)
      .filter(([, isRequired]) => isRequired === true)
      .map(([name]) => name);
    routes.push({
      method,
      pathTemplate,
      functionLogicalId,
      authorization: type,
      ...(validator !== undefined &&
        validators.get(validator) === true &&
        required.length > 0 && { requiredParameters: required }),
    });
  }
  routes.sort(
    (a, b) => a.pathTemplate.localeCompare(b.pathTemplate) || a.method.localeCompare(b.method),
  );

  let authorizer: TokenAuthorizerModel | undefined;
  if (authorizerId !== undefined) {
    const props = resources[authorizerId]?.Properties;
    if (resources[authorizerId]?.Type !== 'AWS::ApiGateway::Authorizer' || props === undefined) {
      throw new Error(`Unknown authorizer ${authorizerId}`);
    }
    if (props.Type !== 'TOKEN') {
      throw new Error(
        `Authorizer ${authorizerId} is ${String(props.Type)}; only TOKEN is emulated`,
      );
    }
    const source = /^method\.request\.header\.(.+)$/.exec(String(props.IdentitySource ?? ''));
    if (source?.[1] === undefined) {
      throw new Error(`Authorizer ${authorizerId} has an unsupported IdentitySource`);
    }
    const functionLogicalId = lambdaFunctionIn(props.AuthorizerUri, resources);
    if (functionLogicalId === undefined) {
      throw new Error(`Authorizer ${authorizerId} does not invoke a function of the template`);
    }
    const ttl = props.AuthorizerResultTtlInSeconds;
    authorizer = {
      functionLogicalId,
      headerName: source[1],
      ...(typeof props.IdentityValidationExpression === 'string' && {
        validationRegex: props.IdentityValidationExpression,
      }),
      cacheTtlSeconds: ttl === undefined ? 300 : Number(ttl),
    };
  }

  const gatewayResponses: Record<string, GatewayResponseModel> = {};
  for (const [, resource] of ofThisApi('AWS::ApiGateway::GatewayResponse')) {
    const props = resource.Properties ?? {};
    const headers: Record<string, string> = {};
    const headerMappings: Record<string, string> = {};
    for (const [key, value] of Object.entries(
      (props.ResponseParameters ?? {}) as Record<string, unknown>,
    )) {
      // API Gateway takes one `gatewayresponse.header.` prefix: the rest is the header's name.
      const name = /^gatewayresponse\.header\.(.+)$/.exec(key)?.[1];
      if (name === undefined || typeof value !== 'string') continue;
      const literal = /^'(.*)'$/s.exec(value);
      if (literal) headers[name] = literal[1] as string;
      else headerMappings[name] = value;
    }
    const templates = (props.ResponseTemplates ?? {}) as Record<string, unknown>;
    const template = templates['application/json'] ?? Object.values(templates)[0];
    gatewayResponses[String(props.ResponseType)] = {
      ...(props.StatusCode !== undefined && { statusCode: Number(props.StatusCode) }),
      headers,
      ...(Object.keys(headerMappings).length > 0 && { headerMappings }),
      ...(typeof template === 'string' && { template }),
    };
  }

  const stages = ofThisApi('AWS::ApiGateway::Stage');
  const stageProps = stages[0]?.[1].Properties;
  const deploymentStage = ofThisApi('AWS::ApiGateway::Deployment')
    .map(([, resource]) => resource.Properties?.StageName)
    .find((name) => typeof name === 'string');
  const stage = String(stageProps?.StageName ?? deploymentStage ?? 'local');
  const defaults = ((stageProps?.MethodSettings ?? []) as Array<Record<string, unknown>>).find(
    (setting) => setting.HttpMethod === '*' && setting.ResourcePath === '/*',
  );
  const throttle =
    defaults?.ThrottlingRateLimit !== undefined && defaults.ThrottlingBurstLimit !== undefined
      ? {
          rateLimit: Number(defaults.ThrottlingRateLimit),
          burstLimit: Number(defaults.ThrottlingBurstLimit),
        }
      : undefined;

  const binaryMediaTypes = resources[apiId]?.Properties?.BinaryMediaTypes;

  return {
    restApiLogicalId: apiId,
    stage,
    routes,
    ...(authorizer && { authorizer }),
    gatewayResponses,
    ...(throttle && { throttle }),
    ...(Array.isArray(binaryMediaTypes) && {
      binaryMediaTypes: binaryMediaTypes.filter((type) => typeof type === 'string'),
    }),
  };
}

/**
 * Whether a request of this Content-Type is binary to the API: its media type matches one of
 * the API's binary media types, where `*` stands for any type or subtype (the wildcard of both
 * matches a request without a Content-Type too).
 */
export function isBinaryMediaType(
  contentType: string | undefined,
  binaryMediaTypes: readonly string[],
): boolean {
  const mediaType = (contentType ?? '').split(';', 1)[0]?.trim().toLowerCase() ?? '';
  const [type = '', subtype = ''] = mediaType.split('/', 2);
  return binaryMediaTypes.some((pattern) => {
    const [wantedType = '', wantedSubtype = ''] = pattern.toLowerCase().split('/', 2);
    if (wantedType === '*' && wantedSubtype === '*') return true;
    return (
      (wantedType === '*' || wantedType === type) &&
      (wantedSubtype === '*' || wantedSubtype === subtype)
    );
  });
}

function refOf(node: unknown): string | undefined {
  if (node !== null && typeof node === 'object' && 'Ref' in node) {
    const ref = (node as { Ref: unknown }).Ref;
    return typeof ref === 'string' ? ref : undefined;
  }
  return undefined;
}

function getAttOf(node: unknown): [string, string] | undefined {
  if (node === null || typeof node !== 'object' || !('Fn::GetAtt' in node)) return undefined;
  const argument = (node as Record<string, unknown>)['Fn::GetAtt'];
  const parts = typeof argument === 'string' ? argument.split('.') : argument;
  if (!Array.isArray(parts) || parts.length !== 2) return undefined;
  return [String(parts[0]), String(parts[1])];
}

/** A resource id: `Ref` of an `AWS::ApiGateway::Resource`, or the API's root. */
function resourceIdOf(node: unknown, apiId: string, where: string): string {
  const getAtt = getAttOf(node);
  if (getAtt?.[0] === apiId && getAtt[1] === 'RootResourceId') return ROOT;
  const ref = refOf(node);
  if (ref === undefined) throw new Error(`${where} names its resource in an unsupported way`);
  return ref;
}

/** The one function whose ARN an integration URI is built from (`Fn::GetAtt [X, 'Arn']`). */
function lambdaFunctionIn(
  uri: unknown,
  resources: Readonly<Record<string, Resource>>,
): string | undefined {
  const found = new Set<string>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const child of node) walk(child);
      return;
    }
    if (node === null || typeof node !== 'object') return;
    const getAtt = getAttOf(node);
    if (getAtt !== undefined) {
      if (getAtt[1] === 'Arn' && resources[getAtt[0]]?.Type === 'AWS::Lambda::Function') {
        found.add(getAtt[0]);
      }
      return;
    }
    for (const child of Object.values(node)) walk(child);
  };
  walk(uri);
  if (found.size > 1) throw new Error(`An integration names several functions: ${[...found]}`);
  return [...found][0];
}

// ---------------------------------------------------------------------------------------------
// The gateway
// ---------------------------------------------------------------------------------------------

export interface ApiGatewayOptions {
  readonly model: RestApiModel;
  /** Invokes a function synchronously (RequestResponse); a rejection is a function error. */
  readonly invoke: (functionLogicalId: string, event: unknown) => Promise<unknown>;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** @default 0 (any free port) */
  readonly port?: number;
  /** Largest request body, in bytes. @default 10 MiB (API Gateway's payload limit) */
  readonly maxBodyBytes?: number;
  /** API Gateway's integration timeout; 0 = none. @default 29000 */
  readonly integrationTimeoutMs?: number;
  /**
   * A request whose headers and body are not wholly received within this is cut (408, and the
   * connection closed), as API Gateway's limits cut a client that trickles its request in.
   * Tests shorten it. @default 30000
   */
  readonly requestReceiveTimeoutMs?: number;
  /**
   * Open connections at most; a connection past it is closed as soon as it is accepted, so a
   * local client cannot take every socket of the runtime's process. @default 512
   */
  readonly maxConnections?: number;
  /** Apply the stage's throttling (`model.throttle`) as a token bucket. @default false */
  readonly enforceThrottling?: boolean;
  /** The clock of the authorizer cache and the throttle (tests). @default Date.now */
  readonly now?: () => number;
  /**
   * Where the gateway reports what API Gateway would write to its execution log: function errors,
   * malformed proxy results, authorizer failures. @default a line on stderr
   */
  readonly log?: (line: string) => void;
}

export interface LocalApiGateway {
  /** `http://host:port`, without a trailing slash; routes hang off it (no stage prefix). */
  readonly url: string;
  readonly port: number;
  /** Forgets every cached authorizer answer (as after a key's revocation and the TTL). */
  clearAuthorizerCache(): void;
  /** Stops listening and drops every connection, keep-alive ones included. */
  close(): Promise<void>;
}

/** How long a client has to send its whole request (API Gateway cuts slow clients too). */
export const DEFAULT_REQUEST_RECEIVE_TIMEOUT_MS = 30_000;
/** Open connections of the local API at most. */
export const DEFAULT_MAX_CONNECTIONS = 512;

/** The raw 408 a client gets when its request was not wholly received in time. */
function requestTimeoutAnswer(timeoutMs: number): string {
  const body = JSON.stringify({
    error: {
      code: ErrorCodes.API_REQUEST_REFUSED,
      message: `The request was not received whole within ${timeoutMs / 1000} s`,
    },
  });
  const headers = [
    'HTTP/1.1 408 Request Timeout',
    'Content-Type: application/json',
    ...Object.entries(SECURITY_HEADERS).map(([name, value]) => `${name}: ${value}`),
    'Connection: close',
    `Content-Length: ${Buffer.byteLength(body)}`,
  ];
  return `${headers.join('\r\n')}\r\n\r\n${body}`;
}

/** API Gateway's account and API id in the ARNs it gives the authorizer. */
const REGION = 'us-east-1';
const ACCOUNT = '000000000000';
const API_ID = 'local';

/** An error API Gateway answers itself, through a gateway response. */
interface GatewayError {
  /** The gateway response type that customises it; undefined = only the DEFAULT_4XX/5XX fallback. */
  readonly type: string | undefined;
  readonly status: number;
  /** `$context.error.message`; null where API Gateway answers `{"message":null}`. */
  readonly message: string | null;
  readonly errorType?: string;
}

const Errors = {
  missingToken: {
    type: 'MISSING_AUTHENTICATION_TOKEN',
    status: 403,
    message: 'Missing Authentication Token',
    errorType: 'MissingAuthenticationTokenException',
  },
  unauthorized: {
    type: 'UNAUTHORIZED',
    status: 401,
    message: 'Unauthorized',
    errorType: 'UnauthorizedException',
  },
  implicitDeny: {
    type: 'ACCESS_DENIED',
    status: 403,
    message: 'User is not authorized to access this resource',
    errorType: 'AccessDeniedException',
  },
  explicitDeny: {
    type: 'ACCESS_DENIED',
    status: 403,
    message: 'User is not authorized to access this resource with an explicit deny',
    errorType: 'AccessDeniedException',
  },
  authorizerConfiguration: {
    type: 'AUTHORIZER_CONFIGURATION_ERROR',
    status: 500,
    message: null,
    errorType: 'AuthorizerConfigurationException',
  },
  tooLarge: { type: 'REQUEST_TOO_LARGE', status: 413, message: 'Request Too Long' },
  throttled: { type: 'THROTTLED', status: 429, message: 'Too Many Requests' },
  lambdaFailure: {
    type: undefined,
    status: 502,
    message: 'Internal server error',
    errorType: 'InternalServerErrorException',
  },
  integrationTimeout: {
    type: 'INTEGRATION_TIMEOUT',
    status: 504,
    message: 'Endpoint request timed out',
  },
  internal: {
    type: undefined,
    status: 500,
    message: 'Internal server error',
    errorType: 'InternalServerErrorException',
  },
} as const satisfies Record<string, GatewayError>;

interface AuthorizerAnswer {
  readonly principalId: string;
  readonly statements: readonly PolicyStatement[];
  readonly context: Readonly<Record<string, string>>;
}

interface PolicyStatement {
  readonly effect: 'Allow' | 'Deny';
  readonly actions: readonly string[];
  readonly resources: readonly string[];
}

interface RequestInfo {
  readonly requestId: string;
  readonly method: string;
  readonly rawPath: string;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly query: ParsedQuery;
  readonly sourceIp: string;
  pathParameters?: Record<string, string>;
  resourcePath?: string;
}

interface ParsedQuery {
  readonly single: Record<string, string>;
  readonly multi: Record<string, string[]>;
}

interface Reply {
  readonly status: number;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: Buffer;
}

export async function startApiGateway(options: ApiGatewayOptions): Promise<LocalApiGateway> {
  const { model, invoke } = options;
  const host = options.host ?? '127.0.0.1';
  const maxBodyBytes = options.maxBodyBytes ?? 10 * 1024 * 1024;
  const integrationTimeoutMs = options.integrationTimeoutMs ?? 29_000;
  const now = options.now ?? Date.now;
  const log = options.log ?? ((line: string) => process.stderr.write(`[api-gateway] ${line}\n`));
  const router = new Router(model.routes);
  const authorizerCache = new Map<string, { expires: number; answer: AuthorizerAnswer }>();
  const validation =
    model.authorizer?.validationRegex === undefined
      ? undefined
      : new RegExp(`^(?:${model.authorizer.validationRegex})$`);
  const bucket =
    options.enforceThrottling && model.throttle
      ? new TokenBucket(model.throttle.rateLimit, model.throttle.burstLimit, now)
      : undefined;

  const gatewayReply = (error: GatewayError, info: RequestInfo | undefined): Reply =>
    renderGatewayResponse(model, error, info);

  /** The authorizer's answer for a token: cached, or fresh; or the error to answer. */
  const authorize = async (
    token: string,
    methodArn: string,
  ): Promise<
    { answer: AuthorizerAnswer; latencyMs: number } | { error: GatewayError; cause?: string }
  > => {
    const authorizer = model.authorizer as TokenAuthorizerModel;
    const cached = authorizerCache.get(token);
    if (cached !== undefined && cached.expires > now())
      return { answer: cached.answer, latencyMs: 0 };
    if (cached !== undefined) authorizerCache.delete(token);
    const started = Date.now();
    let output: unknown;
    try {
      output = await invoke(authorizer.functionLogicalId, {
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
    if (authorizer.cacheTtlSeconds > 0) {
      const at = now();
      for (const [key, entry] of authorizerCache) {
        if (entry.expires <= at) authorizerCache.delete(key);
      }
      authorizerCache.set(token, { expires: at + authorizer.cacheTtlSeconds * 1000, answer });
    }
    return { answer, latencyMs: Date.now() - started };
  };

  const handle = async (req: IncomingMessage): Promise<Reply | undefined> => {
    const requestId = randomUUID();
    const requestTimeEpoch = Date.now();
    const target = splitTarget(req.url ?? '/');
    const info: RequestInfo = {
      requestId,
      method: (req.method ?? 'GET').toUpperCase(),
      rawPath: target?.path ?? '/',
      headers: req.headers as Record<string, string | undefined>,
      query: parseQuery(target?.query ?? ''),
      sourceIp: normaliseIp(req.socket.remoteAddress),
    };

    if (bucket !== undefined && !bucket.take()) return gatewayReply(Errors.throttled, info);

    const declared = Number(req.headers['content-length'] ?? 0);
    if (Number.isFinite(declared) && declared > maxBodyBytes) {
      await discardBody(req, maxBodyBytes);
      return gatewayReply(Errors.tooLarge, info);
    }
    const body = await readBody(req, maxBodyBytes);
    if (body === 'aborted') return undefined;
    if (body === 'too-large') {
      await discardBody(req, maxBodyBytes);
      return gatewayReply(Errors.tooLarge, info);
    }

    const match = target === undefined ? undefined : router.match(info.method, target.path);
    if (match === undefined) return gatewayReply(Errors.missingToken, info);
    const { route, pathParameters } = match;
    info.pathParameters = pathParameters;
    info.resourcePath = route.pathTemplate;

    const methodArn = `arn:aws:execute-api:${REGION}:${ACCOUNT}:${API_ID}/${model.stage}/${info.method}${info.rawPath}`;
    let authorizerContext: Record<string, unknown> | undefined;
    if (route.authorization === 'CUSTOM') {
      const authorizer = model.authorizer;
      if (authorizer === undefined) return gatewayReply(Errors.internal, info);
      const token = headerValue(req, authorizer.headerName);
      if (token === undefined || token === '' || (validation && !validation.test(token))) {
        return gatewayReply(Errors.unauthorized, info);
      }
      const result = await authorize(token, methodArn);
      if ('error' in result) {
        if (result.cause !== undefined) {
          log(`Authorizer ${authorizer.functionLogicalId} failed: ${result.cause}`);
        }
        return gatewayReply(result.error, info);
      }
      const decision = evaluatePolicy(result.answer.statements, methodArn);
      if (decision === 'explicit-deny') return gatewayReply(Errors.explicitDeny, info);
      if (decision === 'implicit-deny') return gatewayReply(Errors.implicitDeny, info);
      authorizerContext = {
        ...result.answer.context,
        principalId: result.answer.principalId,
        integrationLatency: result.latencyMs,
      };
    }

    const missing = missingParameters(route, info, req);
    if (missing.length > 0) {
      return gatewayReply(
        {
          type: 'BAD_REQUEST_PARAMETERS',
          status: 400,
          message: `Missing required request parameters: [${missing.join(', ')}]`,
          errorType: 'BadRequestException',
        },
        info,
      );
    }

    if (route.mock) {
      const answer = proxyReply(
        { statusCode: route.mock.statusCode, headers: route.mock.headers, body: route.mock.body },
        requestId,
      );
      if (typeof answer !== 'string') return answer;
    }

    const event = proxyEvent({
      req,
      info,
      route,
      body,
      binary: isBinaryMediaType(headerValue(req, 'content-type'), model.binaryMediaTypes ?? []),
      stage: model.stage,
      requestTimeEpoch,
      authorizerContext,
    });
    const outcome = await withTimeout(invoke(route.functionLogicalId, event), integrationTimeoutMs);
    if (outcome.kind === 'timeout') return gatewayReply(Errors.integrationTimeout, info);
    if (outcome.kind === 'error') {
      log(
        `${route.functionLogicalId} failed (${info.method} ${route.pathTemplate}): ${functionErrorMessage(outcome.error)}`,
      );
      return gatewayReply(Errors.lambdaFailure, info);
    }
    const reply = proxyReply(outcome.value, requestId);
    if (typeof reply === 'string') {
      log(`${route.functionLogicalId} answered a malformed Lambda proxy response: ${reply}`);
      return gatewayReply(Errors.lambdaFailure, info);
    }
    return reply;
  };

  const receiveTimeoutMs = options.requestReceiveTimeoutMs ?? DEFAULT_REQUEST_RECEIVE_TIMEOUT_MS;
  const server = createServer(
    {
      // Node's own limits: the whole request (headers and body), and the headers alone, each
      // checked every `connectionsCheckingInterval`; its defaults (300 s, 60 s, every 30 s) held
      // a trickling client for minutes.
      requestTimeout: receiveTimeoutMs,
      headersTimeout: receiveTimeoutMs,
      connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(receiveTimeoutMs / 4))),
    },
    (req, res) => {
      req.on('error', () => undefined);
      res.on('error', () => undefined);
      handle(req)
        .catch((error: unknown) => {
          log(`Local API Gateway error: ${functionErrorMessage(error)}`);
          return renderGatewayResponse(model, Errors.internal, undefined);
        })
        .then((reply) => send(req, res, reply, log));
    },
  );
  server.maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (socket.writable) {
      socket.end(
        error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? requestTimeoutAnswer(receiveTimeoutMs)
          : 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
      );
    }
    socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shownHost}:${port}`,
    port,
    clearAuthorizerCache: () => authorizerCache.clear(),
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

function send(
  req: IncomingMessage,
  res: ServerResponse,
  reply: Reply | undefined,
  log: (line: string) => void,
): void {
  if (reply === undefined || res.headersSent || res.destroyed) {
    if (reply === undefined && !res.destroyed) res.destroy();
    return;
  }
  try {
    const grouped = new Map<string, { name: string; values: string[] }>();
    for (const [name, value] of reply.headers) {
      const key = name.toLowerCase();
      const entry = grouped.get(key) ?? { name, values: [] };
      entry.values.push(value);
      grouped.set(key, entry);
    }
    for (const { name, values } of grouped.values()) {
      res.setHeader(name, values.length === 1 ? (values[0] as string) : values);
    }
    // A request whose body was not read whole (413) cannot leave the connection reusable.
    if (!req.complete) res.setHeader('Connection', 'close');
    res.statusCode = reply.status;
    res.end(reply.body);
  } catch (error) {
    log(`Local API Gateway could not answer: ${functionErrorMessage(error)}`);
    if (!res.headersSent) {
      res.removeHeader('Connection');
      for (const name of res.getHeaderNames()) res.removeHeader(name);
      res.statusCode = 502;
      res.setHeader('Content-Type', 'application/json');
      res.end('{"message":"Internal server error"}');
    } else {
      res.destroy();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

/** The path and query of a request target; undefined for a target that is not a path. */
function splitTarget(target: string): { path: string; query: string } | undefined {
  let pathAndQuery = target;
  if (!target.startsWith('/')) {
    // absolute-form (`GET http://host/path`) is allowed; `*` and the like never match a route.
    try {
      const url = new URL(target);
      pathAndQuery = `${url.pathname}${url.search}`;
    } catch {
      return undefined;
    }
  }
  const hash = pathAndQuery.indexOf('#');
  if (hash >= 0) pathAndQuery = pathAndQuery.slice(0, hash);
  const mark = pathAndQuery.indexOf('?');
  return mark < 0
    ? { path: pathAndQuery, query: '' }
    : { path: pathAndQuery.slice(0, mark), query: pathAndQuery.slice(mark + 1) };
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** `a=1&a=2&b` -> single `{a:'2', b:''}` (the last value, as REST APIs do), multi `{a:['1','2'], b:['']}`. */
function parseQuery(query: string): ParsedQuery {
  const single: Record<string, string> = {};
  const multi: Record<string, string[]> = {};
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    const equals = pair.indexOf('=');
    const name = safeDecode(equals < 0 ? pair : pair.slice(0, equals));
    const value = equals < 0 ? '' : safeDecode(pair.slice(equals + 1));
    if (name === '') continue;
    single[name] = value;
    if (!Object.hasOwn(multi, name)) multi[name] = [];
    multi[name]?.push(value);
  }
  return { single, multi };
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[value.length - 1] : value;
}

function normaliseIp(address: string | undefined): string {
  if (address === undefined) return '127.0.0.1';
  return address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
}

/**
 * Reads and drops the rest of a body that is too large, so the client, still sending, reads the
 * 413 rather than a reset connection. Bounded: past `limit` more bytes, or 10 s, it stops (the
 * answer then closes the connection).
 */
function discardBody(req: IncomingMessage, limit: number): Promise<void> {
  if (req.complete || req.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let size = 0;
    const done = () => {
      clearTimeout(timer);
      req.off('data', onData);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > limit) done();
    };
    const timer = setTimeout(done, 10_000);
    req.on('data', onData);
    req.once('end', done);
    req.once('close', done);
    req.once('error', done);
    req.resume();
  });
}

/** The whole body; 'too-large' as soon as it passes the limit; 'aborted' if the client left. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large' | 'aborted'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (value: Buffer | 'too-large' | 'aborted') => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      resolve(value);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > limit) {
        chunks.length = 0;
        settle('too-large');
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => settle(Buffer.concat(chunks)));
    req.once('error', () => settle('aborted'));
    req.once('close', () => {
      if (!req.complete) settle('aborted');
    });
  });
}

interface ProxyEventInput {
  readonly req: IncomingMessage;
  readonly info: RequestInfo;
  readonly route: ApiRoute;
  readonly body: Buffer;
  /** The body's type is one of the API's binary media types: it goes as base64, whatever it is. */
  readonly binary: boolean;
  readonly stage: string;
  readonly requestTimeEpoch: number;
  readonly authorizerContext: Record<string, unknown> | undefined;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function proxyEvent(input: ProxyEventInput): APIGatewayProxyEvent {
  const { req, info, route } = input;
  // Headers in the caller's case; a repeated header's last value in `headers`, all in `multiValueHeaders`.
  const multiValueHeaders: Record<string, string[]> = {};
  const raw = req.rawHeaders;
  for (let index = 0; index + 1 < raw.length; index += 2) {
    const name = raw[index] as string;
    if (!Object.hasOwn(multiValueHeaders, name)) multiValueHeaders[name] = [];
    multiValueHeaders[name]?.push(raw[index + 1] as string);
  }
  const existing = (lower: string) =>
    Object.keys(multiValueHeaders).find((name) => name.toLowerCase() === lower);
  const forwardedFor = existing('x-forwarded-for');
  if (forwardedFor === undefined) multiValueHeaders['X-Forwarded-For'] = [info.sourceIp];
  else {
    const values = multiValueHeaders[forwardedFor] as string[];
    values[values.length - 1] = `${values[values.length - 1]}, ${info.sourceIp}`;
  }
  if (existing('x-forwarded-port') === undefined) {
    multiValueHeaders['X-Forwarded-Port'] = [String(req.socket.localPort ?? '')];
  }
  if (existing('x-forwarded-proto') === undefined)
    multiValueHeaders['X-Forwarded-Proto'] = ['http'];
  if (existing('x-amzn-trace-id') === undefined) {
    multiValueHeaders['X-Amzn-Trace-Id'] = [traceId(input.requestTimeEpoch)];
  }
  const headers = Object.fromEntries(
    Object.entries(multiValueHeaders).map(([name, values]) => [name, values[values.length - 1]]),
  ) as Record<string, string>;

  let body: string | null = null;
  let isBase64Encoded = false;
  if (input.body.byteLength > 0) {
    try {
      if (input.binary) throw new Error('binary');
      body = utf8.decode(input.body);
    } catch {
      body = input.body.toString('base64');
      isBase64Encoded = true;
    }
  }
  const hasQuery = Object.keys(info.query.single).length > 0;
  const pathParameters = info.pathParameters ?? {};
  const hasPathParameters = Object.keys(pathParameters).length > 0;
  const userAgent = headerValue(req, 'user-agent') ?? null;
  return {
    resource: route.pathTemplate,
    path: info.rawPath,
    httpMethod: info.method,
    headers,
    multiValueHeaders,
    queryStringParameters: hasQuery ? info.query.single : null,
    multiValueQueryStringParameters: hasQuery ? info.query.multi : null,
    pathParameters: hasPathParameters ? pathParameters : null,
    stageVariables: null,
    requestContext: {
      accountId: ACCOUNT,
      apiId: API_ID,
      resourceId: createHash('sha256').update(route.pathTemplate).digest('hex').slice(0, 6),
      resourcePath: route.pathTemplate,
      httpMethod: info.method,
      path: `/${input.stage}${info.rawPath}`,
      stage: input.stage,
      requestId: info.requestId,
      extendedRequestId: info.requestId,
      requestTime: requestTime(input.requestTimeEpoch),
      requestTimeEpoch: input.requestTimeEpoch,
      protocol: `HTTP/${req.httpVersion}`,
      domainName: headerValue(req, 'host') ?? 'localhost',
      domainPrefix: (headerValue(req, 'host') ?? 'localhost').split('.')[0],
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: info.sourceIp,
        user: null,
        userAgent,
        userArn: null,
      },
      authorizer: input.authorizerContext,
    },
    body,
    isBase64Encoded,
  };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `$context.requestTime`: `24/Nov/2025:11:07:00 +0000`. */
function requestTime(epoch: number): string {
  const date = new Date(epoch);
  const two = (value: number) => String(value).padStart(2, '0');
  return `${two(date.getUTCDate())}/${MONTHS[date.getUTCMonth()]}/${date.getUTCFullYear()}:${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())} +0000`;
}

function traceId(epoch: number): string {
  return `Root=1-${Math.floor(epoch / 1000).toString(16)}-${randomBytes(12).toString('hex')}`;
}

function missingParameters(route: ApiRoute, info: RequestInfo, req: IncomingMessage): string[] {
  const missing: string[] = [];
  for (const parameter of route.requiredParameters ?? []) {
    const match =
      /^method\.request\.(path|querystring|header|multivaluequerystring|multivalueheader)\.(.+)$/.exec(
        parameter,
      );
    if (match === null) continue;
    const [, where, name] = match as unknown as [string, string, string];
    const present =
      where === 'path'
        ? (info.pathParameters?.[name] ?? '') !== ''
        : where.endsWith('querystring')
          ? Object.hasOwn(info.query.single, name)
          : headerValue(req, name) !== undefined;
    if (!present) missing.push(name);
  }
  return missing;
}

// ---------------------------------------------------------------------------------------------
// Routing
// ---------------------------------------------------------------------------------------------

interface RouteNode {
  readonly literal: Map<string, RouteNode>;
  parameter?: { name: string; node: RouteNode };
  greedy?: { name: string; methods: Map<string, ApiRoute> };
  readonly methods: Map<string, ApiRoute>;
}

const newNode = (): RouteNode => ({ literal: new Map(), methods: new Map() });

/**
 * REST API routing: a literal path part wins over `{param}`, which wins over `{proxy+}`; a path
 * with or without one trailing slash is the same resource; a known path without the method is as
 * unknown as an unknown path.
 */
class Router {
  readonly #root = newNode();

  constructor(routes: readonly ApiRoute[]) {
    for (const route of routes) {
      let node = this.#root;
      let methods: Map<string, ApiRoute> | undefined;
      const parts = route.pathTemplate.split('/').filter((part) => part !== '');
      for (const [index, part] of parts.entries()) {
        const greedy = /^\{(.+)\+\}$/.exec(part);
        if (greedy) {
          if (index !== parts.length - 1)
            throw new Error(`${route.pathTemplate}: {x+} must be last`);
          node.greedy ??= { name: greedy[1] as string, methods: new Map() };
          methods = node.greedy.methods;
          break;
        }
        const parameter = /^\{(.+)\}$/.exec(part);
        if (parameter) {
          node.parameter ??= { name: parameter[1] as string, node: newNode() };
          node = node.parameter.node;
        } else {
          let child = node.literal.get(part);
          if (child === undefined) {
            child = newNode();
            node.literal.set(part, child);
          }
          node = child;
        }
      }
      (methods ?? node.methods).set(route.method, route);
    }
  }

  match(
    method: string,
    rawPath: string,
  ): { route: ApiRoute; pathParameters: Record<string, string> } | undefined {
    let path = rawPath;
    if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
    const parts = path === '/' ? [] : path.slice(1).split('/');
    if (parts.some((part) => part === '')) return undefined;
    const pick = (methods: Map<string, ApiRoute>) => methods.get(method) ?? methods.get('ANY');
    const walk = (
      node: RouteNode,
      index: number,
      parameters: Record<string, string>,
    ): { route: ApiRoute; pathParameters: Record<string, string> } | undefined => {
      if (index === parts.length) {
        const route = pick(node.methods);
        return route && { route, pathParameters: parameters };
      }
      const part = parts[index] as string;
      const literal = node.literal.get(safeDecode(part)) ?? node.literal.get(part);
      const viaLiteral = literal && walk(literal, index + 1, parameters);
      if (viaLiteral) return viaLiteral;
      if (node.parameter) {
        const viaParameter = walk(node.parameter.node, index + 1, {
          ...parameters,
          [node.parameter.name]: safeDecode(part),
        });
        if (viaParameter) return viaParameter;
      }
      if (node.greedy) {
        const route = pick(node.greedy.methods);
        if (route) {
          return {
            route,
            pathParameters: {
              ...parameters,
              [node.greedy.name]: parts.slice(index).map(safeDecode).join('/'),
            },
          };
        }
      }
      return undefined;
    };
    return walk(this.#root, 0, {});
  }
}

// ---------------------------------------------------------------------------------------------
// The authorizer
// ---------------------------------------------------------------------------------------------

/** The message of a function error, as Lambda reports it (`errorMessage`) or as thrown. */
function functionErrorMessage(error: unknown): string {
  if (error !== null && typeof error === 'object') {
    const reported = (error as { errorMessage?: unknown }).errorMessage;
    if (typeof reported === 'string') return reported;
  }
  if (error instanceof Error) {
    try {
      const parsed = JSON.parse(error.message) as { errorMessage?: unknown };
      if (typeof parsed?.errorMessage === 'string') return parsed.errorMessage;
    } catch {
      // not a Lambda error payload
    }
    return error.message;
  }
  return String(error);
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
function evaluatePolicy(
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

// ---------------------------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------------------------

/** Headers API Gateway never passes through from an integration; it renames them. */
const REMAPPED = new Set(['connection', 'content-length', 'date', 'server', 'transfer-encoding']);

/** A Lambda proxy result as the HTTP answer; a string says why it is malformed. */
function proxyReply(value: unknown, requestId: string): Reply | string {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return 'not an object';
  }
  const result = value as Record<string, unknown>;
  const status =
    typeof result.statusCode === 'string' && /^\d+$/.test(result.statusCode)
      ? Number(result.statusCode)
      : result.statusCode;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599) {
    return `statusCode ${JSON.stringify(result.statusCode)}`;
  }
  if (result.body !== undefined && result.body !== null && typeof result.body !== 'string') {
    return 'body is not a string';
  }
  if (result.isBase64Encoded !== undefined && typeof result.isBase64Encoded !== 'boolean') {
    return 'isBase64Encoded is not a boolean';
  }
  const isPrimitive = (item: unknown) =>
    typeof item === 'string' || typeof item === 'number' || typeof item === 'boolean';
  const merged = new Map<string, { name: string; values: string[] }>();
  const single = result.headers ?? {};
  const multi = result.multiValueHeaders ?? {};
  if (single === null || typeof single !== 'object' || Array.isArray(single)) {
    return 'headers is not an object';
  }
  if (multi === null || typeof multi !== 'object' || Array.isArray(multi)) {
    return 'multiValueHeaders is not an object';
  }
  for (const [name, item] of Object.entries(single)) {
    if (item === null || item === undefined) continue;
    if (!isPrimitive(item)) return `headers.${name} is not a string`;
    merged.set(name.toLowerCase(), { name, values: [String(item)] });
  }
  // Where both name a header, multiValueHeaders wins.
  for (const [name, items] of Object.entries(multi)) {
    if (items === null || items === undefined) continue;
    if (!Array.isArray(items) || !items.every(isPrimitive)) {
      return `multiValueHeaders.${name} is not a list of strings`;
    }
    merged.set(name.toLowerCase(), { name, values: items.map(String) });
  }
  const headers: Array<[string, string]> = [];
  for (const [key, { name, values }] of merged) {
    const shown = REMAPPED.has(key) ? `x-amzn-Remapped-${name}` : name;
    for (const item of values) headers.push([shown, item]);
  }
  if (!merged.has('content-type')) headers.push(['Content-Type', 'application/json']);
  headers.push(['x-amzn-RequestId', requestId]);
  const text = typeof result.body === 'string' ? result.body : '';
  const body =
    result.isBase64Encoded === true ? Buffer.from(text, 'base64') : Buffer.from(text, 'utf8');
  return { status, headers, body };
}

/**
 * The gateway response for an error: the response of its type if the API defines one, else the
 * DEFAULT_4XX / DEFAULT_5XX one, else API Gateway's own `{"message": ...}`. A status code on
 * DEFAULT_4XX/5XX applies to every response of its class that does not set its own.
 */
function renderGatewayResponse(
  model: RestApiModel,
  error: GatewayError,
  info: RequestInfo | undefined,
): Reply {
  const specific = error.type === undefined ? undefined : model.gatewayResponses[error.type];
  const fallback = model.gatewayResponses[error.status >= 500 ? 'DEFAULT_5XX' : 'DEFAULT_4XX'];
  const status = specific?.statusCode ?? fallback?.statusCode ?? error.status;
  const chosen = specific ?? fallback;
  const template = chosen?.template ?? '{"message":$context.error.messageString}';
  const requestId = info?.requestId ?? randomUUID();
  const variables: Record<string, string> = {
    'context.requestId': requestId,
    'context.extendedRequestId': requestId,
    'context.error.message': error.message ?? '',
    'context.error.responseType':
      error.type ?? (error.status >= 500 ? 'DEFAULT_5XX' : 'DEFAULT_4XX'),
    'context.error.validationErrorString': '',
    'context.stage': model.stage,
    'context.apiId': API_ID,
    'context.accountId': ACCOUNT,
    'context.httpMethod': info?.method ?? '',
    'context.path': info?.rawPath ?? '',
    'context.resourcePath': info?.resourcePath ?? '',
    'context.identity.sourceIp': info?.sourceIp ?? '',
  };
  const body = template.replace(
    /\$context\.[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*/g,
    (found, offset: number) => {
      const name = found.slice(1);
      if (name === 'context.error.messageString') {
        // `messageString` is the message as a JSON string, quotes included. Where the template
        // already quotes it ("message":"$context.error.messageString"), the quotes are not doubled.
        const quoted = template[offset - 1] === '"' && template[offset + found.length] === '"';
        if (error.message === null) return quoted ? '' : 'null';
        const json = JSON.stringify(error.message);
        return quoted ? json.slice(1, -1) : json;
      }
      return variables[name] ?? '';
    },
  );
  const headers: Array<[string, string]> = [['Content-Type', 'application/json']];
  for (const [name, value] of Object.entries(chosen?.headers ?? {})) {
    if (name.toLowerCase() === 'content-type') headers.splice(0, 1);
    headers.push([name, value]);
  }
  for (const [name, expression] of Object.entries(chosen?.headerMappings ?? {})) {
    const value = mappedValue(expression, info);
    if (value !== undefined) headers.push([name, value]);
  }
  if (error.errorType !== undefined) headers.push(['x-amzn-ErrorType', error.errorType]);
  headers.push(['x-amzn-RequestId', requestId]);
  return { status, headers, body: Buffer.from(body, 'utf8') };
}

/** A gateway response header mapped from the request (`method.request.header.Origin`, ...). */
function mappedValue(expression: string, info: RequestInfo | undefined): string | undefined {
  if (info === undefined) return undefined;
  const match = /^method\.request\.(header|querystring|path)\.(.+)$/.exec(expression);
  if (match === null) return undefined;
  const [, where, name] = match as unknown as [string, string, string];
  if (where === 'header') {
    const value = info.headers[name.toLowerCase()];
    return Array.isArray(value) ? value[value.length - 1] : value;
  }
  if (where === 'querystring') return info.query.single[name];
  return info.pathParameters?.[name];
}

// ---------------------------------------------------------------------------------------------
// Utilities
// ---------------------------------------------------------------------------------------------

type Outcome =
  | { kind: 'value'; value: unknown }
  | { kind: 'error'; error: unknown }
  | { kind: 'timeout' };

async function withTimeout(promise: Promise<unknown>, timeoutMs: number): Promise<Outcome> {
  const settled = promise.then(
    (value): Outcome => ({ kind: 'value', value }),
    (error: unknown): Outcome => ({ kind: 'error', error }),
  );
  if (timeoutMs <= 0) return settled;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => resolve({ kind: 'timeout' }), timeoutMs);
  });
  try {
    return await Promise.race([settled, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The stage's throttle: `burstLimit` requests at once, refilled at `rateLimit` a second. */
class TokenBucket {
  readonly #rate: number;
  readonly #burst: number;
  readonly #now: () => number;
  #tokens: number;
  #at: number;

  constructor(rate: number, burst: number, now: () => number) {
    this.#rate = rate;
    this.#burst = Math.max(1, burst);
    this.#now = now;
    this.#tokens = this.#burst;
    this.#at = now();
  }

  take(): boolean {
    const at = this.#now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((at - this.#at) / 1000) * this.#rate);
    this.#at = at;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

/** The default integration response of a MOCK integration: status, static headers and body. */
function mockAnswer(
  integration: Record<string, unknown>,
  id: string,
): NonNullable<ApiRoute['mock']> {
  const responses = (integration.IntegrationResponses ?? []) as Array<{
    StatusCode?: string;
    SelectionPattern?: string;
    ResponseTemplates?: Record<string, string>;
    ResponseParameters?: Record<string, string>;
  }>;
  const response = responses.find((candidate) => !candidate.SelectionPattern) ?? responses[0];
  if (response?.StatusCode === undefined)
    throw new Error(`${id} is a MOCK integration without a response`);
  const headers = Object.fromEntries(
    Object.entries(response.ResponseParameters ?? {})
      .filter(([name, value]) => name.startsWith('method.response.header.') && /^'.*'$/.test(value))
      .map(([name, value]) => [name.slice('method.response.header.'.length), value.slice(1, -1)]),
  );
  const templates = response.ResponseTemplates ?? {};
  return {
    statusCode: Number(response.StatusCode),
    headers,
    body: templates['application/json'] ?? Object.values(templates)[0] ?? '',
  };
}
