/**
 * What a DynamoDB request does, in IAM's words: the action (`dynamodb:<Operation>`), the table
 * or index ARN, and the condition keys fine-grained access control reads —
 * `dynamodb:LeadingKeys` (the partition key values), `dynamodb:Attributes` (the top-level
 * attribute names the request names) and `dynamodb:ReturnValues`.
 */
import type { CfnTemplate } from '#infra/asl.ts';
import { placeholderName } from '#infra/asl.ts';
import type { RequestedAccess } from './access.ts';

/** Table name → the name of its partition key attribute (from the template's key schemas). */
export type PartitionKeys = ReadonlyMap<string, string>;

type Json = Record<string, unknown>;

/** The partition key of each table of the template, by its local name. */
export function partitionKeysOf(template: CfnTemplate): Map<string, string> {
  const keys = new Map<string, string>();
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    if (
      resource.Type !== 'AWS::DynamoDB::Table' &&
      resource.Type !== 'AWS::DynamoDB::GlobalTable'
    ) {
      continue;
    }
    const schema = resource.Properties?.KeySchema as
      | Array<{ AttributeName: string; KeyType: string }>
      | undefined;
    const hash = schema?.find((element) => element.KeyType === 'HASH');
    if (hash) keys.set(placeholderName(logicalId), hash.AttributeName);
  }
  return keys;
}

const ARN_PREFIX = 'arn:aws:dynamodb:us-east-1:000000000000:table/';

export function dynamodbAccesses(
  operation: string,
  body: Uint8Array,
  partitionKeys: PartitionKeys = new Map(),
): RequestedAccess[] {
  let input: Json;
  try {
    input = JSON.parse(Buffer.from(body).toString('utf8') || '{}') as Json;
  } catch {
    // dynalite answers SerializationException; nothing is done, so there is nothing to check.
    return [];
  }
  if (typeof input !== 'object' || input === null) return [];
  switch (operation) {
    case 'TransactWriteItems':
      return list(input.TransactItems).flatMap((item) => {
        const [kind, request] = Object.entries(item)[0] ?? [];
        const action = TRANSACT_ACTIONS[kind as string];
        return action && isObject(request) ? [itemAccess(action, request, partitionKeys)] : [];
      });
    case 'TransactGetItems':
      return list(input.TransactItems).flatMap((item) =>
        isObject(item.Get) ? [itemAccess('GetItem', item.Get, partitionKeys)] : [],
      );
    case 'BatchGetItem':
    case 'BatchWriteItem':
      return Object.keys(isObject(input.RequestItems) ? input.RequestItems : {}).map((table) => ({
        action: `dynamodb:${operation}`,
        resource: `${ARN_PREFIX}${table}`,
      }));
    case 'ListTables':
      return [{ action: 'dynamodb:ListTables', resource: '*' }];
    default:
      return [itemAccess(operation, input, partitionKeys)];
  }
}

const TRANSACT_ACTIONS: Record<string, string> = {
  Put: 'PutItem',
  Update: 'UpdateItem',
  Delete: 'DeleteItem',
  ConditionCheck: 'ConditionCheckItem',
};

function itemAccess(operation: string, input: Json, partitionKeys: PartitionKeys): RequestedAccess {
  const table = typeof input.TableName === 'string' ? input.TableName : '';
  const index = typeof input.IndexName === 'string' ? `/index/${input.IndexName}` : '';
  const names = isObject(input.ExpressionAttributeNames)
    ? (input.ExpressionAttributeNames as Record<string, string>)
    : {};
  const item = isObject(input.Key) ? input.Key : isObject(input.Item) ? input.Item : undefined;
  const attributes = new Set<string>(Object.keys(item ?? {}));
  for (const field of EXPRESSION_FIELDS) {
    const expression = input[field];
    if (typeof expression === 'string') {
      for (const name of topLevelNames(expression, names)) attributes.add(name);
    }
  }
  if (Array.isArray(input.AttributesToGet)) {
    for (const name of input.AttributesToGet) if (typeof name === 'string') attributes.add(name);
  }

  const context: Record<string, string | readonly string[]> = {
    'dynamodb:Attributes': [...attributes],
  };
  const partitionKey = partitionKeys.get(table);
  const leading = partitionKey
    ? item
      ? keyValue(item[partitionKey])
      : queriedPartition(input, partitionKey, names)
    : undefined;
  if (leading !== undefined) context['dynamodb:LeadingKeys'] = [leading];
  if (typeof input.ReturnValues === 'string') context['dynamodb:ReturnValues'] = input.ReturnValues;
  return { action: `dynamodb:${operation}`, resource: `${ARN_PREFIX}${table}${index}`, context };
}

const EXPRESSION_FIELDS = [
  'UpdateExpression',
  'ConditionExpression',
  'ProjectionExpression',
  'KeyConditionExpression',
  'FilterExpression',
] as const;

const KEYWORDS = new Set(
  ['SET', 'REMOVE', 'ADD', 'DELETE', 'AND', 'OR', 'NOT', 'BETWEEN', 'IN'].map((word) =>
    word.toLowerCase(),
  ),
);

/**
 * The top-level attribute names an expression names: `#placeholders` resolved, bare names
 * kept, nested paths (`a.b`, `a[0]`) counted as their first element, `:values` and functions
 * (`if_not_exists(…)`) left out.
 */
export function topLevelNames(expression: string, names: Record<string, string>): string[] {
  const found: string[] = [];
  const token = /([.:]?)(#?[A-Za-z_][A-Za-z0-9_]*)(\s*\()?/g;
  for (const match of expression.matchAll(token)) {
    const [, before, word, call] = match as unknown as [string, string, string, string | undefined];
    if (before !== '' || call) continue;
    if (word.startsWith('#')) {
      const name = names[word];
      if (name !== undefined) found.push(name);
    } else if (!KEYWORDS.has(word.toLowerCase())) {
      found.push(word);
    }
  }
  return found;
}

/** The partition key value a query names (`#pk = :v` in its key condition). */
function queriedPartition(
  input: Json,
  partitionKey: string,
  names: Record<string, string>,
): string | undefined {
  const condition = input.KeyConditionExpression;
  const values = isObject(input.ExpressionAttributeValues) ? input.ExpressionAttributeValues : {};
  if (typeof condition !== 'string') return undefined;
  for (const match of condition.matchAll(/(#?[A-Za-z_][A-Za-z0-9_]*)\s*=\s*(:[A-Za-z0-9_]+)/g)) {
    const [, name, value] = match as unknown as [string, string, string];
    const attribute = name.startsWith('#') ? names[name] : name;
    if (attribute === partitionKey) return keyValue(values[value]);
  }
  return undefined;
}

function keyValue(value: unknown): string | undefined {
  if (!isObject(value)) return undefined;
  const scalar = value.S ?? value.N;
  return typeof scalar === 'string' ? scalar : undefined;
}

function list(value: unknown): Json[] {
  return Array.isArray(value) ? (value.filter(isObject) as Json[]) : [];
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
