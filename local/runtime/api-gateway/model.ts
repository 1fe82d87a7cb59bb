/**
 * The REST API as the synthesized template declares it: its Lambda proxy (and MOCK) routes, its
 * TOKEN authorizer, its gateway responses, its stage and binary media types. The local gateway
 * serves exactly this model.
 */
import type { CfnTemplate } from '#infra/asl.ts';

/** API Gateway's account and API id in the ARNs it gives the authorizer and in the event. */
export const REGION = 'us-east-1';
export const ACCOUNT = '000000000000';
export const API_ID = 'local';

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
