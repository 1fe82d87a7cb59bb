/**
 * A small HTTP client driven by an OpenAPI 3.1 document alone: it finds the operations in
 * `paths`, the base URL in `servers` (relative to where the document was fetched), the path,
 * query and header parameters and the body in the operation (examples first, else values derived
 * from the schemas), credentials from `security` and `securitySchemes`, and the next call from a
 * response's `links`. Every answer is checked against the response the document gives for its
 * status: the status is documented, the media type and headers are, and the body validates
 * against the schema (Ajv, JSON Schema 2020-12, with formats).
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
// A CommonJS module: its default import is module.exports, whose `default` is the plugin.
import ajvFormats from 'ajv-formats';

type Json = Record<string, unknown>;

export interface DocParameter {
  readonly name: string;
  readonly in: 'path' | 'query' | 'header' | 'cookie';
  readonly required?: boolean;
  readonly schema?: Json;
  readonly example?: unknown;
}

export interface DocResponse {
  readonly description: string;
  readonly headers?: Record<string, { schema?: Json; required?: boolean }>;
  readonly content?: Record<string, { schema?: Json }>;
  readonly links?: Record<string, { operationId: string; parameters?: Record<string, string> }>;
  readonly 'x-error-codes'?: string[];
}

export interface DocOperation {
  readonly path: string;
  readonly method: string;
  readonly operationId: string;
  readonly parameters: readonly DocParameter[];
  readonly requestBody?: {
    readonly required?: boolean;
    readonly content: Record<string, { schema?: Json; example?: unknown }>;
  };
  readonly responses: Readonly<Record<string, DocResponse>>;
  readonly security: ReadonlyArray<Record<string, string[]>>;
}

export interface CallOptions {
  /** Path, query and header parameter values, over the ones taken from the document. */
  readonly path?: Readonly<Record<string, string>>;
  readonly query?: Readonly<Record<string, string>>;
  readonly headers?: Readonly<Record<string, string>>;
  /** A JSON body instead of the document's example. */
  readonly body?: unknown;
  /** Bytes sent as they are, with this media type (none: no Content-Type). */
  readonly rawBody?: { readonly bytes: string | Uint8Array; readonly mediaType?: string };
  /** Send no credentials. */
  readonly anonymous?: boolean;
  /** Another method than the operation's (to see what the path answers to it). */
  readonly method?: string;
}

export interface DrivenAnswer {
  readonly operation: DocOperation;
  readonly method: string;
  readonly url: string;
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly body: unknown;
}

export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const DOCUMENT_ID = 'https://openapi.invalid/document.json';

export class OpenApiDriver {
  readonly document: Json;
  readonly baseUrl: string;
  readonly #credentials: Readonly<Record<string, string>>;
  readonly #ajv: Ajv2020;
  readonly #validators = new Map<string, ValidateFunction>();
  /** Warnings Ajv gave while compiling (an unknown format would be one). */
  readonly warnings: string[] = [];

