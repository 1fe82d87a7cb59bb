/**
 * A setting is declared once (`environment.ts`): the environment variable that carries it, how a
 * function reads that variable, and — when the stack config sets it — the config's bounds and
 * default. From a group of such declarations the stack writes a function's environment
 * (`environmentOf`), the stack config takes its schema (`configShapeOf`), and the function reads
 * and validates the whole group once, at cold start (`readSettings`), failing fast with the
 * variable's name. No AWS SDK or Powertools import: the stack and every bundle load this module.
 */
import * as z from '#shared/zod.ts';

/** A function's configuration is missing or malformed; the message names each variable. */
export class ConfigurationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConfigurationError';
  }
}

/** One variable of a function's environment. */
export interface Setting<Value, Env extends string = string, Config = undefined> {
  /** The variable's name. */
  readonly env: Env;
  /** Reads the variable's text (undefined when unset) as the value. */
  readonly read: z.ZodMiniType<Value>;
  /** The value as the variable's text. */
  readonly write: (value: Value) => string;
  /**
   * The stack config's schema of the value (bounds and default), when the config sets it: the
   * key of the setting's group is the key of the config's section.
   */
  readonly config: Config;
}

/** Any setting, whatever its value (a group holds settings of several types). */
interface AnySetting {
  readonly env: string;
  readonly read: z.ZodMiniType<unknown>;
  readonly write: (value: never) => string;
  readonly config: z.ZodMiniType<unknown> | undefined;
}

/** Settings read together by one consumer (a function, a client). */
export type SettingGroup = Readonly<Record<string, AnySetting>>;

/** The value a setting reads as. */
export type ValueOf<S> = S extends Setting<infer Value, string, unknown> ? Value : never;

/** The values of a group, by the group's keys. */
export type Settings<G> = { readonly [K in keyof G]: ValueOf<G[K]> };

/** The keys of a group that the stack config sets. */
type ConfigKeys<G> = {
  [K in keyof G]: G[K] extends { readonly config: z.ZodMiniType } ? K : never;
}[keyof G];

/** The stack config's schemas of a group's settings, by key. */
export type ConfigShape<G> = {
  readonly [K in ConfigKeys<G>]: G[K] extends { readonly config: infer Schema } ? Schema : never;
};

/**
 * Declares a setting. `read` parses the variable's text; `config`, when given, is the stack
 * config's schema of the value (its default included).
 */
export function setting<
  Value,
  const Env extends string,
  Config extends z.ZodMiniType<Value> | undefined = undefined,
>(declaration: {
  readonly env: Env;
  readonly read: z.ZodMiniType<Value>;
  readonly write?: (value: Value) => string;
  readonly config?: Config;
}): Setting<Value, Env, Config> {
  return { write: String, config: undefined as Config, ...declaration };
}

/**
 * Builds a group of declarations. Called as `/* @__PURE__ *\/ declare(() => ({...}))`, so that a
 * bundle leaves out every group its function does not read, and the zod code only they use.
 */
export function declare<Group>(declarations: () => Group): Group {
  return declarations();
}

/** A variable the stack sets from a resource (a table's name, an ARN): required, not empty. */
export function resource<const Env extends string>(env: Env): Setting<string, Env> {
  return setting({ env, read: z.string().check(z.minLength(1)) });
}

/** The config schema of a number setting: its bounds, with the function's default. */
type Bounded<Bounds> = Bounds extends z.ZodMiniType<number> ? z.ZodMiniDefault<Bounds> : undefined;

/**
 * A whole number: `fallback` when the variable is unset (required without one). `bounds`, when
 * given, makes it a setting of the stack config, with the same default.
 */
export function int<
  const Env extends string,
  Bounds extends z.ZodMiniType<number> | undefined = undefined,
>(env: Env, fallback?: number, bounds?: Bounds): Setting<number, Env, Bounded<Bounds>> {
  return setting({ env, read: envInt(fallback), config: withDefault(bounds, fallback) });
}

/** A number, possibly fractional (the local runtime scales some by its time scale). */
export function number<
  const Env extends string,
  Bounds extends z.ZodMiniType<number> | undefined = undefined,
