/**
 * API Gateway (REST API, Lambda proxy integrations) emulated locally, built from the synthesized
 * CloudFormation template so that the local routes, authorizer and gateway responses are exactly
 * the deployed ones. It reproduces what the handlers and callers can observe: the proxy event,
 * the TOKEN authorizer (identity validation, policy evaluation, the per-token result cache), the
 * gateway responses with their templates and headers, the 10 MiB payload limit, the integration
 * timeout, Lambda's refusal of an event over its 6 MB request limit (413), and the way a failed or
 * malformed Lambda answer becomes a 5XX.
 *
 * This file is the server and the order of API Gateway's checks (throttle, payload size, route,
 * authorizer, required parameters, integration); each step lives in `api-gateway/`: the model
 * read from the template, the router, the authorizer, the request and its proxy event, and the
 * answers (proxy results and gateway responses).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import { closeServer, listen } from '#local/http/server.ts';
import {
  Errors,
  functionErrorMessage,
  type GatewayError,
  invokeRefusal,
  proxyReply,
  type Reply,
  renderGatewayResponse,
  requestTimeoutAnswer,
  send,
} from '#local/runtime/api-gateway/answers.ts';
import { evaluatePolicy, TokenAuthorizer } from '#local/runtime/api-gateway/authorizer.ts';
import { TokenBucket, withTimeout } from '#local/runtime/api-gateway/limits.ts';
import {
  ACCOUNT,
  API_ID,
  isBinaryMediaType,
  REGION,
  type RestApiModel,
} from '#local/runtime/api-gateway/model.ts';
import { proxyEvent } from '#local/runtime/api-gateway/proxy-event.ts';
import {
  discardBody,
  headerValue,
  missingParameters,
  normaliseIp,
  parseQuery,
  type RequestInfo,
  readBody,
  splitTarget,
} from '#local/runtime/api-gateway/request.ts';
import { Router } from '#local/runtime/api-gateway/router.ts';

export {
  type ApiRoute,
  type GatewayResponseModel,
  isBinaryMediaType,
  type RestApiModel,
  type RouteAuthorization,
  restApiFromTemplate,
  type StageThrottle,
  type TokenAuthorizerModel,
} from '#local/runtime/api-gateway/model.ts';

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

export async function startApiGateway(options: ApiGatewayOptions): Promise<LocalApiGateway> {
  const { model, invoke } = options;
  const host = options.host ?? '127.0.0.1';
  const maxBodyBytes = options.maxBodyBytes ?? 10 * 1024 * 1024;
  const integrationTimeoutMs = options.integrationTimeoutMs ?? 29_000;
  const now = options.now ?? Date.now;
  const log = options.log ?? ((line: string) => process.stderr.write(`[api-gateway] ${line}\n`));
  const router = new Router(model.routes);
  const authorizer =
    model.authorizer === undefined ? undefined : new TokenAuthorizer(model.authorizer, invoke, now);
  const bucket =
    options.enforceThrottling && model.throttle
      ? new TokenBucket(model.throttle.rateLimit, model.throttle.burstLimit, now)
      : undefined;

  const gatewayReply = (error: GatewayError, info: RequestInfo | undefined): Reply =>
    renderGatewayResponse(model, error, info);

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
      if (authorizer === undefined) return gatewayReply(Errors.internal, info);
      const token = headerValue(req, authorizer.model.headerName);
      if (!authorizer.accepts(token)) return gatewayReply(Errors.unauthorized, info);
      const result = await authorizer.authorize(token, methodArn);
      if ('error' in result) {
        if (result.cause !== undefined) {
          log(`Authorizer ${authorizer.model.functionLogicalId} failed: ${result.cause}`);
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
      const refusal = invokeRefusal(outcome.error);
      if (refusal !== undefined) {
        log(
          `Lambda refused to invoke ${route.functionLogicalId} (${info.method} ${route.pathTemplate}): ${functionErrorMessage(outcome.error)}`,
        );
        return gatewayReply(refusal, info);
      }
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

  const port = await listen(server, options.port ?? 0, host);
  const shownHost = host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shownHost}:${port}`,
    port,
    clearAuthorizerCache: () => authorizer?.clear(),
    close: () => {
      closing ??= closeServer(server);
      return closing;
    },
  };
}