  /**
   * @param documentUrl where the document was fetched: relative `servers` URLs resolve against it
   * @param credentials by security scheme name: the token of an http bearer scheme
   */
  constructor(document: Json, documentUrl: string, credentials: Readonly<Record<string, string>>) {
    this.document = document;
    const servers = (document.servers as Array<{ url: string }> | undefined) ?? [{ url: '/' }];
    this.baseUrl = new URL(servers[0]?.url ?? '/', documentUrl).href.replace(/\/$/, '');
    this.#credentials = credentials;
    this.#ajv = new Ajv2020({
      allErrors: true,
      // The document holds schemas among other things: its other keywords are not schema errors.
      strictSchema: false,
      allowUnionTypes: true,
      validateSchema: false,
      logger: {
        log: () => undefined,
        warn: (...args: unknown[]) => this.warnings.push(args.map(String).join(' ')),
        error: (...args: unknown[]) => this.warnings.push(args.map(String).join(' ')),
      },
    });
    ajvFormats.default(this.#ajv);
    this.#ajv.addSchema(document, DOCUMENT_ID);
  }

  /** Every operation of every path, with the path's parameters merged in. */
  operations(): DocOperation[] {
    const paths = this.document.paths as Record<string, Json>;
    return Object.entries(paths).flatMap(([path, item]) =>
      HTTP_METHODS.filter((method) => method in item).map((method) => {
        const operation = item[method] as Json;
        const own = (operation.parameters as DocParameter[] | undefined) ?? [];
        const shared = ((item.parameters as DocParameter[] | undefined) ?? []).filter(
          (parameter) => !own.some((o) => o.name === parameter.name && o.in === parameter.in),
        );
        return {
          path,
          method,
          operationId: String(operation.operationId),
          parameters: [...shared, ...own].map((parameter) => this.#deref(parameter)),
          ...(operation.requestBody !== undefined && {
            requestBody: this.#deref(operation.requestBody) as DocOperation['requestBody'],
          }),
          responses: operation.responses as Record<string, DocResponse>,
          security: (operation.security ?? this.document.security ?? []) as Array<
            Record<string, string[]>
          >,
        };
      }),
    );
  }

  operation(operationId: string): DocOperation {
    const found = this.operations().find((operation) => operation.operationId === operationId);
    if (found === undefined) throw new Error(`The document has no operation ${operationId}`);
    return found;
  }

  /** The methods a path has, upper case. */
  methodsOf(path: string): string[] {
    return this.operations()
      .filter((operation) => operation.path === path)
      .map((operation) => operation.method.toUpperCase());
  }

  /** Calls an operation: everything the caller does not give comes from the document. */
  async call(operationId: string, options: CallOptions = {}): Promise<DrivenAnswer> {
    const operation = this.operation(operationId);
    let path = operation.path;
    const query = new URLSearchParams();
    const headers: Record<string, string> = {};
    for (const parameter of operation.parameters) {
      const given =
        parameter.in === 'path'
          ? options.path?.[parameter.name]
          : parameter.in === 'query'
            ? options.query?.[parameter.name]
            : undefined;
      if (given === undefined && !parameter.required) continue;
      const value = given ?? String(parameter.example ?? this.sample(parameter.schema ?? {}));
      if (parameter.in === 'path') {
        path = path.replace(`{${parameter.name}}`, encodeURIComponent(value));
      } else if (parameter.in === 'query') query.set(parameter.name, value);
      else if (parameter.in === 'header') headers[parameter.name] = value;
    }
    for (const [name, value] of Object.entries(options.query ?? {})) {
      if (!query.has(name)) query.set(name, value);
    }
    if (!options.anonymous) Object.assign(headers, this.#authorization(operation));
    let body: string | Uint8Array | undefined;
    if (options.rawBody !== undefined) {
      body = options.rawBody.bytes;
      if (options.rawBody.mediaType !== undefined) {
        headers['content-type'] = options.rawBody.mediaType;
      }
    } else if (operation.requestBody !== undefined) {
      const [mediaType, media] = Object.entries(operation.requestBody.content)[0] ?? [];
      if (mediaType === undefined || media === undefined) {
        throw new Error(`${operationId} has a request body without content`);
      }
      const value = options.body ?? media.example ?? this.sample(media.schema ?? {});
      body = JSON.stringify(value);
      headers['content-type'] = mediaType;
    }
    Object.assign(headers, options.headers);
    const search = query.toString();
    const url = `${this.baseUrl}${path}${search === '' ? '' : `?${search}`}`;
    const method = (options.method ?? operation.method).toUpperCase();
    const response = await fetch(url, { method, headers, ...(body !== undefined && { body }) });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return {
      operation,
      method,
      url,
      status: response.status,
      headers: response.headers,
      text,
      body: parsed,
    };
  }

  /**
   * What is wrong with an answer, by the document: an undocumented status, media type or
   * header, or a body that does not validate. Empty when it is as documented.
   */
  problemsOf(answer: DrivenAnswer): string[] {
    const { operation } = answer;
    const status = String(answer.status);
    const where = `${answer.method} ${operation.path} answered ${status}`;
    const documented = operation.responses[status] ?? operation.responses.default;
    if (documented === undefined) return [`${where}, which the document does not list`];
    const problems: string[] = [];
    const pointer = [
      'paths',
      operation.path,
      operation.method,
      'responses',
      operation.responses[status] === undefined ? 'default' : status,
    ];
    for (const [name, header] of Object.entries(documented.headers ?? {})) {
      const value = answer.headers.get(name);
      if (value === null) {
        if (header.required) problems.push(`${where} without its header ${name}`);
        continue;
      }
      if (header.schema !== undefined) {
        const validate = this.#validator([...pointer, 'headers', name, 'schema']);
        if (!validate(value)) {
          problems.push(`${where}: header ${name}: ${this.#ajv.errorsText(validate.errors)}`);
        }
      }
    }
    const content = documented.content ?? {};
    const mediaType = answer.headers.get('content-type')?.split(';')[0]?.trim() ?? '';
    if (Object.keys(content).length === 0) {
      if (answer.text !== '') problems.push(`${where} with a body the document does not describe`);
      return problems;
    }
    if (!(mediaType in content)) {
      return [...problems, `${where} as ${mediaType || 'no media type'}, which is not documented`];
    }
    if (content[mediaType]?.schema === undefined) return problems;
    const validate = this.#validator([...pointer, 'content', mediaType, 'schema']);
    if (!validate(answer.body)) {
      problems.push(`${where}: ${this.#ajv.errorsText(validate.errors)}: ${answer.text}`);
    }
    return problems;
  }

  /** The call a link of the answer's response leads to: its operation and path values. */
  follow(
    answer: DrivenAnswer,
    link: string,
  ): { operationId: string; path: Record<string, string> } {
    const response = answer.operation.responses[String(answer.status)];
    const target = response?.links?.[link];
    if (target === undefined) {
      throw new Error(`${answer.operation.operationId} ${answer.status} has no link ${link}`);
    }
    const path: Record<string, string> = {};
    for (const [name, expression] of Object.entries(target.parameters ?? {})) {
      const pointer = /^\$response\.body#(\/.*)?$/.exec(expression);
      if (pointer === null) throw new Error(`Link expression ${expression} is not supported`);
      path[name] = String(resolvePointer(answer.body, pointer[1] ?? ''));
    }
    return { operationId: target.operationId, path };
  }

  /** A value the schema accepts: its example, const, default or enum first, else a derived one. */
  sample(schema: Json): unknown {
    const resolved = this.#deref(schema) as Json;
    if (Array.isArray(resolved.examples) && resolved.examples.length > 0) {
      return resolved.examples[0];
    }
    for (const key of ['example', 'const', 'default']) {
      if (key in resolved) return resolved[key];
    }
    if (Array.isArray(resolved.enum)) return resolved.enum[0];
    for (const key of ['anyOf', 'oneOf']) {
      if (Array.isArray(resolved[key])) return this.sample((resolved[key] as Json[])[0] ?? {});
    }
    const type = Array.isArray(resolved.type) ? resolved.type[0] : resolved.type;
    switch (type) {
      case 'object': {
        const properties = (resolved.properties ?? {}) as Record<string, Json>;
        const required = (resolved.required ?? []) as string[];
        return Object.fromEntries(
          required.map((name) => [name, this.sample(properties[name] ?? {})]),
        );
      }
      case 'array':
        return Array.from({ length: Number(resolved.minItems ?? 0) }, () =>
          this.sample((resolved.items ?? {}) as Json),
        );
      case 'integer':
      case 'number': {
        if (typeof resolved.minimum === 'number') return resolved.minimum;
        if (typeof resolved.exclusiveMinimum === 'number') return resolved.exclusiveMinimum + 1;
        return 0;
      }
      case 'boolean':
        return true;
      case 'null':
        return null;
      default:
        return sampleString(resolved);
    }
  }

  #authorization(operation: DocOperation): Record<string, string> {
    const schemes = ((this.document.components as Json | undefined)?.securitySchemes ??
      {}) as Record<string, Json>;
    // Any one requirement satisfies the operation; an empty requirement means none is needed.
    for (const requirement of operation.security) {
      const names = Object.keys(requirement);
      if (names.length === 0) return {};
      const headers: Record<string, string> = {};
      let satisfied = true;
      for (const name of names) {
        const scheme = schemes[name];
        const credential = this.#credentials[name];
        if (scheme?.type === 'http' && scheme.scheme === 'bearer' && credential !== undefined) {
          headers.authorization = `Bearer ${credential}`;
        } else {
          satisfied = false;
        }
      }
      if (satisfied) return headers;
    }
    if (operation.security.length === 0) return {};
    throw new Error(`No credentials for the security of ${operation.operationId}`);
  }

  #validator(pointer: readonly string[]): ValidateFunction {
    const ref = `${DOCUMENT_ID}#/${pointer
      .map((part) => encodeURIComponent(part.replaceAll('~', '~0').replaceAll('/', '~1')))
      .join('/')}`;
    let validate = this.#validators.get(ref);
    if (validate === undefined) {
      validate = this.#ajv.compile({ $ref: ref });
      this.#validators.set(ref, validate);
    }
    return validate;
  }

  /** A `$ref` (local to the document) followed, or the object itself. */
  #deref<T>(value: T): T {
    let current: unknown = value;
    for (let hops = 0; hops < 20; hops++) {
      const ref = (current as { $ref?: unknown } | null)?.$ref;
      if (typeof ref !== 'string') return current as T;
      if (!ref.startsWith('#')) throw new Error(`Only local references are followed: ${ref}`);
      current = resolvePointer(this.document, ref.slice(1));
    }
    throw new Error('A $ref chain is too long');
  }
}

/** A JSON pointer (`/a/b~1c`) into a value. */
function resolvePointer(value: unknown, pointer: string): unknown {
  if (pointer === '') return value;
  return pointer
    .slice(1)
    .split('/')
    .map((part) => decodeURIComponent(part).replaceAll('~1', '/').replaceAll('~0', '~'))
    .reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part], value);
}

/** A string within the schema's length, format and pattern, from a few simple candidates. */
function sampleString(schema: Json): string {
  if (schema.format === 'date-time') return new Date(0).toISOString();
  if (schema.format === 'uri') return 'https://example.invalid/';
  const min = Number(schema.minLength ?? 1);
  const max = Number(schema.maxLength ?? Number.POSITIVE_INFINITY);
  const pattern = typeof schema.pattern === 'string' ? new RegExp(schema.pattern, 'u') : undefined;
  const candidates = ['x'.repeat(Math.max(min, 1)), '1'.repeat(Math.max(min, 1)), 'example'];
  const fits = candidates.find(
    (candidate) =>
      candidate.length >= min && candidate.length <= max && (pattern?.test(candidate) ?? true),
  );
  if (fits === undefined) throw new Error(`No sample string for ${JSON.stringify(schema)}`);
  return fits;
}