>(env: Env, fallback: number, bounds?: Bounds): Setting<number, Env, Bounded<Bounds>> {
  return setting({ env, read: envNumber(fallback), config: withDefault(bounds, fallback) });
}

/** A comma-separated list, empty when unset. */
export function list<const Env extends string>(env: Env): Setting<string[], Env> {
  return setting({ env, read: commaList, write: (values: string[]) => values.join(',') });
}

function withDefault<Bounds extends z.ZodMiniType<number> | undefined>(
  bounds: Bounds,
  fallback: number | undefined,
): Bounded<Bounds> {
  if (bounds === undefined) return undefined as Bounded<Bounds>;
  if (fallback === undefined) throw new TypeError('A setting of the stack config needs a default');
  return z._default(bounds as z.ZodMiniType<number>, fallback) as Bounded<Bounds>;
}

/** Environment values are strings; these read them as the types the code wants. */
export const envInt = (fallback?: number) =>
  fallback === undefined
    ? z.coerce.number().check(z.int())
    : z._default(z.coerce.number().check(z.int()), fallback);
export const envNumber = (fallback: number) => z._default(z.coerce.number(), fallback);
export const envBoolean = (fallback: boolean) =>
  z.pipe(
    z._default(z.enum(['true', 'false', '1', '0']), fallback ? 'true' : 'false'),
    z.transform((value) => value === 'true' || value === '1'),
  );
/** A positive whole number, with a default. */
export const envPositiveInt = (fallback: number) =>
  z.pipe(envInt(fallback), z.int().check(z.positive()));
export const commaList = z.pipe(
  z._default(z.string(), ''),
  z.transform((list: string) =>
    list
      .split(',')
      .map((entry) => entry.trim())
      .filter(Boolean),
  ),
);

/**
 * Reads variables by name, each with its schema; a missing or malformed one fails with its name
 * (a `ConfigurationError` listing every problem).
 */
export function readEnv<Shape extends z.core.$ZodShape>(
  shape: Shape,
  env: NodeJS.ProcessEnv = process.env,
): z.output<z.ZodMiniObject<Shape>> {
  const parsed = z.object(shape).safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((issue) => `${issue.path.join('.')}: ${issue.message}`)
      .join('; ');
    throw new ConfigurationError(`Invalid function configuration: ${problems}`, {
      cause: parsed.error,
    });
  }
  return parsed.data;
}

/** Reads a group of settings from the environment, at once. */
export function readSettings<G extends SettingGroup>(
  group: G,
  env: NodeJS.ProcessEnv = process.env,
): Settings<G> {
  const entries = Object.entries(group);
  const values = readEnv(
    Object.fromEntries(entries.map(([, declared]) => [declared.env, declared.read])),
    env,
  ) as Record<string, unknown>;
  return Object.fromEntries(
    entries.map(([key, declared]) => [key, values[declared.env]]),
  ) as Settings<G>;
}

/**
 * The environment variables of a group's values, for a function's `environment`. A value left
 * undefined (an optional setting) sets no variable.
 */
export function environmentOf<G extends SettingGroup>(
  group: G,
  values: Settings<G>,
): Record<string, string> {
  const variables: Record<string, string> = {};
  for (const [key, declared] of Object.entries(group)) {
    const value = (values as Record<string, unknown>)[key];
    if (value !== undefined) variables[declared.env] = declared.write(value as never);
  }
  return variables;
}

/** The variable names of a group, by the group's keys. */
export function envNames<G extends SettingGroup>(
  group: G,
): { readonly [K in keyof G]: G[K]['env'] } {
  return Object.fromEntries(
    Object.entries(group).map(([key, declared]) => [key, declared.env]),
  ) as { readonly [K in keyof G]: G[K]['env'] };
}

/** The stack config's schemas of a group's settings (those it sets), for a config section. */
export function configShapeOf<G extends SettingGroup>(group: G): ConfigShape<G> {
  return Object.fromEntries(
    Object.entries(group).flatMap(([key, declared]) =>
      declared.config === undefined ? [] : [[key, declared.config]],
    ),
  ) as ConfigShape<G>;
}
