import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as Contracts from '#shared/contracts/environment.ts';
import {
  ConfigurationError,
  configShapeOf,
  environmentOf,
  readSettings,
  type Settings,
} from '#shared/contracts/setting.ts';
import * as z from '#shared/zod.ts';

const PROJECT_ROOT = join(import.meta.dirname, '..', '..', '..', '..');

/** Every declared setting, found by walking the module's exports (groups and nested groups). */
function declaredSettings(): Array<{ path: string; env: string; setting: object }> {
  const found: Array<{ path: string; env: string; setting: object }> = [];
  const walk = (value: unknown, path: string) => {
    if (typeof value !== 'object' || value === null) return;
    if ('env' in value && 'read' in value && typeof value.env === 'string') {
      found.push({ path, env: value.env, setting: value });
      return;
    }
    for (const [key, inner] of Object.entries(value)) walk(inner, `${path}.${key}`);
  };
  for (const [name, value] of Object.entries(Contracts)) walk(value, name);
  return found;
}

const customPolling: Settings<typeof Contracts.PollingSettings> = {
  ...readSettings(Contracts.PollingSettings, {}),
  expectedGenerationSeconds: 7,
  intervalSeconds: 3,
  backoffRate: 2.5,
  maxIntervalSeconds: 20,
  intervalJitter: 0.35,
  maxPolls: 50,
  maxElapsedSeconds: 900,
  firstPollPercentile: 12.5,
  learnedSamples: 0,
  recheckSeconds: 4.5,
  recheckIntervalMs: 250,
};

describe('the settings contracts', () => {
  it('declare each environment variable once (a group reuses the declaration, never a copy)', () => {
    const byName = new Map<string, Set<object>>();
    for (const { env, setting } of declaredSettings()) {
      byName.set(env, (byName.get(env) ?? new Set()).add(setting));
    }
    const declaredTwice = [...byName].filter(([, settings]) => settings.size > 1);

    expect(byName.size).toBeGreaterThan(20);
    expect(declaredTwice.map(([name]) => name)).toEqual([]);
  });

  it('read back what the stack writes, for every polling setting', () => {
    const environment = environmentOf(Contracts.PollingSettings, customPolling);

    expect(readSettings(Contracts.PollingSettings, environment)).toEqual(customPolling);
  });

  it('give each key of the stack config the default its function reads when the variable is unset', () => {
    const configured = declaredSettings().flatMap(({ path, setting }) => {
      const { config, read } = setting as { config?: z.ZodMiniType; read: z.ZodMiniType };
      const unset = read.safeParse(undefined);
      // An optional variable (the Spark paths) leaves the default to the code it configures.
      return config === undefined || !unset.success || unset.data === undefined
        ? []
        : [{ path, config: config.parse(undefined), function: unset.data }];
    });

    expect(configured.length).toBeGreaterThanOrEqual(18);
    for (const { path, config, function: fromFunction } of configured) {
      expect({ path, value: config }).toEqual({ path, value: fromFunction });
    }
  });

  it("make the stack config's polling section of exactly the polling settings", () => {
    const polling = z.strictObject(configShapeOf(Contracts.PollingSettings)).parse({});

    expect(polling).toEqual(readSettings(Contracts.PollingSettings, {}));
  });

  it('fail a read with a ConfigurationError naming each bad variable', () => {
    const read = () =>
      readSettings(Contracts.SlotSettings, { MAX_CONCURRENT_TASKS: 'ten', SLOTS_TABLE: '' });

    expect(read).toThrow(ConfigurationError);
    expect(read).toThrow(/SLOTS_TABLE: .*; MAX_CONCURRENT_TASKS: /);
  });

  it('write no variable for an optional setting left unset', () => {
    expect(
      environmentOf({ createPath: Contracts.SparkSettings.createPath }, { createPath: undefined }),
    ).toEqual({});
  });
});

describe('the stack and the functions', () => {
  const sources = ['infra', 'functions'].flatMap((folder) =>
    readdirSync(join(PROJECT_ROOT, folder), { recursive: true, encoding: 'utf8' })
      .filter((path) => path.endsWith('.ts'))
      .map((path) => join(folder, path)),
  );

  it.each(sources)(
    '%s names no environment variable in a literal (each comes from shared/contracts)',
    (path) => {
      const text = readFileSync(join(PROJECT_ROOT, path), 'utf8');
      const literalNames = [
        ...text.matchAll(/^\s+([A-Z][A-Z0-9]*_[A-Z0-9_]+):/gm),
        ...text.matchAll(/\[\s*'([A-Z][A-Z0-9]*_[A-Z0-9_]+)'\s*\]/g),
        ...text.matchAll(/process\.env\.([A-Z_]+)/g),
      ].map((match) => match[1]);

      expect(literalNames).toEqual([]);
    },
  );
});
