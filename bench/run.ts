/**
 * `npm run bench [-- --quick] [--only overhead,batch,copy-memory,bundles,batch-reads,console] [--out DIR]`: runs the
 * benchmark scenarios one after another against the local runtime and the simulator at time
 * scale 1, writes `<out>/<scenario>.json` for each and `<out>/latest.md` for every result file
 * in the folder. Exit code 0 when every target is met, 1 otherwise (the files say which and why).
 */
import { join, resolve } from 'node:path';
import { parseBenchArgs, SCENARIOS } from './lib/args.ts';
import { PROJECT_ROOT } from './lib/child.ts';
import { describeMachine } from './lib/machine.ts';
import { readResults, type ScenarioResult, writeMarkdown, writeResult } from './lib/results.ts';
import type { Scenario } from './lib/scenario.ts';
import { batchScenario } from './scenarios/batch.ts';
import { batchReadsScenario } from './scenarios/batch-reads.ts';
import { bundlesScenario } from './scenarios/bundles.ts';
import { consoleScenario } from './scenarios/console.ts';
import { copyMemoryScenario } from './scenarios/copy-memory.ts';
import { overheadScenario } from './scenarios/overhead.ts';

const SCENARIO_MODULES: Record<(typeof SCENARIOS)[number], Scenario> = {
  overhead: overheadScenario,
  batch: batchScenario,
  'copy-memory': copyMemoryScenario,
  bundles: bundlesScenario,
  'batch-reads': batchReadsScenario,
  console: consoleScenario,
};

const argv = process.argv.slice(2);
const args = parseBenchArgs(argv);
const command = `npm run bench${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}`;
const outDir = resolve(PROJECT_ROOT, args.outDir);
const cacheDir = process.env.SPARK_T2I_CACHE_DIR ?? join(PROJECT_ROOT, '.spark-t2i', 'bench-cache');
const log = (line: string) =>
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);

let allMet = true;
const benchStarted = Date.now();
for (const name of args.only) {
  const scenario = SCENARIO_MODULES[name];
  const machine = describeMachine();
  const started = new Date();
  log(`${scenario.name}: start (${args.quick ? 'quick' : 'full'}, load ${machine.loadAverage1m})`);
  // What every result says of its run, whether the scenario ran or failed.
  const run = () => ({
    scenario: scenario.name,
    title: scenario.title,
    mode: args.quick ? ('quick' as const) : ('full' as const),
    command,
    date: started.toISOString(),
    durationSeconds: (Date.now() - started.getTime()) / 1000,
    machine,
  });
  let result: ScenarioResult;
  try {
    const findings = await scenario.run({ quick: args.quick, command, cacheDir, log });
    result = {
      ...run(),
      parameters: findings.parameters,
      figures: [...findings.figures],
      targets: [...findings.targets],
      notes: [...findings.notes],
    };
  } catch (error) {
    // A scenario that cannot run still reports its targets, as missed, with the error.
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    log(`${scenario.name}: failed: ${error instanceof Error ? error.stack : message}`);
    result = {
      ...run(),
      parameters: {},
      figures: [],
      targets: scenario.targetNames.map((target) => ({
        ...target,
        value: null,
        unit: '',
        met: false,
        reason: `The scenario failed: ${message}`,
        next: 'Fix the failure and run the scenario again.',
      })),
      notes: [`The scenario failed: ${message}`],
    };
  }
  const file = await writeResult(outDir, result);
  for (const target of result.targets) {
    allMet &&= target.met;
    log(
      `${scenario.name}: ${target.met ? 'met   ' : 'MISSED'} ${target.name}: ${target.value ?? 'n/a'}${target.unit ? ` ${target.unit}` : ''} (${target.target})`,
    );
  }
  log(`${scenario.name}: wrote ${file}`);
}
const markdown = await writeMarkdown(outDir, await readResults(outDir, SCENARIOS));
log(`wrote ${markdown} (${Math.round((Date.now() - benchStarted) / 1000)} s in all)`);
process.exit(allMet ? 0 : 1);
