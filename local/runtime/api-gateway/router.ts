/**
 * REST API routing over the model's routes: a literal path part wins over `{param}`, which wins
 * over `{proxy+}`.
 */
import type { ApiRoute } from '#local/runtime/api-gateway/model.ts';
import { safeDecode } from '#local/runtime/api-gateway/request.ts';

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
export class Router {
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
