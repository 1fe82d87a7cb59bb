/**
 * The benchmark harness without running it: the command line, the result schema the markdown
 * writer reads, and the target checks. (The benchmark itself is `npm run bench`, not a test.)
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BenchUsageError, parseBenchArgs, SCENARIOS } from '../../../bench/lib/args.ts';
import {
  checkTarget,
  readResults,
  renderMarkdown,
  resultSchema,
  type ScenarioResult,
} from '../../../bench/lib/results.ts';

const RESULTS = join(import.meta.dirname, '..', '..', '..', 'bench', 'results');

describe('npm run bench arguments', () => {
  it('runs every scenario into bench/results by default', () => {
    expect(parseBenchArgs([])).toEqual({ quick: false, only: SCENARIOS, outDir: 'bench/results' });
  });

  it('parses the quick mode and a choice of scenarios', () => {
    expect(parseBenchArgs(['--quick', '--only', 'overhead,bundles', '--out', '/tmp/x'])).toEqual({
      quick: true,
      only: ['overhead', 'bundles'],
      outDir: '/tmp/x',
    });
  });

  it.each([[['--only', 'overheads']], [['--fast']], [['extra']]])(
    'refuses %j with a usage error',
    (argv) => {
      expect(() => parseBenchArgs(argv)).toThrow(BenchUsageError);
    },
  );
});

const machine = {
  cpuModel: 'Test CPU',
  cores: 2,
  memoryGiB: 4,
  node: 'v24.0.0',
  platform: 'linux-x64',
  loadAverage1m: 1.5,
  freeMemoryGiB: 2,
};

function sampleResult(): ScenarioResult {
  return {
    scenario: 'overhead',
    title: 'Overhead',
    mode: 'quick',
    command: 'npm run bench -- --quick',
    date: '2026-12-01T10:00:00.000Z',
    durationSeconds: 42,
    machine,
    parameters: { generations: 12 },
    figures: [{ name: 'overhead p50', variant: 'ours', value: 0.28, unit: 's' }],
    targets: [
      checkTarget({
        name: 'overhead p50 (ours)',
        value: 0.28,
        unit: 's',
        comparison: '<=',
        limit: 1,
        ifMissed: { reason: 'never', next: 'never' },
      }),
      checkTarget({
        name: '429 answers',
        value: 3,
        unit: '',
        comparison: '==',
        limit: 0,
        ifMissed: { reason: 'No cap yet.', next: 'Add the cap.' },
      }),
    ],
    notes: ['a note'],
  };
}

describe('the result files', () => {
  it('say met or missed against the target, with the reason and next step only when missed', () => {
    const [met, missed] = sampleResult().targets;
    expect(met).toEqual({
      name: 'overhead p50 (ours)',
      target: '≤ 1 s',
      value: 0.28,
      unit: 's',
      met: true,
    });
    expect(missed).toMatchObject({ met: false, reason: 'No cap yet.', next: 'Add the cap.' });
  });

  it('count a figure that could not be measured, or does not stand for the target, as missed', () => {
    const base = {
      name: 'x',
      unit: 's',
      comparison: '<=' as const,
      limit: 1,
      ifMissed: { reason: 'r', next: 'n' },
    };
    expect(checkTarget({ ...base, value: null }).met).toBe(false);
    expect(checkTarget({ ...base, value: 0.5, valid: false }).met).toBe(false);
  });

  it('refuse a missed target without its reason and next step', () => {
    const result = sampleResult();
    const bad = { ...result, targets: [{ ...result.targets[1], reason: undefined }] };
    expect(resultSchema.safeParse(result).success).toBe(true);
    expect(resultSchema.safeParse(bad).success).toBe(false);
  });

  it('render as a markdown table of targets, then each scenario with its machine and command', () => {
    const markdown = renderMarkdown([sampleResult()]);
    expect(markdown).toContain('| overhead | overhead p50 (ours) | ≤ 1 s | 0.28 s | ✅ met |  |');
    expect(markdown).toContain(
      '| overhead | 429 answers | = 0 | 3 | ❌ missed | No cap yet. Next: Add the cap. |',
    );
    expect(markdown).toContain('`npm run bench -- --quick`');
    expect(markdown).toContain('Test CPU, 2 cores, 4 GiB, Node v24.0.0');
    expect(markdown).toContain('| overhead p50 | ours | 0.28 s |  |');
  });

  it('committed in bench/results all follow the schema, and latest.md is their rendering', async () => {
    const results = await readResults(RESULTS, SCENARIOS);
    expect(results.length).toBeGreaterThan(0);
    expect(await readFile(join(RESULTS, 'latest.md'), 'utf8')).toBe(renderMarkdown(results));
  });
});
