/**
 * The result files: one `<scenario>.json` per scenario (the schema below) and `latest.md`, a
 * markdown rendering of every result file in the folder. Every figure is measured; a target
 * missed is written `met: false` with its reason and next step, never left out.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as z from 'zod';

const machineSchema = z.object({
  cpuModel: z.string(),
  cores: z.int().positive(),
  memoryGiB: z.number(),
  node: z.string(),
  platform: z.string(),
  loadAverage1m: z.number(),
  freeMemoryGiB: z.number(),
});

export const figureSchema = z.object({
  name: z.string().min(1),
  /** Which configuration it was measured with (ours, baseline…), when the scenario has several. */
  variant: z.string().optional(),
  /** null when it could not be measured (the note says why). */
  value: z.number().nullable(),
  unit: z.string(),
  note: z.string().optional(),
});

export const targetSchema = z
  .object({
    name: z.string().min(1),
    /** The target as written in the issue, e.g. "≤ 1.0 s". */
    target: z.string().min(1),
    value: z.number().nullable(),
    unit: z.string(),
    met: z.boolean(),
    /** Why it was missed, and what to do next: required when met is false. */
    reason: z.string().optional(),
    next: z.string().optional(),
  })
  .refine((target) => target.met || (Boolean(target.reason) && Boolean(target.next)), {
    message: 'a missed target must say its reason and next step',
  });

export const resultSchema = z.object({
  scenario: z.string().min(1),
  title: z.string().min(1),
  mode: z.enum(['full', 'quick']),
  /** The exact command that produced it. */
  command: z.string().min(1),
  /** When the scenario started (ISO). */
  date: z.iso.datetime(),
  durationSeconds: z.number().nonnegative(),
  machine: machineSchema,
  parameters: z.record(z.string(), z.unknown()),
  figures: z.array(figureSchema),
  targets: z.array(targetSchema),
  notes: z.array(z.string()),
});

export type Figure = z.infer<typeof figureSchema>;
export type Target = z.infer<typeof targetSchema>;
export type ScenarioResult = z.infer<typeof resultSchema>;

export interface TargetCheck {
  readonly name: string;
  readonly value: number | null;
  readonly unit: string;
  readonly comparison: '<=' | '>=' | '==';
  readonly limit: number;
  /** How the target reads, e.g. "≤ 1.0 s"; derived from comparison and limit when absent. */
  readonly target?: string;
  /** False when the figure does not stand for what the target asks (e.g. generations failed). */
  readonly valid?: boolean;
  /** Said when it is missed (and only then): why, and the next step. */
  readonly ifMissed: { readonly reason: string; readonly next: string };
}

/** Checks a measured value against its target. A value that could not be measured is missed. */
export function checkTarget(check: TargetCheck): Target {
  const { value, limit } = check;
  const met =
    check.valid !== false &&
    value !== null &&
    (check.comparison === '<='
      ? value <= limit
      : check.comparison === '>='
        ? value >= limit
        : value === limit);
  const symbol = { '<=': '≤', '>=': '≥', '==': '=' }[check.comparison];
  return {
    name: check.name,
    target: check.target ?? `${symbol} ${limit}${check.unit ? ` ${check.unit}` : ''}`,
    value,
    unit: check.unit,
    met,
    ...(!met && { reason: check.ifMissed.reason, next: check.ifMissed.next }),
  };
}

export async function writeResult(outDir: string, result: ScenarioResult): Promise<string> {
  const checked = resultSchema.parse(result);
  await mkdir(outDir, { recursive: true });
  const file = join(outDir, `${checked.scenario}.json`);
  await writeFile(file, `${JSON.stringify(checked, null, 2)}\n`);
  return file;
}

/** Every result file of the folder, checked against the schema, in scenario order. */
export async function readResults(
  outDir: string,
  order: readonly string[] = [],
): Promise<ScenarioResult[]> {
  const names = (await readdir(outDir).catch(() => [] as string[])).filter((name) =>
    name.endsWith('.json'),
  );
  const results = await Promise.all(
    names.map(async (name) =>
      resultSchema.parse(JSON.parse(await readFile(join(outDir, name), 'utf8'))),
    ),
  );
  const rank = (scenario: string) => {
    const index = order.indexOf(scenario);
    return index === -1 ? order.length : index;
  };
  return results.sort((a, b) => rank(a.scenario) - rank(b.scenario));
}

export async function writeMarkdown(outDir: string, results: readonly ScenarioResult[]) {
  const file = join(outDir, 'latest.md');
  await writeFile(file, renderMarkdown(results));
  return file;
}

/** The markdown table of all results: targets first, then each scenario's figures. */
export function renderMarkdown(results: readonly ScenarioResult[]): string {
  const lines: string[] = ['# Benchmark results', ''];
  lines.push(
    'Written by `npm run bench` from the `*.json` files beside it. Every figure is measured on the',
    'machine named with it; a missed target is marked ❌ with its reason and next step.',
    '',
    '## Targets',
    '',
    '| scenario | figure | target | measured | met | reason / next step |',
    '| --- | --- | --- | --- | --- | --- |',
  );
  for (const result of results) {
    for (const target of result.targets) {
      const why = target.met ? '' : `${target.reason} Next: ${target.next}`;
      lines.push(
        row([
          result.scenario,
          target.name,
          target.target,
          withUnit(target.value, target.unit),
          target.met ? '✅ met' : '❌ missed',
          why,
        ]),
      );
    }
  }
  for (const result of results) {
    lines.push('', `## ${result.title}`, '');
    const m = result.machine;
    lines.push(
      `${result.mode} run, ${result.date}, ${Math.round(result.durationSeconds)} s: \`${result.command}\``,
      '',
      `Machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node} (${m.platform}), load average ${m.loadAverage1m} at start.`,
      '',
      `Parameters: ${Object.entries(result.parameters)
        .map(
          ([key, value]) => `${key} = ${typeof value === 'string' ? value : JSON.stringify(value)}`,
        )
        .join('; ')}`,
      '',
      '| figure | variant | value | note |',
      '| --- | --- | --- | --- |',
    );
    for (const figure of result.figures) {
      lines.push(
        row([
          figure.name,
          figure.variant ?? '',
          withUnit(figure.value, figure.unit),
          figure.note ?? '',
        ]),
      );
    }
    if (result.notes.length > 0) {
      lines.push('', ...result.notes.map((note) => `- ${note}`));
    }
  }
  return `${lines.join('\n')}\n`;
}

function withUnit(value: number | null, unit: string): string {
  if (value === null) return 'not measured';
  return unit ? `${formatNumber(value)} ${unit}` : formatNumber(value);
}

function formatNumber(value: number): string {
  if (value === 0) return '0';
  const magnitude = Math.abs(value);
  if (magnitude >= 1000) return Math.round(value).toLocaleString('en-US');
  if (magnitude >= 1) return String(Math.round(value * 1000) / 1000);
  return String(Number(value.toPrecision(3)));
}

function row(cells: readonly string[]): string {
  return `| ${cells.map((cell) => cell.replaceAll('|', '\\|').replaceAll('\n', ' ')).join(' | ')} |`;
}
